//! Key derivation (PKCS#11 3.2 §5.16 C_DeriveKey): AES_ECB/CBC_ENCRYPT_DATA, the
//! concatenation, XOR and extraction mechanisms, the SHA-1/SHA-2/SHA-3 and SHAKE key
//! derivations, and HKDF (RFC 5869; CKM_HKDF_DERIVE and CKM_HKDF_DATA). Derived keys take CKA_ALWAYS_SENSITIVE/CKA_NEVER_EXTRACTABLE from their
//! base key, and the base key's CKA_DERIVE_TEMPLATE is imposed on the new one.

use super::digest::DIGESTS;
use super::keys::ParsedKey;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::{CipherCtx, DigestCtx, Hash, HmacCtx, Mode};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::attr::VALUE_KEY_TYPES;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Value};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// What a derivation entry computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kdf {
    AesEcbData,
    AesCbcData,
    Des3EcbData,
    Des3CbcData,
    BaseAndKey,
    BaseAndData,
    DataAndBase,
    XorData,
    Extract,
    /// HKDF; `data` makes a CKO_DATA object (CKM_HKDF_DATA).
    Hkdf {
        data: bool,
    },
    /// CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE on NIST curves (cofactor 1) and X25519.
    Ecdh,
    /// CKM_DH_PKCS_DERIVE (PKCS #3).
    Dh,
    /// `CKM_<hash>_KEY_DERIVATION`: the base key's value digested once.
    HashKey(Hash),
    /// CKM_SHAKE_128/256_KEY_DERIVATION: the base key's value through SHAKE256 (true) or
    /// SHAKE128, as long as the key asked.
    Shake(bool),
    /// The IKE derivations (src/mechanism/ike.rs).
    Ike,
    /// CKM_X9_42_DH_DERIVE and CKM_X9_42_DH_HYBRID_DERIVE (ANSI X9.42, RFC 2631).
    X942,
}

/// How an HKDF salt is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Salt {
    Null,
    Data(Vec<u8>),
    Key(CK_OBJECT_HANDLE),
}

pub fn register(r: &mut Registry) {
    let d = |ty, min, max, params, key_types, kdf| Entry {
        ty,
        info: info(min, max, CKF_DERIVE),
        params,
        key_types,
        implementation: Implementation::Kdf(kdf),
    };
    r.add(d(CKM_AES_ECB_ENCRYPT_DATA, 16, 32, ParamShape::DerivationData, &[CKK_AES], Kdf::AesEcbData));
    r.add(d(CKM_AES_CBC_ENCRYPT_DATA, 16, 32, ParamShape::AesCbcData, &[CKK_AES], Kdf::AesCbcData));
    let des3 = super::des::KEY_TYPES;
    r.add(d(CKM_DES3_ECB_ENCRYPT_DATA, 16, 24, ParamShape::DerivationData, des3, Kdf::Des3EcbData));
    r.add(d(CKM_DES3_CBC_ENCRYPT_DATA, 16, 24, ParamShape::Des3CbcData, des3, Kdf::Des3CbcData));
    // Single DES the same way (the parameters have the DES3 layout: an 8-byte IV).
    let des = super::des::DES_KEY_TYPES;
    r.add(d(CKM_DES_ECB_ENCRYPT_DATA, 8, 8, ParamShape::DerivationData, des, Kdf::Des3EcbData));
    r.add(d(CKM_DES_CBC_ENCRYPT_DATA, 8, 8, ParamShape::Des3CbcData, des, Kdf::Des3CbcData));
    r.add(d(CKM_CONCATENATE_BASE_AND_KEY, 0, 0, ParamShape::Handle, VALUE_KEY_TYPES, Kdf::BaseAndKey));
    r.add(d(CKM_CONCATENATE_BASE_AND_DATA, 0, 0, ParamShape::DerivationData, VALUE_KEY_TYPES, Kdf::BaseAndData));
    r.add(d(CKM_CONCATENATE_DATA_AND_BASE, 0, 0, ParamShape::DerivationData, VALUE_KEY_TYPES, Kdf::DataAndBase));
    r.add(d(CKM_XOR_BASE_AND_DATA, 0, 0, ParamShape::DerivationData, VALUE_KEY_TYPES, Kdf::XorData));
    r.add(d(CKM_EXTRACT_KEY_FROM_KEY, 0, 0, ParamShape::Ulong, VALUE_KEY_TYPES, Kdf::Extract));
    // HKDF takes a CKK_HKDF or CKK_GENERIC_SECRET input key (the HKDF section), of any
    // length (RFC 5869's IKM: TLS 1.3 feeds it ECDH secrets shorter than the hash).
    const HKDF_KEY_TYPES: &[CK_KEY_TYPE] = &[CKK_GENERIC_SECRET, CKK_HKDF];
    r.add(d(CKM_HKDF_DERIVE, 0, 0, ParamShape::Hkdf, HKDF_KEY_TYPES, Kdf::Hkdf { data: false }));
    r.add(d(CKM_HKDF_DATA, 0, 0, ParamShape::Hkdf, HKDF_KEY_TYPES, Kdf::Hkdf { data: true }));
    for (ty, hash) in HASH_KEY_DERIVATIONS {
        r.add(d(ty, 0, 0, ParamShape::None, VALUE_KEY_TYPES, Kdf::HashKey(hash)));
    }
    r.add(d(CKM_SHAKE_128_KEY_DERIVATION, 0, 0, ParamShape::None, VALUE_KEY_TYPES, Kdf::Shake(false)));
    r.add(d(CKM_SHAKE_256_KEY_DERIVATION, 0, 0, ParamShape::None, VALUE_KEY_TYPES, Kdf::Shake(true)));
    // Also a KEM (3.2): C_EncapsulateKey makes an ephemeral key pair, its public value the
    // ciphertext (src/mechanism/pqc.rs).
    for ty in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
        let flags = CKF_DERIVE | CKF_ENCAPSULATE | CKF_DECAPSULATE;
        r.add(Entry {
            ty,
            info: info(224, 521, flags | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS),
            params: ParamShape::Ecdh,
            key_types: &[CKK_EC, CKK_EC_MONTGOMERY],
            implementation: Implementation::Kdf(Kdf::Ecdh),
        });
    }
    // PKCS #3 Diffie-Hellman: the key sizes are those of the prime, in bits.
    let (min, max) = (crate::crypto::dh::MIN_PRIME_BITS as CK_ULONG, crate::crypto::dh::MAX_PRIME_BITS as CK_ULONG);
    // Also a KEM (the Diffie-Hellman section): C_EncapsulateKey makes an ephemeral pair, its
    // public value the ciphertext (src/mechanism/pqc.rs).
    let kem = |e: Entry| Entry {
        info: info(e.info.ulMinKeySize, e.info.ulMaxKeySize, CKF_DERIVE | CKF_ENCAPSULATE | CKF_DECAPSULATE),
        ..e
    };
    r.add(kem(d(CKM_DH_PKCS_DERIVE, min, max, ParamShape::Bytes, &[CKK_DH], Kdf::Dh)));
    // The base key's type is checked against the PRF the parameter names (src/mechanism/ike.rs).
    for (ty, params) in [
        (CKM_IKE_PRF_DERIVE, ParamShape::IkePrf),
        (CKM_IKE1_PRF_DERIVE, ParamShape::Ike1Prf),
        (CKM_IKE2_PRF_PLUS_DERIVE, ParamShape::Ike2PrfPlus),
        (CKM_IKE1_EXTENDED_DERIVE, ParamShape::Ike1Extended),
    ] {
        r.add(d(ty, 0, 0, params, VALUE_KEY_TYPES, Kdf::Ike));
    }
    // X9.42 Diffie-Hellman: keys of DSA's shape; the sizes are the prime's, in bits.
    let (min, max) = (crate::crypto::dsa::MIN_P_BITS as CK_ULONG, crate::crypto::dsa::MAX_P_BITS as CK_ULONG);
    r.add(kem(d(CKM_X9_42_DH_DERIVE, min, max, ParamShape::X942Dh1, &[CKK_X9_42_DH], Kdf::X942)));
    r.add(d(CKM_X9_42_DH_HYBRID_DERIVE, min, max, ParamShape::X942Dh2, &[CKK_X9_42_DH], Kdf::X942));
    r.add(Entry {
        ty: CKM_X9_42_DH_KEY_PAIR_GEN,
        info: info(min, max, CKF_GENERATE_KEY_PAIR),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyPair(super::keypair::PairKind::X942),
    });
    let (min, max) = (crate::crypto::dh::MIN_PRIME_BITS as CK_ULONG, crate::crypto::dh::MAX_PRIME_BITS as CK_ULONG);
    r.add(Entry {
        ty: CKM_DH_PKCS_KEY_PAIR_GEN,
        info: info(min, max, CKF_GENERATE_KEY_PAIR),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyPair(super::keypair::PairKind::Dh),
    });
}

/// The key derivations by digesting a key's value (the 3.2 specification's section on them).
const HASH_KEY_DERIVATIONS: [(CK_MECHANISM_TYPE, Hash); 11] = [
    (CKM_SHA1_KEY_DERIVATION, Hash::Sha1),
    (CKM_SHA224_KEY_DERIVATION, Hash::Sha224),
    (CKM_SHA256_KEY_DERIVATION, Hash::Sha256),
    (CKM_SHA384_KEY_DERIVATION, Hash::Sha384),
    (CKM_SHA512_KEY_DERIVATION, Hash::Sha512),
    (CKM_SHA512_224_KEY_DERIVATION, Hash::Sha512_224),
    (CKM_SHA512_256_KEY_DERIVATION, Hash::Sha512_256),
    (CKM_SHA3_224_KEY_DERIVATION, Hash::Sha3_224),
    (CKM_SHA3_256_KEY_DERIVATION, Hash::Sha3_256),
    (CKM_SHA3_384_KEY_DERIVATION, Hash::Sha3_384),
    (CKM_SHA3_512_KEY_DERIVATION, Hash::Sha3_512),
];

/// An agreed secret as the derived value: all of it, or the rightmost CKA_VALUE_LEN bytes
/// (ECDH with CKD_NULL, PKCS #3 DH: "truncation removes bytes from the leading end").
pub(crate) fn rightmost(mut z: Zeroizing<Vec<u8>>, template: &[Attribute]) -> Result<Zeroizing<Vec<u8>>> {
    let n = derived_len(template, Some(z.len()))?;
    let cut = z.len() - n;
    z.drain(..cut);
    Ok(z)
}

/// The new key's value from the X9.42 shared secret `z` (the X9.42 Diffie-Hellman section's
/// CK_X9_42_DH_KDF_TYPE): the rightmost bytes of `z` with CKD_NULL (no other info), else
/// SHA-1 of `z` and a counter with the other info (CKD_SHA1_KDF_CONCATENATE: ANSI X9.42's
/// concatenation is X9.63's, ECDH's CKD_SHA1_KDF), or of `z` and the DER OtherInfo whose
/// KeySpecificInfo counter counts the blocks (CKD_SHA1_KDF_ASN1, RFC 2631 §2.1.2), as long
/// as the template asks.
pub(crate) fn x942_value(
    z: Zeroizing<Vec<u8>>,
    kdf: CK_ULONG,
    other: &[u8],
    template: &[Attribute],
) -> Result<Zeroizing<Vec<u8>>> {
    match kdf {
        CKD_NULL => ecdh_value(z, CKD_NULL, other, template),
        CKD_SHA1_KDF_CONCATENATE => ecdh_value(z, CKD_SHA1_KDF, other, template),
        CKD_SHA1_KDF_ASN1 => {
            let at = asn1_counter(other).ok_or(Error::MechanismParamInvalid)?;
            let len = derived_len(template, None)?;
            let mut info = Zeroizing::new(other.to_vec());
            let mut out = Zeroizing::new(Vec::with_capacity(len + 20));
            let mut counter = 1u32;
            while out.len() < len {
                info[at..at + 4].copy_from_slice(&counter.to_be_bytes());
                let mut d = DigestCtx::new(Hash::Sha1)?;
                d.update(&z);
                d.update(&info);
                out.extend_from_slice(&Zeroizing::new(d.finish()));
                counter += 1;
            }
            out.truncate(len);
            Ok(out)
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Where the four counter bytes of RFC 2631's OtherInfo are: SEQUENCE { KeySpecificInfo
/// SEQUENCE { algorithm OBJECT IDENTIFIER, counter OCTET STRING (SIZE (4)) }, ... }, DER.
fn asn1_counter(der: &[u8]) -> Option<usize> {
    // A DER header at `at`: (tag, where the contents start, their length).
    let header = |at: usize| -> Option<(u8, usize, usize)> {
        let tag = *der.get(at)?;
        let first = *der.get(at + 1)? as usize;
        if first < 0x80 {
            return Some((tag, at + 2, first));
        }
        let n = first & 0x7f;
        if n == 0 || n > 2 {
            return None;
        }
        let len = der.get(at + 2..at + 2 + n)?.iter().fold(0usize, |l, b| (l << 8) | *b as usize);
        Some((tag, at + 2 + n, len))
    };
    let (0x30, outer, outer_len) = header(0)? else { return None };
    if outer + outer_len != der.len() {
        return None;
    }
    let (0x30, info, _) = header(outer)? else { return None };
    let (0x06, oid, oid_len) = header(info)? else { return None };
    let (0x04, counter, 4) = header(oid + oid_len)? else { return None };
    // The counter's bytes must be there (a short element is no OtherInfo).
    der.get(counter..counter + 4).map(|_| counter)
}

/// The new key's value from the ECDH shared secret `z` (§6.3: CK_ECDH1_DERIVE_PARAMS's
/// `kdf` and shared data): the rightmost bytes of `z` with CKD_NULL, else the KDF's output,
/// as long as the template asks.
pub(crate) fn ecdh_value(
    z: Zeroizing<Vec<u8>>,
    kdf: CK_ULONG,
    shared: &[u8],
    template: &[Attribute],
) -> Result<Zeroizing<Vec<u8>>> {
    match ecdh_kdf(kdf)? {
        None if !shared.is_empty() => Err(Error::MechanismParamInvalid),
        None => rightmost(z, template),
        Some((hash, sp800)) => kdf_hash(hash, sp800, &z, shared, derived_len(template, None)?),
    }
}

/// `len` bytes of key from the ECDH shared secret `z` through `kdf` (a CKD_*) with `shared`
/// data: with CKD_NULL (no shared data) `z`'s first bytes.
pub(crate) fn ecdh_key(z: &[u8], kdf: CK_ULONG, shared: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    match ecdh_kdf(kdf)? {
        None if !shared.is_empty() => Err(Error::MechanismParamInvalid),
        None => Ok(Zeroizing::new(z.get(..len).ok_or(Error::MechanismParamInvalid)?.to_vec())),
        Some((hash, sp800)) => kdf_hash(hash, sp800, z, shared, len),
    }
}

/// An ephemeral key agreement with the public part of `recipient` (an EC or X25519 key): the
/// ephemeral public key (an uncompressed point, or X25519's 32 bytes) and the shared secret.
pub(crate) fn ephemeral_ecdh(recipient: &ParsedKey) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    match recipient {
        ParsedKey::Ec(k) => {
            let ephemeral = crate::crypto::ec::EcKey::generate(k.curve())?;
            Ok((ephemeral.point(), ephemeral.ecdh(&k.point())?))
        }
        ParsedKey::X25519 { public, .. } => {
            let (private, ephemeral) = crate::crypto::ec::x25519_generate();
            Ok((ephemeral, crate::crypto::ec::x25519(&private, public)?))
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The shared secret of the private key `k` (EC or X25519) with `peer` (an uncompressed point
/// or X25519's 32 bytes).
pub(crate) fn ecdh_with(k: &ParsedKey, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match k {
        ParsedKey::Ec(private) => private.ecdh(peer),
        ParsedKey::X25519 { private: Some(p), .. } => crate::crypto::ec::x25519(p, peer),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The hash and construction of a CKD_* key derivation function: (hash, SP 800-56A order);
/// `None` for CKD_NULL.
fn ecdh_kdf(kdf: CK_ULONG) -> Result<Option<(Hash, bool)>> {
    Ok(Some(match kdf {
        CKD_NULL => return Ok(None),
        CKD_SHA1_KDF => (Hash::Sha1, false),
        CKD_SHA224_KDF => (Hash::Sha224, false),
        CKD_SHA256_KDF => (Hash::Sha256, false),
        CKD_SHA384_KDF => (Hash::Sha384, false),
        CKD_SHA512_KDF => (Hash::Sha512, false),
        CKD_SHA3_224_KDF => (Hash::Sha3_224, false),
        CKD_SHA3_256_KDF => (Hash::Sha3_256, false),
        CKD_SHA3_384_KDF => (Hash::Sha3_384, false),
        CKD_SHA3_512_KDF => (Hash::Sha3_512, false),
        CKD_SHA1_KDF_SP800 => (Hash::Sha1, true),
        CKD_SHA224_KDF_SP800 => (Hash::Sha224, true),
        CKD_SHA256_KDF_SP800 => (Hash::Sha256, true),
        CKD_SHA384_KDF_SP800 => (Hash::Sha384, true),
        CKD_SHA512_KDF_SP800 => (Hash::Sha512, true),
        CKD_SHA3_224_KDF_SP800 => (Hash::Sha3_224, true),
        CKD_SHA3_256_KDF_SP800 => (Hash::Sha3_256, true),
        CKD_SHA3_384_KDF_SP800 => (Hash::Sha3_384, true),
        CKD_SHA3_512_KDF_SP800 => (Hash::Sha3_512, true),
        _ => return Err(Error::MechanismParamInvalid),
    }))
}

/// ANSI X9.63 (Hash(Z || counter || info)) or SP 800-56A concatenation (Hash(counter || Z ||
/// info)) key derivation of `len` bytes from the shared secret `z`.
pub fn kdf_hash(hash: Hash, sp800: bool, z: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let mut counter = 1u32;
    while out.len() < len {
        let mut d = super::digest::Engine::new(hash)?;
        if sp800 {
            d.update(&counter.to_be_bytes());
            d.update(z);
        } else {
            d.update(z);
            d.update(&counter.to_be_bytes());
        }
        d.update(info);
        out.extend_from_slice(&Zeroizing::new(d.finish()));
        counter = counter.checked_add(1).ok_or(Error::TemplateInconsistent)?;
    }
    out.truncate(len);
    Ok(out)
}

/// RFC 5869 extract.
pub fn hkdf_extract(hash: Hash, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let zeros = vec![0u8; hash.output_len()];
    let mut h = HmacCtx::new(hash, if salt.is_empty() { &zeros } else { salt })?;
    h.update(ikm);
    Ok(h.finish())
}

/// RFC 5869 expand to `len` bytes (at most 255 blocks).
pub fn hkdf_expand(hash: Hash, prk: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let n = hash.output_len();
    if len > 255 * n {
        return Err(Error::TemplateInconsistent);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + n));
    let mut t = Zeroizing::new(Vec::new());
    let mut i = 1u8;
    while out.len() < len {
        let mut h = HmacCtx::new(hash, prk)?;
        h.update(&t);
        h.update(info);
        h.update(&[i]);
        t = h.finish();
        out.extend_from_slice(&t);
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

/// The template's CKA_VALUE_LEN.
pub(crate) fn value_len(template: &[Attribute]) -> Option<usize> {
    template.iter().find(|a| a.ty == CKA_VALUE_LEN).and_then(|a| match a.value {
        Value::Ulong(n) => Some(n as usize),
        _ => None,
    })
}

pub(crate) fn key_type(template: &[Attribute]) -> CK_KEY_TYPE {
    template
        .iter()
        .find(|a| a.ty == CKA_KEY_TYPE)
        .and_then(|a| match a.value {
            Value::Ulong(k) => Some(k),
            _ => None,
        })
        .unwrap_or(CKK_GENERIC_SECRET)
}

/// The longest value a derivation makes (keys are far shorter; data objects may be longer),
/// so that an absurd CKA_VALUE_LEN is refused rather than allocated.
pub const MAX_DERIVED_LEN: usize = 64 * 1024;

/// The length of the derived value: CKA_VALUE_LEN if given (no more than the mechanism
/// yields), else the length of a key type that has one (Triple DES, ChaCha20), else what the
/// mechanism naturally yields.
pub(crate) fn derived_len(template: &[Attribute], natural: Option<usize>) -> Result<usize> {
    let fixed = crate::object::policy::fixed_value_len(key_type(template));
    match (value_len(template), natural) {
        (Some(n), Some(m)) if n > m => Err(Error::TemplateInconsistent),
        (Some(0), _) => Err(Error::AttributeValueInvalid),
        (Some(n), _) if n > MAX_DERIVED_LEN => Err(Error::AttributeValueInvalid),
        (Some(n), _) => Ok(n),
        (None, Some(m)) if fixed.is_some_and(|f| f > m) => Err(Error::TemplateInconsistent),
        (None, _) if fixed.is_some() => Ok(fixed.unwrap_or_default()),
        (None, Some(m)) => Ok(m),
        (None, None) => Err(Error::TemplateIncomplete),
    }
}

/// Makes the template's `ty` `value`, whatever the caller gave (a protection a derivation
/// imposes).
pub(crate) fn force(template: &mut Vec<Attribute>, ty: CK_ATTRIBUTE_TYPE, value: Value) {
    template.retain(|a| a.ty != ty);
    template.push(Attribute::new(ty, value));
}

/// The template of a key derived from `base`: the caller's, with the base key's
/// CKA_DERIVE_TEMPLATE imposed on it.
pub(crate) fn imposed_template(base: &crate::object::Object, template: &[Attribute]) -> Result<Vec<Attribute>> {
    match base.get(CKA_DERIVE_TEMPLATE) {
        Some(Value::Template(t)) => policy::merge_template(template, t),
        _ => policy::merge_template(template, &[]),
    }
}

impl Module {
    /// C_DeriveKey.
    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        base: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        // Any private key, whatever its CKA_DERIVE (the mechanism's section).
        if super::pubkey::is_public_from_private(m) {
            return self.public_from_private(h, base, template);
        }
        let (entry, base_obj) = self.crypto_key(h, base, m, CKF_DERIVE, CKA_DERIVE)?;
        let mut template = imposed_template(&base_obj, template)?;
        let kdf = match entry.implementation {
            Implementation::Kdf(k) => k,
            _ => return Err(Error::MechanismInvalid),
        };
        let empty = [];
        // The agreements compute with the parsed private key, not a value.
        let bv = if matches!(kdf, Kdf::Ecdh | Kdf::Dh | Kdf::X942) {
            &empty[..]
        } else {
            base_obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?
        };
        // Other keys whose values went into the new one (CKM_CONCATENATE_BASE_AND_KEY's, the
        // IKE derivations').
        let mut others = Vec::new();
        let aes_natural = |n: usize| (key_type(&template) != CKK_AES || policy::value_len_ok(CKK_AES, n)).then_some(n);
        let mut value: Zeroizing<Vec<u8>> = match (kdf, &m.params) {
            (Kdf::AesEcbData | Kdf::AesCbcData | Kdf::Des3EcbData | Kdf::Des3CbcData, p) => {
                let (mode, iv, data) = match p {
                    Params::Data(d) => (Mode::Ecb, &[][..], d),
                    Params::IvData { iv, data } => (Mode::Cbc, &iv[..], data),
                    _ => return Err(Error::MechanismParamInvalid),
                };
                let des3 = matches!(kdf, Kdf::Des3EcbData | Kdf::Des3CbcData);
                let block = if des3 { 8 } else { 16 };
                if data.is_empty() || data.len() % block != 0 {
                    return Err(Error::MechanismParamInvalid);
                }
                // The data is all the key material there is: too little of it for the key
                // asked (its CKA_VALUE_LEN, or its type's length) is CKR_DATA_LEN_RANGE, as
                // the mechanisms' section says.
                if value_len(&template).is_some_and(|n| n > data.len()) {
                    return Err(Error::DataLenRange);
                }
                let mut c = if des3 {
                    CipherCtx::des3(mode == Mode::Cbc, bv, iv, true, false)?
                } else {
                    CipherCtx::block(mode, bv, iv, true, false)?
                };
                let mut out = Zeroizing::new(Vec::new());
                c.update(data, &mut out)?;
                c.finish(&mut out)?;
                let n = derived_len(&template, Some(out.len())).map_err(|e| match e {
                    Error::TemplateInconsistent => Error::DataLenRange,
                    e => e,
                })?;
                out.truncate(n);
                out
            }
            (Kdf::BaseAndKey, Params::Handle(other)) => {
                let o = self.key_object(h, *other)?;
                if o.class() != CKO_SECRET_KEY {
                    return Err(Error::KeyTypeInconsistent);
                }
                let mut v = Zeroizing::new(bv.to_vec());
                v.extend_from_slice(o.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?);
                let n = derived_len(&template, Some(v.len()))?;
                v.truncate(n);
                others.push(o);
                v
            }
            (Kdf::BaseAndData | Kdf::DataAndBase | Kdf::XorData, Params::Data(d)) => {
                let mut v = Zeroizing::new(Vec::new());
                match kdf {
                    Kdf::BaseAndData => {
                        v.extend_from_slice(bv);
                        v.extend_from_slice(d);
                    }
                    Kdf::DataAndBase => {
                        v.extend_from_slice(d);
                        v.extend_from_slice(bv);
                    }
                    _ => v.extend(bv.iter().zip(d.iter()).map(|(a, b)| a ^ b)),
                }
                let n = derived_len(&template, Some(v.len()))?;
                v.truncate(n);
                v
            }
            (Kdf::Extract, Params::Ulong(bit)) => {
                let n = derived_len(&template, None)?;
                let total_bits = bv.len() * 8;
                if total_bits == 0 || n * 8 > total_bits {
                    return Err(Error::TemplateInconsistent);
                }
                let mut v = Zeroizing::new(vec![0u8; n]);
                for i in 0..n * 8 {
                    let src = (*bit as usize + i) % total_bits;
                    let b = (bv[src / 8] >> (7 - src % 8)) & 1;
                    v[i / 8] |= b << (7 - i % 8);
                }
                v
            }
            (Kdf::Hkdf { data }, Params::Hkdf { extract, expand, prf, salt, info }) => {
                let hash =
                    DIGESTS.iter().find(|(t, _)| t == prf).map(|(_, h)| *h).ok_or(Error::MechanismParamInvalid)?;
                if !extract && !expand {
                    return Err(Error::MechanismParamInvalid);
                }
                // The salt of an extraction (none without one: the section says it is then
                // ignored).
                let salt = match salt {
                    _ if !*extract => Zeroizing::new(Vec::new()),
                    Salt::Null => Zeroizing::new(Vec::new()),
                    Salt::Data(s) if !s.is_empty() => Zeroizing::new(s.clone()),
                    Salt::Key(k) => Zeroizing::new(
                        self.key_object(h, *k)?.bytes(CKA_VALUE).ok_or(Error::MechanismParamInvalid)?.to_vec(),
                    ),
                    Salt::Data(_) => return Err(Error::MechanismParamInvalid),
                };
                let prk = if *extract { hkdf_extract(hash, &salt, bv)? } else { Zeroizing::new(bv.to_vec()) };
                // Expansion can make more than a hash's length, so only CKA_VALUE_LEN (or
                // the key type) bounds it; the section says it "should" be given, and without
                // it the output is the hash's length, as it is without expansion.
                let n = if *expand {
                    derived_len(&template, None).or_else(|e| match e {
                        Error::TemplateIncomplete => aes_natural(prk.len()).ok_or(Error::TemplateIncomplete),
                        e => Err(e),
                    })?
                } else {
                    derived_len(&template, aes_natural(prk.len()).or(Some(prk.len())))?
                };
                if data {
                    // A data object has no CKA_VALUE_LEN: it only sized the output.
                    template.retain(|a| a.ty != CKA_VALUE_LEN);
                    if !template.iter().any(|a| a.ty == CKA_CLASS) {
                        template.push(Attribute::new(CKA_CLASS, Value::Ulong(CKO_DATA)));
                    }
                }
                if *expand {
                    hkdf_expand(hash, &prk, info, n)?
                } else {
                    let mut v = prk;
                    v.truncate(n);
                    v
                }
            }
            (Kdf::Ecdh, Params::Ecdh { kdf, shared, public }) => {
                let key = self.parsed_key(&base_obj)?;
                let z = match &*key {
                    super::keys::ParsedKey::Ec(k) => {
                        let raw = super::keys::raw_point(public, 1 + 2 * k.curve().field_len());
                        k.ecdh(raw)?
                    }
                    super::keys::ParsedKey::X25519 { private: Some(p), .. } => {
                        crate::crypto::ec::x25519(p, super::keys::raw_point(public, 32))?
                    }
                    _ => return Err(Error::KeyTypeInconsistent),
                };
                ecdh_value(z, *kdf, shared, &template)?
            }
            // The digest of the base key's value: all of it, or its first CKA_VALUE_LEN bytes
            // (or the key type's length); a key type longer than the digest is
            // CKR_TEMPLATE_INCONSISTENT, an AES key the digest's size does not fit needs a
            // CKA_VALUE_LEN.
            (Kdf::HashKey(hash), Params::None) => {
                let mut ctx = DigestCtx::new(hash)?;
                ctx.update(bv);
                let mut v = Zeroizing::new(ctx.finish());
                let n = derived_len(&template, aes_natural(v.len()))?;
                v.truncate(n);
                v
            }
            // No natural length: CKA_VALUE_LEN or the key type's length, else
            // CKR_TEMPLATE_INCOMPLETE (the SHAKE section).
            (Kdf::Shake(wide), Params::None) => {
                let mut v = Zeroizing::new(vec![0u8; derived_len(&template, None)?]);
                crate::crypto::evp::shake(wide, bv, &mut v)?;
                v
            }
            (Kdf::Ike, p) => {
                let (v, keys) = super::ike::derive(self, h, p, &base_obj, bv, &mut template)?;
                others = keys;
                v
            }
            (Kdf::X942, Params::X942 { kdf, other_info, public, second }) => {
                let ParsedKey::X942(k) = &*self.parsed_key(&base_obj)? else {
                    return Err(Error::KeyTypeInconsistent);
                };
                let mut z = k.agree(public)?;
                // The hybrid scheme: the second pair's secret after the first's, on the same
                // domain parameters.
                if let Some((second, public2)) = second {
                    let o = self.key_object(h, *second)?;
                    let parsed = self.parsed_key(&o)?;
                    let ParsedKey::X942(k2) = &*parsed else {
                        return Err(Error::KeyTypeInconsistent);
                    };
                    let (a, b) = (k.parts(), k2.parts());
                    if o.class() != CKO_PRIVATE_KEY || (a.p, a.q, a.g) != (b.p, b.q, b.g) {
                        return Err(Error::KeyTypeInconsistent);
                    }
                    z.extend_from_slice(&k2.agree(public2)?);
                    others.push(o);
                }
                x942_value(z, *kdf, other_info, &template)?
            }
            (Kdf::Dh, Params::Data(peer)) => {
                let super::keys::ParsedKey::Dh(k) = &*self.parsed_key(&base_obj)? else {
                    return Err(Error::KeyTypeInconsistent);
                };
                rightmost(k.agree(peer)?, &template)?
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        // A DES key derived by any mechanism gets its parity bits set, as the mechanisms'
        // sections say.
        super::des::set_parity_for(key_type(&template), &mut value);
        // The new key was always sensitive (never extractable) if every key it came from was.
        let always_sensitive =
            others.iter().all(|o| o.flag(CKA_ALWAYS_SENSITIVE)) && base_obj.flag(CKA_ALWAYS_SENSITIVE);
        let never_extractable =
            others.iter().all(|o| o.flag(CKA_NEVER_EXTRACTABLE)) && base_obj.flag(CKA_NEVER_EXTRACTABLE);
        // The simple mechanisms hand out the original keys' bits: the new key is sensitive if
        // an original key is, and unextractable if one is, whatever the template says
        // (§ "Miscellaneous simple key derivation mechanisms"); without this a sensitive,
        // unextractable key XORed with zeros came out as an extractable copy of itself.
        if matches!(kdf, Kdf::BaseAndKey | Kdf::BaseAndData | Kdf::DataAndBase | Kdf::XorData | Kdf::Extract) {
            let sensitive = others.iter().chain([&base_obj]).any(|o| o.flag(CKA_SENSITIVE));
            let extractable = others.iter().chain([&base_obj]).all(|o| o.flag(CKA_EXTRACTABLE));
            for (ty, forced, yes) in [(CKA_SENSITIVE, sensitive, true), (CKA_EXTRACTABLE, !extractable, false)] {
                if forced {
                    force(&mut template, ty, Value::Bool(yes));
                }
            }
        }
        let origin = Origin::Derive {
            value: value.into(),
            base_always_sensitive: always_sensitive,
            base_never_extractable: never_extractable,
        };
        self.create_with(h, &template, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let prk = hkdf_extract(Hash::Sha256, &salt, &ikm).unwrap();
        let okm = hkdf_expand(Hash::Sha256, &prk, &info, 42).unwrap();
        assert_eq!(
            crate::hex::encode(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }
}
