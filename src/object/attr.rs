//! The attribute table: each attribute's value shape, and per object class the attributes it
//! has with the rule flags of the spec's attribute footnotes (PKCS#11 3.2 §4.1, Table 10).

use super::Value;
use cryptoki_sys::*;
use std::sync::OnceLock;

/// The C shape of an attribute's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Ulong,
    Bytes,
    /// CK_DATE: 8 bytes or empty.
    Date,
    MechList,
    Template,
}

/// The shape of `ty`, or `None` when oxihsm does not know the attribute.
pub fn kind_of(ty: CK_ATTRIBUTE_TYPE) -> Option<Kind> {
    use Kind::*;
    Some(match ty {
        CKA_TOKEN
        | CKA_PRIVATE
        | CKA_MODIFIABLE
        | CKA_COPYABLE
        | CKA_DESTROYABLE
        | CKA_TRUSTED
        | CKA_SENSITIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_SIGN
        | CKA_SIGN_RECOVER
        | CKA_VERIFY
        | CKA_VERIFY_RECOVER
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_LOCAL
        | CKA_NEVER_EXTRACTABLE
        | CKA_ALWAYS_SENSITIVE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_ENCAPSULATE
        | CKA_DECAPSULATE => Bool,
        CKA_CLASS
        | CKA_KEY_TYPE
        | CKA_CERTIFICATE_TYPE
        | CKA_CERTIFICATE_CATEGORY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM
        | CKA_VALUE_LEN
        | CKA_KEY_GEN_MECHANISM
        | CKA_MODULUS_BITS
        | CKA_VALUE_BITS
        | CKA_PRIME_BITS
        | CKA_SUBPRIME_BITS
        | CKA_PARAMETER_SET
        | CKA_TRUST_SERVER_AUTH
        | CKA_TRUST_CLIENT_AUTH
        | CKA_TRUST_CODE_SIGNING
        | CKA_TRUST_EMAIL_PROTECTION
        | CKA_TRUST_IPSEC_IKE
        | CKA_TRUST_TIME_STAMPING
        | CKA_TRUST_OCSP_SIGNING
        | CKA_PROFILE_ID => Ulong,
        CKA_LABEL
        | CKA_APPLICATION
        | CKA_VALUE
        | CKA_OBJECT_ID
        | CKA_ISSUER
        | CKA_SERIAL_NUMBER
        | CKA_SUBJECT
        | CKA_ID
        | CKA_URL
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_HASH_OF_CERTIFICATE
        | CKA_CHECK_VALUE
        | CKA_PUBLIC_KEY_INFO
        | CKA_UNIQUE_ID
        | CKA_MODULUS
        | CKA_PUBLIC_EXPONENT
        | CKA_PRIVATE_EXPONENT
        | CKA_PRIME_1
        | CKA_PRIME_2
        | CKA_EXPONENT_1
        | CKA_EXPONENT_2
        | CKA_COEFFICIENT
        | CKA_EC_PARAMS
        | CKA_EC_POINT
        | CKA_PRIME
        | CKA_SUBPRIME
        | CKA_BASE
        | CKA_SEED => Bytes,
        CKA_START_DATE | CKA_END_DATE => Date,
        CKA_ALLOWED_MECHANISMS => MechList,
        CKA_WRAP_TEMPLATE
        | CKA_UNWRAP_TEMPLATE
        | CKA_DERIVE_TEMPLATE
        | CKA_ENCAPSULATE_TEMPLATE
        | CKA_DECAPSULATE_TEMPLATE => Template,
        _ => return None,
    })
}

/// Whether `ty` is an attribute the specification defines that no oxihsm object carries
/// (hardware features, OTP, GOST, profiles, validation objects,
/// X2Ratchet, HSS, SLH-DSA ...): a search naming one finds nothing rather than failing.
pub fn is_standard_unmodelled(ty: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(
        ty,
        CKA_OWNER
            | CKA_AC_ISSUER
            | CKA_ATTR_TYPES
            | CKA_SECONDARY_AUTH
            | CKA_AUTH_PIN_FLAGS
            | CKA_OTP_FORMAT
            | CKA_OTP_LENGTH
            | CKA_OTP_TIME_INTERVAL
            | CKA_OTP_USER_FRIENDLY_MODE
            | CKA_OTP_CHALLENGE_REQUIREMENT
            | CKA_OTP_TIME_REQUIREMENT
            | CKA_OTP_COUNTER_REQUIREMENT
            | CKA_OTP_PIN_REQUIREMENT
            | CKA_OTP_COUNTER
            | CKA_OTP_TIME
            | CKA_OTP_USER_IDENTIFIER
            | CKA_OTP_SERVICE_IDENTIFIER
            | CKA_OTP_SERVICE_LOGO
            | CKA_OTP_SERVICE_LOGO_TYPE
            | CKA_GOSTR3410_PARAMS
            | CKA_GOSTR3411_PARAMS
            | CKA_GOST28147_PARAMS
            | CKA_HW_FEATURE_TYPE
            | CKA_RESET_ON_INIT
            | CKA_HAS_RESET
            | CKA_PIXEL_X
            | CKA_PIXEL_Y
            | CKA_RESOLUTION
            | CKA_CHAR_ROWS
            | CKA_CHAR_COLUMNS
            | CKA_COLOR
            | CKA_BITS_PER_PIXEL
            | CKA_CHAR_SETS
            | CKA_ENCODING_METHODS
            | CKA_MIME_TYPES
            | CKA_MECHANISM_TYPE
            | CKA_REQUIRED_CMS_ATTRIBUTES
            | CKA_DEFAULT_CMS_ATTRIBUTES
            | CKA_SUPPORTED_CMS_ATTRIBUTES
            | CKA_X2RATCHET_BAG
            | CKA_X2RATCHET_BAGSIZE
            | CKA_X2RATCHET_BOBS1STMSG
            | CKA_X2RATCHET_CKR
            | CKA_X2RATCHET_CKS
            | CKA_X2RATCHET_DHP
            | CKA_X2RATCHET_DHR
            | CKA_X2RATCHET_DHS
            | CKA_X2RATCHET_HKR
            | CKA_X2RATCHET_HKS
            | CKA_X2RATCHET_ISALICE
            | CKA_X2RATCHET_NHKR
            | CKA_X2RATCHET_NHKS
            | CKA_X2RATCHET_NR
            | CKA_X2RATCHET_NS
            | CKA_X2RATCHET_PNS
            | CKA_X2RATCHET_RK
            | CKA_HSS_LEVELS
            | CKA_HSS_LMS_TYPE
            | CKA_HSS_LMOTS_TYPE
            | CKA_HSS_LMS_TYPES
            | CKA_HSS_LMOTS_TYPES
            | CKA_HSS_KEYS_REMAINING
            | CKA_OBJECT_VALIDATION_FLAGS
            | CKA_VALIDATION_TYPE
            | CKA_VALIDATION_VERSION
            | CKA_VALIDATION_LEVEL
            | CKA_VALIDATION_MODULE_ID
            | CKA_VALIDATION_FLAG
            | CKA_VALIDATION_AUTHORITY_TYPE
            | CKA_VALIDATION_COUNTRY
            | CKA_VALIDATION_CERTIFICATE_IDENTIFIER
            | CKA_VALIDATION_CERTIFICATE_URI
            | CKA_VALIDATION_VENDOR_URI
            | CKA_VALIDATION_PROFILE
            | CKA_PUBLIC_CRC64_VALUE
    )
}

/// Rule flags, named after the footnotes of the spec's Table 10.
pub mod rule {
    /// 1: must be specified when created with C_CreateObject.
    pub const REQ_CREATE: u16 = 1 << 0;
    /// 2: must not be specified when created with C_CreateObject.
    pub const NO_CREATE: u16 = 1 << 1;
    /// 3: must be specified when generated.
    pub const REQ_GENERATE: u16 = 1 << 2;
    /// 4: must not be specified when generated.
    pub const NO_GENERATE: u16 = 1 << 3;
    /// 5: must be specified when unwrapped.
    pub const REQ_UNWRAP: u16 = 1 << 4;
    /// 6: must not be specified when unwrapped.
    pub const NO_UNWRAP: u16 = 1 << 5;
    /// 7: cannot be revealed if CKA_SENSITIVE is TRUE or CKA_EXTRACTABLE is FALSE.
    pub const SENSITIVE: u16 = 1 << 6;
    /// 8: may be modified after creation (C_SetAttributeValue, C_CopyObject).
    pub const MODIFIABLE: u16 = 1 << 7;
    /// 10: can only be set to TRUE by the SO.
    pub const SO_ONLY_TRUE: u16 = 1 << 8;
    /// 11: cannot be changed once TRUE.
    pub const STICKY_TRUE: u16 = 1 << 9;
    /// 12: cannot be changed once FALSE.
    pub const STICKY_FALSE: u16 = 1 << 10;
    /// Computed by the token: never supplied (2, 4 and 6 together).
    pub const COMPUTED: u16 = NO_CREATE | NO_GENERATE | NO_UNWRAP;
}

use rule::*;

/// How an attribute is filled when the template omits it.
#[derive(Clone, Copy, Debug)]
pub enum Fill {
    /// Left absent (reading it gives CKR_ATTRIBUTE_TYPE_INVALID), or required.
    None,
    Bool(bool),
    Ulong(CK_ULONG),
    EmptyBytes,
    EmptyTemplate,
    /// Filled by the policy code (unique id, computed flags, lengths).
    Computed,
}

impl Fill {
    pub fn value(self) -> Option<Value> {
        match self {
            Fill::None | Fill::Computed => None,
            Fill::Bool(b) => Some(Value::Bool(b)),
            Fill::Ulong(u) => Some(Value::Ulong(u)),
            Fill::EmptyBytes => Some(Value::bytes(Vec::new())),
            Fill::EmptyTemplate => Some(Value::Template(Vec::new())),
        }
    }
}

/// One attribute of a class: its rule flags and default.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub flags: u16,
    pub default: Fill,
}

const fn r(ty: CK_ATTRIBUTE_TYPE, flags: u16, default: Fill) -> Rule {
    Rule { ty, flags, default }
}

use Fill as D;

/// Every storage object (Table 25 and CKA_CLASS from Table 23).
pub const STORAGE: &[Rule] = &[
    r(CKA_CLASS, REQ_CREATE, D::None),
    r(CKA_TOKEN, 0, D::Bool(false)),
    r(CKA_PRIVATE, 0, D::Computed),
    r(CKA_MODIFIABLE, 0, D::Bool(true)),
    r(CKA_LABEL, MODIFIABLE, D::EmptyBytes),
    // "Can't be set to TRUE once it is set to FALSE": turned off by C_SetAttributeValue or a
    // copy, never on again.
    r(CKA_COPYABLE, MODIFIABLE | STICKY_FALSE, D::Bool(true)),
    r(CKA_DESTROYABLE, 0, D::Bool(true)),
    r(CKA_UNIQUE_ID, COMPUTED, D::Computed),
];

/// Data objects (Table 28). The table marks none of the three modifiable; the value stays
/// so (as in SoftHSMv2, and applications rewrite their data), the application and object
/// identifier that say what the data is are fixed at creation (CKR_ATTRIBUTE_READ_ONLY).
pub const DATA: &[Rule] = &[
    r(CKA_APPLICATION, 0, D::EmptyBytes),
    r(CKA_OBJECT_ID, 0, D::EmptyBytes),
    r(CKA_VALUE, MODIFIABLE, D::EmptyBytes),
];

/// Every certificate (Table 30).
pub const CERTIFICATE: &[Rule] = &[
    r(CKA_CERTIFICATE_TYPE, REQ_CREATE, D::None),
    r(CKA_TRUSTED, SO_ONLY_TRUE, D::Bool(false)),
    r(CKA_CERTIFICATE_CATEGORY, 0, D::Ulong(CK_CERTIFICATE_CATEGORY_UNSPECIFIED)),
    r(CKA_CHECK_VALUE, 0, D::None),
    r(CKA_START_DATE, MODIFIABLE, D::EmptyBytes),
    r(CKA_END_DATE, MODIFIABLE, D::EmptyBytes),
    r(CKA_PUBLIC_KEY_INFO, 0, D::EmptyBytes),
];

/// X.509 public-key certificates (Table 32).
pub const X509: &[Rule] = &[
    r(CKA_SUBJECT, REQ_CREATE, D::None),
    r(CKA_ID, MODIFIABLE, D::EmptyBytes),
    r(CKA_ISSUER, MODIFIABLE, D::EmptyBytes),
    r(CKA_SERIAL_NUMBER, MODIFIABLE, D::EmptyBytes),
    r(CKA_VALUE, REQ_CREATE, D::None),
    r(CKA_URL, 0, D::EmptyBytes),
    r(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0, D::EmptyBytes),
    r(CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0, D::EmptyBytes),
    r(CKA_JAVA_MIDP_SECURITY_DOMAIN, 0, D::Ulong(CK_SECURITY_DOMAIN_UNSPECIFIED)),
    r(CKA_NAME_HASH_ALGORITHM, 0, D::Ulong(CKM_SHA_1)),
];

/// The trust values (CK_TRUST) a trust object gives its certificate, one per usage.
pub const TRUST_USAGES: [CK_ATTRIBUTE_TYPE; 7] = [
    CKA_TRUST_SERVER_AUTH,
    CKA_TRUST_CLIENT_AUTH,
    CKA_TRUST_CODE_SIGNING,
    CKA_TRUST_EMAIL_PROTECTION,
    CKA_TRUST_IPSEC_IKE,
    CKA_TRUST_TIME_STAMPING,
    CKA_TRUST_OCSP_SIGNING,
];

/// Trust objects (PKCS#11 3.2 §4.7): which certificate (issuer and serial number, required;
/// its hash) and its trust for each usage, unknown unless given. The specification marks
/// none modifiable; the trust values are (the class defaults CKA_MODIFIABLE to true, and
/// changing a certificate's trust is what the object is for), the certificate's identity is
/// not.
pub const TRUST: &[Rule] = &[
    r(CKA_ISSUER, REQ_CREATE, D::None),
    r(CKA_SERIAL_NUMBER, REQ_CREATE, D::None),
    r(CKA_HASH_OF_CERTIFICATE, 0, D::EmptyBytes),
    r(CKA_NAME_HASH_ALGORITHM, 0, D::Ulong(CKM_SHA_1)),
    r(CKA_TRUST_SERVER_AUTH, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_CLIENT_AUTH, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_CODE_SIGNING, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_EMAIL_PROTECTION, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_IPSEC_IKE, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_TIME_STAMPING, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
    r(CKA_TRUST_OCSP_SIGNING, MODIFIABLE, D::Ulong(CKT_TRUST_UNKNOWN as CK_ULONG)),
];

/// Every key (Table 37).
pub const KEY: &[Rule] = &[
    r(CKA_KEY_TYPE, REQ_CREATE | REQ_UNWRAP, D::None),
    r(CKA_ID, MODIFIABLE, D::EmptyBytes),
    r(CKA_START_DATE, MODIFIABLE, D::EmptyBytes),
    r(CKA_END_DATE, MODIFIABLE, D::EmptyBytes),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(true)),
    r(CKA_LOCAL, COMPUTED, D::Computed),
    r(CKA_KEY_GEN_MECHANISM, COMPUTED, D::Computed),
    // Absent unless given: absent, the key has every mechanism its type takes; given, the
    // list (an empty one too: none) is all it has (the specification: "a list of mechanisms
    // allowed to be used with this key").
    r(CKA_ALLOWED_MECHANISMS, 0, D::None),
];

/// Every secret key (Table 49). Usage flags default to TRUE (DESIGN §10).
pub const SECRET_KEY: &[Rule] = &[
    r(CKA_SENSITIVE, MODIFIABLE | STICKY_TRUE, D::Bool(true)),
    r(CKA_ENCRYPT, MODIFIABLE, D::Bool(true)),
    r(CKA_DECRYPT, MODIFIABLE, D::Bool(true)),
    r(CKA_SIGN, MODIFIABLE, D::Bool(true)),
    r(CKA_VERIFY, MODIFIABLE, D::Bool(true)),
    r(CKA_WRAP, MODIFIABLE, D::Bool(true)),
    r(CKA_UNWRAP, MODIFIABLE, D::Bool(true)),
    r(CKA_EXTRACTABLE, MODIFIABLE | STICKY_FALSE, D::Bool(false)),
    r(CKA_ALWAYS_SENSITIVE, COMPUTED, D::Computed),
    r(CKA_NEVER_EXTRACTABLE, COMPUTED, D::Computed),
    r(CKA_CHECK_VALUE, 0, D::None),
    r(CKA_WRAP_WITH_TRUSTED, MODIFIABLE | STICKY_TRUE, D::Bool(false)),
    r(CKA_TRUSTED, MODIFIABLE | SO_ONLY_TRUE, D::Bool(false)),
    r(CKA_WRAP_TEMPLATE, 0, D::EmptyTemplate),
    r(CKA_UNWRAP_TEMPLATE, 0, D::EmptyTemplate),
    r(CKA_DERIVE_TEMPLATE, 0, D::EmptyTemplate),
];

/// Secret keys holding their value in CKA_VALUE (AES Table 206, generic secret Table 185).
pub const VALUE_KEY: &[Rule] = &[
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_VALUE_LEN, NO_CREATE | REQ_GENERATE, D::Computed),
];

/// Every public key (Table 41). Usage defaults are set per key type below.
pub const PUBLIC_KEY: &[Rule] = &[
    r(CKA_PRIVATE, 0, D::Bool(false)),
    r(CKA_SUBJECT, MODIFIABLE, D::EmptyBytes),
    r(CKA_ENCRYPT, MODIFIABLE, D::Bool(false)),
    r(CKA_VERIFY, MODIFIABLE, D::Bool(true)),
    r(CKA_VERIFY_RECOVER, MODIFIABLE, D::Bool(false)),
    r(CKA_WRAP, MODIFIABLE, D::Bool(false)),
    r(CKA_TRUSTED, MODIFIABLE | SO_ONLY_TRUE, D::Bool(false)),
    r(CKA_WRAP_TEMPLATE, 0, D::EmptyTemplate),
    // Computed, but a creation may give it: keys::complete checks it is this key's.
    r(CKA_PUBLIC_KEY_INFO, NO_GENERATE | NO_UNWRAP, D::Computed),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(false)),
];

/// Every private key (Table 45).
pub const PRIVATE_KEY: &[Rule] = &[
    r(CKA_SUBJECT, MODIFIABLE, D::EmptyBytes),
    r(CKA_SENSITIVE, MODIFIABLE | STICKY_TRUE, D::Bool(true)),
    r(CKA_DECRYPT, MODIFIABLE, D::Bool(false)),
    r(CKA_SIGN, MODIFIABLE, D::Bool(true)),
    r(CKA_SIGN_RECOVER, MODIFIABLE, D::Bool(false)),
    r(CKA_UNWRAP, MODIFIABLE, D::Bool(false)),
    r(CKA_EXTRACTABLE, MODIFIABLE | STICKY_FALSE, D::Bool(false)),
    r(CKA_ALWAYS_SENSITIVE, COMPUTED, D::Computed),
    r(CKA_NEVER_EXTRACTABLE, COMPUTED, D::Computed),
    r(CKA_WRAP_WITH_TRUSTED, MODIFIABLE | STICKY_TRUE, D::Bool(false)),
    r(CKA_UNWRAP_TEMPLATE, 0, D::EmptyTemplate),
    r(CKA_DERIVE_TEMPLATE, 0, D::EmptyTemplate),
    r(CKA_ALWAYS_AUTHENTICATE, 0, D::Bool(false)),
    r(CKA_PUBLIC_KEY_INFO, NO_GENERATE | NO_UNWRAP, D::Computed),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(false)),
];

/// RSA public keys (Table 140): encrypt, verify, recover and wrap by default.
pub const RSA_PUBLIC: &[Rule] = &[
    r(CKA_MODULUS, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_MODULUS_BITS, NO_CREATE | REQ_GENERATE, D::Computed),
    r(CKA_PUBLIC_EXPONENT, REQ_CREATE, D::Computed),
    r(CKA_ENCRYPT, MODIFIABLE, D::Bool(true)),
    r(CKA_VERIFY_RECOVER, MODIFIABLE, D::Bool(true)),
    r(CKA_WRAP, MODIFIABLE, D::Bool(true)),
];

/// RSA private keys (Table 141): decrypt, sign, recover and unwrap by default.
pub const RSA_PRIVATE: &[Rule] = &[
    r(CKA_MODULUS, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_PUBLIC_EXPONENT, NO_GENERATE | NO_UNWRAP, D::Computed),
    r(CKA_PRIVATE_EXPONENT, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_PRIME_1, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_PRIME_2, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_EXPONENT_1, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_EXPONENT_2, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_COEFFICIENT, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_MODULUS_BITS, COMPUTED, D::Computed),
    r(CKA_DECRYPT, MODIFIABLE, D::Bool(true)),
    r(CKA_SIGN_RECOVER, MODIFIABLE, D::Bool(true)),
    r(CKA_UNWRAP, MODIFIABLE, D::Bool(true)),
];

/// EC public keys (Table 173): verify (and, for Montgomery keys, derive — see below).
pub const EC_PUBLIC: &[Rule] =
    &[r(CKA_EC_PARAMS, REQ_CREATE | REQ_GENERATE, D::None), r(CKA_EC_POINT, REQ_CREATE | NO_GENERATE, D::None)];

/// EC private keys (Table 174): sign and derive by default.
pub const EC_PRIVATE: &[Rule] = &[
    r(CKA_EC_PARAMS, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_EC_POINT, COMPUTED, D::Computed),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(true)),
];

/// DSA public keys (Table 180): the domain parameters and y; verify.
pub const DSA_PUBLIC: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE, D::None),
];

/// DSA private keys (Table 181): the domain parameters and x; sign.
pub const DSA_PRIVATE: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
];

/// PKCS #3 Diffie-Hellman public keys (Table 189): the prime, the base and y; no usage.
pub const DH_PUBLIC: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_VERIFY, MODIFIABLE, D::Bool(false)),
];

/// Diffie-Hellman private keys (Table 190): the prime, the base, x and its length in bits;
/// derive only.
pub const DH_PRIVATE: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_VALUE_BITS, NO_CREATE | NO_UNWRAP, D::Computed),
    r(CKA_SIGN, MODIFIABLE, D::Bool(false)),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(true)),
];

/// X9.42 Diffie-Hellman public keys: the prime, the base, the subprime and y; no usage.
pub const X942_PUBLIC: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_VERIFY, MODIFIABLE, D::Bool(false)),
];

/// X9.42 Diffie-Hellman private keys: the domain parameters and x; derive only.
pub const X942_PRIVATE: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | NO_GENERATE | NO_UNWRAP, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_SIGN, MODIFIABLE, D::Bool(false)),
    r(CKA_DERIVE, MODIFIABLE, D::Bool(true)),
];

/// Every domain parameter object (Table 35).
pub const DOMAIN: &[Rule] = &[r(CKA_KEY_TYPE, REQ_CREATE, D::None), r(CKA_LOCAL, COMPUTED, D::Computed)];

/// DSA domain parameters (Table 182): generated from CKA_PRIME_BITS, or given.
pub const DSA_DOMAIN: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_PRIME_BITS, NO_CREATE | REQ_GENERATE, D::Computed),
];

/// PKCS #3 Diffie-Hellman domain parameters (Table 191).
pub const DH_DOMAIN: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_PRIME_BITS, NO_CREATE | REQ_GENERATE, D::Computed),
];

/// X9.42 Diffie-Hellman domain parameters: generated from CKA_PRIME_BITS and
/// CKA_SUBPRIME_BITS (the section's generation takes both), or given.
pub const X942_DOMAIN: &[Rule] = &[
    r(CKA_PRIME, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_BASE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_SUBPRIME, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_PRIME_BITS, NO_CREATE | REQ_GENERATE, D::Computed),
    r(CKA_SUBPRIME_BITS, NO_CREATE | REQ_GENERATE, D::Computed),
];

/// Short Weierstrass and Montgomery public keys take ECDH as a KEM (3.2 §6.3), RSA public
/// keys RSA PKCS #1 v1.5 and OAEP (§6.1): they may encapsulate, as any public key may be used
/// by anyone.
pub const KEM_PUBLIC: &[Rule] =
    &[r(CKA_ENCAPSULATE, MODIFIABLE, D::Bool(true)), r(CKA_ENCAPSULATE_TEMPLATE, 0, D::EmptyTemplate)];

/// Their private keys decapsulate by default as they derive or unwrap by default.
pub const KEM_PRIVATE: &[Rule] =
    &[r(CKA_DECAPSULATE, MODIFIABLE, D::Bool(true)), r(CKA_DECAPSULATE_TEMPLATE, 0, D::EmptyTemplate)];

/// Montgomery keys (X25519) only derive.
pub const MONTGOMERY_PUBLIC: &[Rule] =
    &[r(CKA_VERIFY, MODIFIABLE, D::Bool(false)), r(CKA_DERIVE, MODIFIABLE, D::Bool(true))];
pub const MONTGOMERY_PRIVATE: &[Rule] = &[r(CKA_SIGN, MODIFIABLE, D::Bool(false))];

/// Edwards keys (Ed25519) only sign.
pub const EDWARDS_PRIVATE: &[Rule] = &[r(CKA_DERIVE, MODIFIABLE, D::Bool(false))];

/// ML-DSA public keys (PKCS#11 3.2 §6.67): the parameter set and the encoded key; verify.
pub const ML_DSA_PUBLIC: &[Rule] =
    &[r(CKA_PARAMETER_SET, REQ_CREATE | REQ_GENERATE, D::None), r(CKA_VALUE, REQ_CREATE | NO_GENERATE, D::None)];

/// ML-DSA private keys: the expanded key in CKA_VALUE, the seed it came from (when known)
/// in CKA_SEED; a created key gives either or both. Sign only.
pub const ML_DSA_PRIVATE: &[Rule] = &[
    r(CKA_PARAMETER_SET, REQ_CREATE, D::None),
    r(CKA_VALUE, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_SEED, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
];

/// ML-KEM public keys (PKCS#11 3.2 §6.68): encapsulate only.
pub const ML_KEM_PUBLIC: &[Rule] = &[
    r(CKA_PARAMETER_SET, REQ_CREATE | REQ_GENERATE, D::None),
    r(CKA_VALUE, REQ_CREATE | NO_GENERATE, D::None),
    r(CKA_VERIFY, MODIFIABLE, D::Bool(false)),
    r(CKA_ENCAPSULATE, MODIFIABLE, D::Bool(true)),
    r(CKA_ENCAPSULATE_TEMPLATE, 0, D::EmptyTemplate),
];

/// ML-KEM private keys: the decapsulation key and (when known) its seed d || z;
/// decapsulate only.
pub const ML_KEM_PRIVATE: &[Rule] = &[
    r(CKA_PARAMETER_SET, REQ_CREATE, D::None),
    r(CKA_VALUE, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_SEED, NO_GENERATE | NO_UNWRAP | SENSITIVE, D::None),
    r(CKA_SIGN, MODIFIABLE, D::Bool(false)),
    r(CKA_DECAPSULATE, MODIFIABLE, D::Bool(true)),
    r(CKA_DECAPSULATE_TEMPLATE, 0, D::EmptyTemplate),
];

/// Secret key types whose material is CKA_VALUE.
pub const VALUE_KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_AES,
    CKK_AES_XTS,
    CKK_DES,
    CKK_DES2,
    CKK_DES3,
    CKK_CHACHA20,
    CKK_POLY1305,
    CKK_GENERIC_SECRET,
    CKK_MD5_HMAC,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA512_224_HMAC,
    CKK_SHA512_256_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
    CKK_HKDF,
];

/// The rules of one kind of object: its tables merged, each attribute once (a later, more
/// specific table's rule wins), in ascending order of type.
pub struct Schema {
    rules: Vec<Rule>,
}

impl Schema {
    fn merge(tables: &[&'static [Rule]]) -> Schema {
        let mut rules: Vec<Rule> = Vec::new();
        for rule in tables.iter().rev().flat_map(|t| t.iter()) {
            if !rules.iter().any(|r| r.ty == rule.ty) {
                rules.push(*rule);
            }
        }
        rules.sort_by_key(|r| r.ty);
        Schema { rules }
    }

    /// The rule for `ty`, if objects of this kind have the attribute.
    pub fn rule(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<Rule> {
        self.rules.binary_search_by_key(&ty, |r| r.ty).ok().map(|i| self.rules[i])
    }

    /// Every rule, in ascending order of type.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// A schema with no attributes (objects oxihsm does not support).
pub static NO_SCHEMA: Schema = Schema { rules: Vec::new() };

/// The rule tables that apply to an object of `class` with `subtype` (key or certificate
/// type), and the number of that combination; `None` when oxihsm does not support such
/// objects.
fn tables(class: CK_OBJECT_CLASS, subtype: Option<CK_ULONG>) -> Option<(usize, &'static [&'static [Rule]])> {
    Some(match (class, subtype) {
        (CKO_DATA, _) => (0, &[STORAGE, DATA]),
        (CKO_CERTIFICATE, Some(CKC_X_509)) => (1, &[STORAGE, CERTIFICATE, X509]),
        (CKO_PUBLIC_KEY, Some(CKK_RSA)) => (2, &[STORAGE, KEY, PUBLIC_KEY, RSA_PUBLIC, KEM_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_RSA)) => (3, &[STORAGE, KEY, PRIVATE_KEY, RSA_PRIVATE, KEM_PRIVATE]),
        (CKO_PUBLIC_KEY, Some(CKK_EC)) => (4, &[STORAGE, KEY, PUBLIC_KEY, EC_PUBLIC, KEM_PUBLIC]),
        (CKO_PUBLIC_KEY, Some(CKK_EC_EDWARDS)) => (21, &[STORAGE, KEY, PUBLIC_KEY, EC_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_EC)) => (5, &[STORAGE, KEY, PRIVATE_KEY, EC_PRIVATE, KEM_PRIVATE]),
        (CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS)) => (6, &[STORAGE, KEY, PRIVATE_KEY, EC_PRIVATE, EDWARDS_PRIVATE]),
        (CKO_PUBLIC_KEY, Some(CKK_EC_MONTGOMERY)) => {
            (7, &[STORAGE, KEY, PUBLIC_KEY, EC_PUBLIC, MONTGOMERY_PUBLIC, KEM_PUBLIC])
        }
        (CKO_PRIVATE_KEY, Some(CKK_EC_MONTGOMERY)) => {
            (8, &[STORAGE, KEY, PRIVATE_KEY, EC_PRIVATE, MONTGOMERY_PRIVATE, KEM_PRIVATE])
        }
        (CKO_SECRET_KEY, Some(kt)) if VALUE_KEY_TYPES.contains(&kt) => (9, &[STORAGE, KEY, SECRET_KEY, VALUE_KEY]),
        (CKO_PUBLIC_KEY, Some(CKK_ML_DSA)) => (10, &[STORAGE, KEY, PUBLIC_KEY, ML_DSA_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_ML_DSA)) => (11, &[STORAGE, KEY, PRIVATE_KEY, ML_DSA_PRIVATE]),
        (CKO_PUBLIC_KEY, Some(CKK_ML_KEM)) => (12, &[STORAGE, KEY, PUBLIC_KEY, ML_KEM_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_ML_KEM)) => (13, &[STORAGE, KEY, PRIVATE_KEY, ML_KEM_PRIVATE]),
        (CKO_PUBLIC_KEY, Some(CKK_DSA)) => (14, &[STORAGE, KEY, PUBLIC_KEY, DSA_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_DSA)) => (15, &[STORAGE, KEY, PRIVATE_KEY, DSA_PRIVATE]),
        (CKO_PUBLIC_KEY, Some(CKK_DH)) => (16, &[STORAGE, KEY, PUBLIC_KEY, DH_PUBLIC, KEM_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_DH)) => (17, &[STORAGE, KEY, PRIVATE_KEY, DH_PRIVATE, KEM_PRIVATE]),
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DSA)) => (18, &[STORAGE, DOMAIN, DSA_DOMAIN]),
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DH)) => (19, &[STORAGE, DOMAIN, DH_DOMAIN]),
        (CKO_TRUST, _) => (20, &[STORAGE, TRUST]),
        (CKO_PUBLIC_KEY, Some(CKK_X9_42_DH)) => (22, &[STORAGE, KEY, PUBLIC_KEY, X942_PUBLIC, KEM_PUBLIC]),
        (CKO_PRIVATE_KEY, Some(CKK_X9_42_DH)) => (23, &[STORAGE, KEY, PRIVATE_KEY, X942_PRIVATE, KEM_PRIVATE]),
        (CKO_DOMAIN_PARAMETERS, Some(CKK_X9_42_DH)) => (24, &[STORAGE, DOMAIN, X942_DOMAIN]),
        _ => return None,
    })
}

/// The schema of an object of `class` with `subtype` (key or certificate type), merged once
/// per process. `None` when oxihsm does not support such objects.
pub fn schema(class: CK_OBJECT_CLASS, subtype: Option<CK_ULONG>) -> Option<&'static Schema> {
    static MERGED: [OnceLock<Schema>; 25] = [const { OnceLock::new() }; 25];
    let (i, t) = tables(class, subtype)?;
    Some(MERGED[i].get_or_init(|| Schema::merge(t)))
}

/// The attribute naming the subtype of `class`, if it has one.
pub fn subtype_attr(class: CK_OBJECT_CLASS) -> Option<CK_ATTRIBUTE_TYPE> {
    match class {
        CKO_CERTIFICATE => Some(CKA_CERTIFICATE_TYPE),
        CKO_SECRET_KEY | CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_DOMAIN_PARAMETERS => Some(CKA_KEY_TYPE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_kind() {
        for t in [
            STORAGE,
            DATA,
            CERTIFICATE,
            X509,
            KEY,
            SECRET_KEY,
            VALUE_KEY,
            PUBLIC_KEY,
            PRIVATE_KEY,
            RSA_PUBLIC,
            RSA_PRIVATE,
            EC_PUBLIC,
            EC_PRIVATE,
            KEM_PUBLIC,
            KEM_PRIVATE,
            ML_DSA_PUBLIC,
            ML_DSA_PRIVATE,
            ML_KEM_PUBLIC,
            ML_KEM_PRIVATE,
            DSA_PUBLIC,
            DSA_PRIVATE,
            DH_PUBLIC,
            DH_PRIVATE,
            DOMAIN,
            DSA_DOMAIN,
            DH_DOMAIN,
            TRUST,
            X942_PUBLIC,
            X942_PRIVATE,
            X942_DOMAIN,
        ] {
            for r in t {
                assert!(kind_of(r.ty).is_some(), "attribute 0x{:x} lacks a kind", r.ty);
            }
        }
    }

    #[test]
    fn merged_schemas_keep_the_most_specific_rule() {
        let kinds = [
            (CKO_DATA, None),
            (CKO_CERTIFICATE, Some(CKC_X_509)),
            (CKO_PUBLIC_KEY, Some(CKK_RSA)),
            (CKO_PRIVATE_KEY, Some(CKK_RSA)),
            (CKO_PUBLIC_KEY, Some(CKK_EC)),
            (CKO_PRIVATE_KEY, Some(CKK_EC)),
            (CKO_PUBLIC_KEY, Some(CKK_EC_EDWARDS)),
            (CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS)),
            (CKO_PUBLIC_KEY, Some(CKK_EC_MONTGOMERY)),
            (CKO_PRIVATE_KEY, Some(CKK_EC_MONTGOMERY)),
            (CKO_SECRET_KEY, Some(CKK_AES)),
            (CKO_PUBLIC_KEY, Some(CKK_ML_DSA)),
            (CKO_PRIVATE_KEY, Some(CKK_ML_DSA)),
            (CKO_PUBLIC_KEY, Some(CKK_ML_KEM)),
            (CKO_PRIVATE_KEY, Some(CKK_ML_KEM)),
            (CKO_PUBLIC_KEY, Some(CKK_DSA)),
            (CKO_PRIVATE_KEY, Some(CKK_DSA)),
            (CKO_PUBLIC_KEY, Some(CKK_DH)),
            (CKO_PRIVATE_KEY, Some(CKK_DH)),
            (CKO_DOMAIN_PARAMETERS, Some(CKK_DSA)),
            (CKO_DOMAIN_PARAMETERS, Some(CKK_DH)),
            (CKO_TRUST, None),
            (CKO_PUBLIC_KEY, Some(CKK_X9_42_DH)),
            (CKO_PRIVATE_KEY, Some(CKK_X9_42_DH)),
            (CKO_DOMAIN_PARAMETERS, Some(CKK_X9_42_DH)),
        ];
        let mut seen = std::collections::HashSet::new();
        for (class, sub) in kinds {
            let (i, t) = tables(class, sub).unwrap();
            assert!(seen.insert(i), "combination number {i} used twice");
            let s = schema(class, sub).unwrap();
            assert!(s.rules().windows(2).all(|w| w[0].ty < w[1].ty));
            for rule in t.iter().flat_map(|t| t.iter()) {
                // The last table naming the attribute decides.
                let want = t.iter().rev().flat_map(|t| t.iter()).find(|r| r.ty == rule.ty).unwrap();
                let got = s.rule(rule.ty).unwrap();
                assert_eq!(
                    (got.ty, got.flags, format!("{:?}", got.default)),
                    (want.ty, want.flags, format!("{:?}", want.default))
                );
            }
            assert_eq!(
                s.rules().len(),
                t.iter().flat_map(|t| t.iter()).map(|r| r.ty).collect::<std::collections::HashSet<_>>().len()
            );
        }
    }

    #[test]
    fn later_tables_override() {
        let s = schema(CKO_SECRET_KEY, Some(CKK_AES)).unwrap();
        assert!(s.rule(CKA_VALUE).unwrap().flags & SENSITIVE != 0);
        let d = schema(CKO_DATA, None).unwrap();
        assert!(d.rule(CKA_VALUE).unwrap().flags & SENSITIVE == 0);
        assert!(d.rule(CKA_KEY_TYPE).is_none());
    }
}
