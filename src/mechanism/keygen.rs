//! Secret key generation (PKCS#11 3.2 §5.14 C_GenerateKey): AES, AES-XTS, Triple DES,
//! ChaCha20, generic secrets, HKDF keys and the HMAC key types of the SHA-1/SHA-2/SHA-3 key generation
//! mechanisms; secret keys from a password (CKM_PKCS5_PBKD2, PBKDF2 with an HMAC-SHA-1/SHA-2
//! PRF); DSA and DH domain parameters.

use super::kdf::{derived_len, key_type, value_len};
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info, lookup};
use crate::crypto::{self, evp::Hash};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Bytes, Value};
use cryptoki_sys::*;

/// What a key generation entry makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyGen {
    Aes,
    /// An AES-XTS key: two AES keys of 16 or 32 bytes, CKA_VALUE_LEN 32 or 64.
    AesXts,
    /// A key of a type with one length (Triple DES, with odd parity; ChaCha20).
    Fixed(CK_KEY_TYPE),
    /// A key of CKA_VALUE_LEN random bytes, of this type (CKM_GENERIC_SECRET_KEY_GEN,
    /// CKM_HKDF_KEY_GEN).
    Generic(CK_KEY_TYPE),
    /// An HMAC key of this type; CKA_VALUE_LEN defaults to the hash length.
    Hmac(CK_KEY_TYPE, Hash),
    /// A secret key of the template's type (generic secret by default) from a password
    /// (CKM_PKCS5_PBKD2).
    Pbkdf2,
    /// DSA or PKCS #3 DH domain parameters (a CKO_DOMAIN_PARAMETERS object) of CKA_PRIME_BITS.
    DomainParams(CK_KEY_TYPE),
    /// A TLS pre-master secret (CKM_TLS_PRE_MASTER_KEY_GEN): a 48-byte generic secret
    /// whose first two bytes are the parameter's version (RFC 5246 §7.4.7.1).
    TlsPreMaster,
    /// A key of this type from a password by the PKCS #12 derivation over SHA-1
    /// (CKM_PBE_SHA1_DES3_EDE_CBC, CKM_PBE_SHA1_DES2_EDE_CBC: with an IV; and
    /// CKM_PBA_SHA1_WITH_SHA1_HMAC: a 160-bit generic secret).
    Pkcs12(CK_KEY_TYPE),
}

const HMAC_GENS: [(CK_MECHANISM_TYPE, CK_KEY_TYPE, Hash); 11] = [
    (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC, Hash::Sha1),
    (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC, Hash::Sha224),
    (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC, Hash::Sha256),
    (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC, Hash::Sha384),
    (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC, Hash::Sha512),
    (CKM_SHA512_224_KEY_GEN, CKK_SHA512_224_HMAC, Hash::Sha512_224),
    (CKM_SHA512_256_KEY_GEN, CKK_SHA512_256_HMAC, Hash::Sha512_256),
    (CKM_SHA3_224_KEY_GEN, CKK_SHA3_224_HMAC, Hash::Sha3_224),
    (CKM_SHA3_256_KEY_GEN, CKK_SHA3_256_HMAC, Hash::Sha3_256),
    (CKM_SHA3_384_KEY_GEN, CKK_SHA3_384_HMAC, Hash::Sha3_384),
    (CKM_SHA3_512_KEY_GEN, CKK_SHA3_512_HMAC, Hash::Sha3_512),
];

/// The HMAC key type of `hash` (CKK_SHA256_HMAC for SHA-256 ...).
pub(super) fn hmac_key_type(hash: Hash) -> Option<CK_KEY_TYPE> {
    HMAC_GENS.iter().find(|(_, _, h)| *h == hash).map(|(_, kt, _)| *kt)
}

/// The length of CKM_PBA_SHA1_WITH_SHA1_HMAC's key (160 bits).
const PBA_KEY_LEN: usize = 20;

/// Largest generic secret or HMAC key generated, in bytes.
const MAX_SECRET: usize = 512;

pub fn register(r: &mut Registry) {
    let entry = |ty, min, max, kg| Entry {
        ty,
        info: info(min, max, CKF_GENERATE),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyGen(kg),
    };
    r.add(entry(CKM_AES_KEY_GEN, 16, 32, KeyGen::Aes));
    r.add(entry(CKM_AES_XTS_KEY_GEN, 32, 64, KeyGen::AesXts));
    for (ty, kt) in [
        (CKM_DES_KEY_GEN, CKK_DES),
        (CKM_DES2_KEY_GEN, CKK_DES2),
        (CKM_DES3_KEY_GEN, CKK_DES3),
        (CKM_CHACHA20_KEY_GEN, CKK_CHACHA20),
        (CKM_POLY1305_KEY_GEN, CKK_POLY1305),
    ] {
        let n = policy::fixed_value_len(kt).unwrap_or_default() as CK_ULONG;
        r.add(entry(ty, n, n, KeyGen::Fixed(kt)));
    }
    // The specification gives CKM_GENERIC_SECRET_KEY_GEN's key sizes in bits (AES key
    // generation's are in bytes).
    r.add(entry(CKM_GENERIC_SECRET_KEY_GEN, 8, (MAX_SECRET * 8) as CK_ULONG, KeyGen::Generic(CKK_GENERIC_SECRET)));
    // CKM_HKDF_KEY_GEN (3.0's HKDF section): a CKK_HKDF key, CKA_VALUE_LEN required; its
    // sizes are not said to be bits, so bytes, as the HMAC key generations'.
    r.add(entry(CKM_HKDF_KEY_GEN, 1, MAX_SECRET as CK_ULONG, KeyGen::Generic(CKK_HKDF)));
    for (ty, kt, hash) in HMAC_GENS {
        r.add(entry(ty, 1, MAX_SECRET as CK_ULONG, KeyGen::Hmac(kt, hash)));
    }
    for (ty, kt, len) in [
        (CKM_PBE_SHA1_DES3_EDE_CBC, CKK_DES3, 24),
        (CKM_PBE_SHA1_DES2_EDE_CBC, CKK_DES2, 16),
        (CKM_PBA_SHA1_WITH_SHA1_HMAC, CKK_GENERIC_SECRET, PBA_KEY_LEN as CK_ULONG),
    ] {
        r.add(Entry {
            ty,
            info: info(len, len, CKF_GENERATE),
            params: ParamShape::Pbe,
            key_types: &[],
            implementation: Implementation::KeyGen(KeyGen::Pkcs12(kt)),
        });
    }
    r.add(Entry {
        ty: CKM_PKCS5_PBKD2,
        info: info(1, super::kdf::MAX_DERIVED_LEN as CK_ULONG, CKF_GENERATE),
        params: ParamShape::Pbkdf2,
        key_types: &[],
        implementation: Implementation::KeyGen(KeyGen::Pbkdf2),
    });
    use crate::crypto::{dh, dsa};
    let dsa_bits = (dsa::MIN_P_BITS as CK_ULONG, dsa::MAX_P_BITS as CK_ULONG);
    r.add(entry(CKM_DSA_PARAMETER_GEN, dsa_bits.0, dsa_bits.1, KeyGen::DomainParams(CKK_DSA)));
    r.add(entry(CKM_X9_42_DH_PARAMETER_GEN, dsa_bits.0, dsa_bits.1, KeyGen::DomainParams(CKK_X9_42_DH)));
    let dh_bits = (dh::MIN_PRIME_BITS as CK_ULONG, dh::MAX_PRIME_BITS as CK_ULONG);
    r.add(entry(CKM_DH_PKCS_PARAMETER_GEN, dh_bits.0, dh_bits.1, KeyGen::DomainParams(CKK_DH)));
}

impl Module {
    /// C_GenerateKey: the new key, and the 8-byte IV a PKCS #12 PBE mechanism gives back
    /// with it (CK_PBE_PARAMS's pInitVector; none for CKM_PBA_SHA1_WITH_SHA1_HMAC and the
    /// other mechanisms).
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        template: &[Attribute],
    ) -> Result<(CK_OBJECT_HANDLE, Option<[u8; 8]>)> {
        let kg = match lookup(m.ty).map(|e| e.implementation) {
            Some(Implementation::KeyGen(kg)) => kg,
            _ => return Err(Error::MechanismInvalid),
        };
        if let (KeyGen::Pkcs12(kt), Params::Pbe { password, salt, iterations }) = (kg, &m.params) {
            // The MAC key is a 160-bit generic secret, or the SHA-1 HMAC key it is for when
            // the template says so.
            // The diversifier: 3 for the MAC key, 1 for the DES keys (their IVs are 2).
            let id = if kt == CKK_GENERIC_SECRET { 3 } else { 1 };
            let kt = match (kt, super::kdf::key_type(template)) {
                (CKK_GENERIC_SECRET, CKK_SHA_1_HMAC) => CKK_SHA_1_HMAC,
                _ => kt,
            };
            // The key type's length; another CKA_VALUE_LEN is inconsistent with the mechanism.
            let len = policy::fixed_value_len(kt).unwrap_or(PBA_KEY_LEN);
            if value_len(template).is_some_and(|n| n != len) {
                return Err(Error::TemplateInconsistent);
            }
            // The session and template checked first: the derivation takes as many hashes as
            // the caller's iteration count.
            self.check_generated_template(h, CKO_SECRET_KEY, kt, m.ty, &with_value_len(template, len))?;
            let iv = if id == 1 {
                let mut iv = [0u8; 8];
                crypto::evp::pkcs12_kdf(&password.0, salt, 2, *iterations, &mut iv)?;
                Some(iv)
            } else {
                None
            };
            let mut value = Bytes::new(vec![0u8; len]);
            crypto::evp::pkcs12_kdf(&password.0, salt, id, *iterations, &mut value)?;
            return Ok((self.create_secret(h, template, kt, m.ty, value)?, iv));
        }
        self.generate_secret(h, m, template, kg).map(|k| (k, None))
    }

    /// C_GenerateKey but the PKCS #12 PBE mechanisms: `kg` is the mechanism's kind.
    fn generate_secret(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        template: &[Attribute],
        kg: KeyGen,
    ) -> Result<CK_OBJECT_HANDLE> {
        if let Params::Pbkdf2 { .. } = &m.params {
            return self.generate_from_password(h, m, template);
        }
        if let (KeyGen::TlsPreMaster, Params::Version(major, minor)) = (kg, &m.params) {
            // A generic secret of 48 bytes (the SSL section): another CKA_VALUE_LEN is
            // inconsistent with the mechanism (another key type too: object assembly refuses
            // it, as for every generated key).
            if value_len(template).is_some_and(|n| n != 48) {
                return Err(Error::TemplateInconsistent);
            }
            let mut value = crypto::random_vec(48)?;
            value[..2].copy_from_slice(&[*major, *minor]);
            return self.create_secret(h, template, CKK_GENERIC_SECRET, m.ty, Bytes::new(value));
        }
        if m.params != Params::None || matches!(kg, KeyGen::Pbkdf2 | KeyGen::TlsPreMaster | KeyGen::Pkcs12(_)) {
            return Err(Error::MechanismParamInvalid);
        }
        if let KeyGen::DomainParams(kt) = kg {
            return self.generate_domain_parameters(h, m.ty, kt, template);
        }
        let (key_type, len) = match kg {
            KeyGen::Aes => {
                let n = value_len(template).ok_or(Error::TemplateIncomplete)?;
                if !policy::value_len_ok(CKK_AES, n) {
                    return Err(Error::AttributeValueInvalid);
                }
                (CKK_AES, n)
            }
            KeyGen::AesXts => {
                let n = value_len(template).ok_or(Error::TemplateIncomplete)?;
                if !policy::value_len_ok(CKK_AES_XTS, n) {
                    return Err(Error::AttributeValueInvalid);
                }
                (CKK_AES_XTS, n)
            }
            KeyGen::Fixed(kt) => {
                // The length is the key type's; a CKA_VALUE_LEN given must be it.
                let n = policy::fixed_value_len(kt).ok_or(Error::MechanismInvalid)?;
                if value_len(template).is_some_and(|v| v != n) {
                    return Err(Error::TemplateInconsistent);
                }
                (kt, n)
            }
            KeyGen::Generic(kt) => {
                let n = value_len(template).ok_or(Error::TemplateIncomplete)?;
                if !(1..=MAX_SECRET).contains(&n) {
                    return Err(Error::AttributeValueInvalid);
                }
                (kt, n)
            }
            KeyGen::Hmac(kt, hash) => {
                let n = value_len(template).unwrap_or(hash.output_len());
                if !(1..=MAX_SECRET).contains(&n) {
                    return Err(Error::AttributeValueInvalid);
                }
                (kt, n)
            }
            KeyGen::DomainParams(_) | KeyGen::Pbkdf2 | KeyGen::TlsPreMaster | KeyGen::Pkcs12(_) => {
                return Err(Error::MechanismInvalid);
            }
        };
        self.create_secret(h, template, key_type, m.ty, Bytes::new(crypto::random_vec(len)?))
    }

    /// Makes the generated secret key `value` of `key_type`: a Triple DES key gets odd
    /// parity, and CKA_VALUE_LEN (which a generated key's template must have) its length
    /// when the template has none.
    fn create_secret(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[Attribute],
        key_type: CK_KEY_TYPE,
        mechanism: CK_MECHANISM_TYPE,
        mut value: Bytes,
    ) -> Result<CK_OBJECT_HANDLE> {
        super::des::set_parity_for(key_type, &mut value);
        let template = with_value_len(template, value.len());
        let material = vec![Attribute::new(CKA_VALUE, Value::Bytes(value))];
        let origin = Origin::Generate { class: CKO_SECRET_KEY, key_type, mechanism, material };
        self.create_with(h, &template, origin)
    }

    /// CKM_PKCS5_PBKD2: a secret key of the template's type and length (CKA_VALUE_LEN, or
    /// the type's one length) from the parameter's password by PBKDF2 with HMAC over its PRF.
    fn generate_from_password(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let Params::Pbkdf2 { prf, salt, iterations, password } = &m.params else {
            return Err(Error::MechanismParamInvalid);
        };
        let key_type = key_type(template);
        let len = derived_len(template, None)?;
        // Refused before the (deliberately slow) derivation, as creation would refuse them.
        self.check_generated_template(h, CKO_SECRET_KEY, key_type, m.ty, &with_value_len(template, len))?;
        if !policy::value_len_ok(key_type, len) {
            return Err(Error::AttributeValueInvalid);
        }
        let mut value = Bytes::new(vec![0u8; len]);
        crypto::evp::pbkdf2(*prf, &password.0, salt, *iterations, &mut value)?;
        self.create_secret(h, template, key_type, m.ty, value)
    }

    /// CKM_DSA_PARAMETER_GEN / CKM_DH_PKCS_PARAMETER_GEN / CKM_X9_42_DH_PARAMETER_GEN: a
    /// domain parameter object of `key_type` with a prime of the template's CKA_PRIME_BITS.
    fn generate_domain_parameters(
        &self,
        h: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_TYPE,
        key_type: CK_KEY_TYPE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        // The template first: a generation takes up to seconds.
        self.check_generated_template(h, CKO_DOMAIN_PARAMETERS, key_type, mechanism, template)?;
        let bits = match template.iter().find(|a| a.ty == CKA_PRIME_BITS).map(|a| &a.value) {
            Some(Value::Ulong(n)) => *n as usize,
            Some(_) => return Err(Error::AttributeValueInvalid),
            None => return Err(Error::TemplateIncomplete),
        };
        let bytes = |ty, v: Vec<u8>| Attribute::new(ty, Value::bytes(v));
        let material = if matches!(key_type, CKK_DSA | CKK_X9_42_DH) {
            // X9.42 Diffie-Hellman domain parameters have DSA's shape; the subprime's size
            // is AWS-LC's choice for the prime's (256 bits from 2048, else 160): a template
            // asking another is inconsistent, told before the generation.
            let q_bits = if bits >= 2048 { 256 } else { 160 };
            match template.iter().find(|a| a.ty == CKA_SUBPRIME_BITS).map(|a| &a.value) {
                Some(Value::Ulong(n)) if *n as usize != q_bits => return Err(Error::TemplateInconsistent),
                Some(Value::Ulong(_)) | None => {}
                Some(_) => return Err(Error::AttributeValueInvalid),
            }
            let (p, q, g) = crate::crypto::dsa::DsaKey::generate_parameters(bits)?;
            vec![bytes(CKA_PRIME, p), bytes(CKA_SUBPRIME, q), bytes(CKA_BASE, g)]
        } else {
            let (p, g) = crate::crypto::dh::DhKey::generate_parameters(bits)?;
            vec![bytes(CKA_PRIME, p), bytes(CKA_BASE, g)]
        };
        let origin = Origin::Generate { class: CKO_DOMAIN_PARAMETERS, key_type, mechanism, material };
        self.create_with(h, template, origin)
    }
}

/// `template` with CKA_VALUE_LEN `len` when it gives none (a generated secret key's template
/// must have one).
fn with_value_len(template: &[Attribute], len: usize) -> Vec<Attribute> {
    let mut template = template.to_vec();
    if !template.iter().any(|a| a.ty == CKA_VALUE_LEN) {
        template.push(Attribute::new(CKA_VALUE_LEN, Value::Ulong(len as CK_ULONG)));
    }
    template
}
