//! Asymmetric key objects: curve parameters (CKA_EC_PARAMS as an OID or a printable curve
//! name), point encodings (CKA_EC_POINT accepted raw or DER-wrapped, returned DER-wrapped),
//! validation of imported keys (RSA, EC, DSA, DH, ML-DSA, ML-KEM), the computed attributes
//! (CKA_MODULUS_BITS, CKA_PUBLIC_KEY_INFO, CKA_EC_POINT on private keys, CKA_VALUE_BITS of a
//! DH private key), and the per-module cache of parsed keys so that C_Sign does not re-parse
//! key material.

use super::mac::PreparedHmac;
use crate::crypto::dh::DhKey;
use crate::crypto::dsa::DsaKey;
use crate::crypto::ec::{self, Curve, EcKey};
use crate::crypto::evp::{CipherCtx, DigestCtx, Hash, aes_encrypt_block};
use crate::crypto::pqc::{MlDsa, MlKem};
use crate::crypto::rsa::{RsaKey, RsaParts};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::{Object, Value};
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What CKA_EC_PARAMS names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveKind {
    Nist(Curve),
    Ed25519,
    X25519,
}

const OIDS: [(&[u8], CurveKind); 2] =
    [(&[0x06, 0x03, 0x2b, 0x65, 0x70], CurveKind::Ed25519), (&[0x06, 0x03, 0x2b, 0x65, 0x6e], CurveKind::X25519)];

/// The smallest RSA modulus a key object may have, in bits.
pub const RSA_KEPT_MIN_BITS: usize = 512;

/// OIDs of curves the backend lacks (Ed448, X448).
const UNSUPPORTED: [&[u8]; 2] = [&[0x06, 0x03, 0x2b, 0x65, 0x71], &[0x06, 0x03, 0x2b, 0x65, 0x6f]];

/// Parses CKA_EC_PARAMS: a named-curve OID, a PrintableString curve name, or explicit
/// parameters equal to those of a supported curve.
pub fn curve_of(params: &[u8]) -> Result<CurveKind> {
    if let Some(c) = Curve::ALL.into_iter().find(|c| c.oid() == params) {
        return Ok(CurveKind::Nist(c));
    }
    if let Some((_, k)) = OIDS.iter().find(|(o, _)| *o == params) {
        return Ok(*k);
    }
    if UNSUPPORTED.contains(&params) {
        return Err(Error::CurveNotSupported);
    }
    if let [0x13, n, name @ ..] = params
        && *n as usize == name.len()
    {
        return match &name.to_ascii_lowercase()[..] {
            b"secp224r1" | b"p-224" => Ok(CurveKind::Nist(Curve::P224)),
            b"prime256v1" | b"secp256r1" | b"p-256" => Ok(CurveKind::Nist(Curve::P256)),
            b"secp384r1" | b"p-384" => Ok(CurveKind::Nist(Curve::P384)),
            b"secp521r1" | b"p-521" => Ok(CurveKind::Nist(Curve::P521)),
            b"secp256k1" => Ok(CurveKind::Nist(Curve::Secp256k1)),
            b"edwards25519" | b"ed25519" => Ok(CurveKind::Ed25519),
            b"curve25519" | b"x25519" => Ok(CurveKind::X25519),
            _ => Err(Error::CurveNotSupported),
        };
    }
    // Parameters spelt out (specifiedCurve, as OpenSSL writes with `-param_enc explicit`)
    // name a curve of ours when they equal its parameters; they are kept as given.
    if params.first() == Some(&0x30)
        && let Some(c) = crate::crypto::keyfile::curve_of_explicit(params)
    {
        return Ok(CurveKind::Nist(c));
    }
    // A well-formed OID or explicit parameters we do not know are an unsupported curve;
    // anything else (implicitlyCA's NULL among it) is "invalid or of an unsupported
    // representation of domain parameters": CKR_DOMAIN_PARAMS_INVALID (the EC section).
    let well_formed = match params {
        [0x30, 0x81, n, rest @ ..] => *n as usize == rest.len(),
        [0x30, 0x82, hi, lo, rest @ ..] => (usize::from(*hi) << 8 | usize::from(*lo)) == rest.len(),
        [0x06 | 0x30, n, rest @ ..] => *n as usize == rest.len(),
        _ => false,
    };
    if well_formed {
        return Err(Error::CurveNotSupported);
    }
    Err(Error::DomainParamsInvalid)
}

/// DER OCTET STRING around `b`.
pub fn der_octets(b: &[u8]) -> Vec<u8> {
    ec::der_tlv(0x04, b)
}

/// A point given raw or DER-wrapped, as raw bytes. `len` is the expected raw length (of an
/// uncompressed point): a value of that length that is a 25519 point or begins as an
/// uncompressed one is raw, even where its first bytes would read as a DER header.
pub fn raw_point(b: &[u8], len: usize) -> &[u8] {
    if b.len() == len && (len == 32 || b[0] == 0x04) {
        return b;
    }
    match b {
        [0x04, n, rest @ ..] if *n as usize == rest.len() => rest,
        [0x04, 0x81, n, rest @ ..] if *n as usize == rest.len() => rest,
        _ => b,
    }
}

/// The raw length of a public point on `k` (uncompressed for NIST curves).
fn point_len(k: CurveKind) -> usize {
    match k {
        CurveKind::Nist(c) => 1 + 2 * c.field_len(),
        CurveKind::Ed25519 | CurveKind::X25519 => 32,
    }
}

/// A parsed key, ready to use.
pub enum ParsedKey {
    Rsa(RsaKey),
    Ec(EcKey),
    Dsa(DsaKey),
    Dh(DhKey),
    /// An X9.42 Diffie-Hellman key: DSA's shape (p, q, g, y, x).
    X942(DsaKey),
    /// `expanded`: the seed's 64-byte signing form, computed once.
    Ed25519 {
        seed: Option<Zeroizing<Vec<u8>>>,
        public: Vec<u8>,
        expanded: Option<Zeroizing<Vec<u8>>>,
    },
    X25519 {
        private: Option<Zeroizing<Vec<u8>>>,
        public: Vec<u8>,
    },
    /// `private`: the expanded private key (a private key object's, from its CKA_VALUE or
    /// its CKA_SEED).
    /// `tr`: H(public key, 64), which starts each message representative.
    MlDsa {
        set: MlDsa,
        public: Vec<u8>,
        tr: [u8; 64],
        private: Option<Zeroizing<Vec<u8>>>,
    },
    /// `private`: the decapsulation key.
    MlKem {
        set: MlKem,
        public: Vec<u8>,
        private: Option<Zeroizing<Vec<u8>>>,
    },
}

/// The ML-DSA parameter set a CKP_ML_DSA_* value names; another value is
/// CKR_PARAMETER_SET_NOT_SUPPORTED (3.2's code for a parameter set the token does not have).
pub fn ml_dsa_set(p: CK_ULONG) -> Result<MlDsa> {
    match p {
        CKP_ML_DSA_44 => Ok(MlDsa::P44),
        CKP_ML_DSA_65 => Ok(MlDsa::P65),
        CKP_ML_DSA_87 => Ok(MlDsa::P87),
        _ => Err(Error::ParameterSetNotSupported),
    }
}

/// The ML-KEM parameter set a CKP_ML_KEM_* value names (another: as for ML-DSA).
pub fn ml_kem_set(p: CK_ULONG) -> Result<MlKem> {
    match p {
        CKP_ML_KEM_512 => Ok(MlKem::K512),
        CKP_ML_KEM_768 => Ok(MlKem::K768),
        CKP_ML_KEM_1024 => Ok(MlKem::K1024),
        _ => Err(Error::ParameterSetNotSupported),
    }
}

/// The DER of the NIST algorithm OID 2.16.840.1.101.3.4.`family`.`arc` (hashes: family 2,
/// ML-DSA: 3, ML-KEM: 4).
pub fn nist_oid(family: u8, arc: u8) -> [u8; 11] {
    [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, family, arc]
}

/// SubjectPublicKeyInfo of an ML-DSA or ML-KEM key: the algorithm's OID
/// (2.16.840.1.101.3.4.3.x or .4.x, no parameters) and the encoded key.
pub fn spki_nist_pqc(family: u8, arc: u8, public: &[u8]) -> Vec<u8> {
    let alg = ec::der_tlv(0x30, &nist_oid(family, arc));
    let mut bits = vec![0u8];
    bits.extend_from_slice(public);
    let mut body = alg;
    body.extend_from_slice(&ec::der_tlv(0x03, &bits));
    ec::der_tlv(0x30, &body)
}

/// An ML-DSA or ML-KEM key object's private key, from CKA_VALUE and/or CKA_SEED (which
/// must agree), and its public key.
fn pqc_private(
    obj: &Object,
    from_seed: impl Fn(&[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    public_of: impl Fn(&[u8]) -> Result<Vec<u8>>,
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    let value = obj.bytes(CKA_VALUE).filter(|b| !b.is_empty());
    match (obj.bytes(CKA_SEED).filter(|b| !b.is_empty()), value) {
        (Some(seed), value) => {
            let (public, private) = from_seed(seed)?;
            // Both are secrets: compared in constant time.
            if value.is_some_and(|v| !bool::from(subtle::ConstantTimeEq::ct_eq(v, &private[..]))) {
                return Err(Error::TemplateInconsistent);
            }
            Ok((public, private))
        }
        (None, Some(v)) => Ok((public_of(v)?, Zeroizing::new(v.to_vec()))),
        (None, None) => Err(Error::TemplateIncomplete),
    }
}

fn need(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    obj.bytes(ty).filter(|b| !b.is_empty()).ok_or(Error::TemplateIncomplete)
}

fn opt(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Option<Zeroizing<Vec<u8>>> {
    obj.bytes(ty).filter(|b| !b.is_empty()).map(|b| Zeroizing::new(b.to_vec()))
}

/// Parses the key material of a public or private key object.
pub fn parse(obj: &Object) -> Result<ParsedKey> {
    let private = obj.class() == CKO_PRIVATE_KEY;
    match obj.ulong(CKA_KEY_TYPE) {
        Some(CKK_RSA) => {
            // A private key may come without its public exponent (Table 141).
            let e = if private {
                obj.bytes(CKA_PUBLIC_EXPONENT).unwrap_or_default()
            } else {
                need(obj, CKA_PUBLIC_EXPONENT)?
            };
            let mut parts = RsaParts { n: need(obj, CKA_MODULUS)?.to_vec(), e: e.to_vec(), ..Default::default() };
            if private {
                parts.d = Some(Zeroizing::new(need(obj, CKA_PRIVATE_EXPONENT)?.to_vec()));
                parts.p = opt(obj, CKA_PRIME_1);
                parts.q = opt(obj, CKA_PRIME_2);
                parts.dp = opt(obj, CKA_EXPONENT_1);
                parts.dq = opt(obj, CKA_EXPONENT_2);
                parts.qinv = opt(obj, CKA_COEFFICIENT);
            }
            Ok(ParsedKey::Rsa(RsaKey::from_parts(&parts)?))
        }
        Some(CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => {
            let kind = curve_of(need(obj, CKA_EC_PARAMS)?)?;
            let kt = obj.ulong(CKA_KEY_TYPE);
            let expected = match kind {
                CurveKind::Nist(_) => CKK_EC,
                CurveKind::Ed25519 => CKK_EC_EDWARDS,
                CurveKind::X25519 => CKK_EC_MONTGOMERY,
            };
            if kt != Some(expected) {
                return Err(Error::TemplateInconsistent);
            }
            let public =
                if private { None } else { Some(raw_point(need(obj, CKA_EC_POINT)?, point_len(kind)).to_vec()) };
            let secret = if private { Some(Zeroizing::new(need(obj, CKA_VALUE)?.to_vec())) } else { None };
            Ok(match kind {
                CurveKind::Nist(c) => ParsedKey::Ec(match (&public, &secret) {
                    (Some(p), _) => EcKey::from_public(c, p)?,
                    (_, Some(d)) => EcKey::from_private(c, d)?,
                    _ => return Err(Error::TemplateIncomplete),
                }),
                CurveKind::Ed25519 => {
                    let public = match &secret {
                        Some(s) => ec::ed25519_public(s)?,
                        None => public.filter(|p| p.len() == 32).ok_or(Error::AttributeValueInvalid)?,
                    };
                    let expanded = secret.as_deref().map(|s| ec::ed25519_expand(s)).transpose()?;
                    ParsedKey::Ed25519 { seed: secret, public, expanded }
                }
                CurveKind::X25519 => {
                    let public = match &secret {
                        Some(s) => ec::x25519_public(s)?,
                        None => public.filter(|p| p.len() == 32).ok_or(Error::AttributeValueInvalid)?,
                    };
                    ParsedKey::X25519 { private: secret, public }
                }
            })
        }
        // X9.42 Diffie-Hellman keys have DSA's shape.
        Some(kt @ (CKK_DSA | CKK_X9_42_DH)) => {
            let (p, q, g) = (need(obj, CKA_PRIME)?, need(obj, CKA_SUBPRIME)?, need(obj, CKA_BASE)?);
            let value = need(obj, CKA_VALUE)?;
            let k = if private { DsaKey::from_private(p, q, g, value)? } else { DsaKey::from_public(p, q, g, value)? };
            Ok(if kt == CKK_DSA { ParsedKey::Dsa(k) } else { ParsedKey::X942(k) })
        }
        Some(CKK_DH) => {
            let (p, g, value) = (need(obj, CKA_PRIME)?, need(obj, CKA_BASE)?, need(obj, CKA_VALUE)?);
            Ok(ParsedKey::Dh(if private {
                DhKey::from_private(p, g, value)?
            } else {
                DhKey::from_public(p, g, value)?
            }))
        }
        // Without the algorithms (a `fips` build) their keys are a key type the token does
        // not know, public ones too.
        Some(CKK_ML_DSA | CKK_ML_KEM) if !crate::crypto::pqc::OFFERED => Err(Error::AttributeValueInvalid),
        Some(CKK_ML_DSA) => {
            let set = ml_dsa_set(obj.ulong(CKA_PARAMETER_SET).ok_or(Error::TemplateIncomplete)?)?;
            if private {
                let (public, private) = pqc_private(obj, |s| set.keypair(s), |v| set.public_of(v))?;
                let tr = MlDsa::tr(&public)?;
                Ok(ParsedKey::MlDsa { set, public, tr, private: Some(private) })
            } else {
                let public = need(obj, CKA_VALUE)?;
                if public.len() != set.public_len() {
                    return Err(Error::AttributeValueInvalid);
                }
                let tr = MlDsa::tr(public)?;
                Ok(ParsedKey::MlDsa { set, public: public.to_vec(), tr, private: None })
            }
        }
        Some(CKK_ML_KEM) => {
            let set = ml_kem_set(obj.ulong(CKA_PARAMETER_SET).ok_or(Error::TemplateIncomplete)?)?;
            if private {
                let (public, private) = pqc_private(obj, |s| set.keypair(s), |v| set.public_of(v))?;
                Ok(ParsedKey::MlKem { set, public, private: Some(private) })
            } else {
                let public = need(obj, CKA_VALUE)?;
                if !set.check_public(public) {
                    return Err(Error::AttributeValueInvalid);
                }
                Ok(ParsedKey::MlKem { set, public: public.to_vec(), private: None })
            }
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// Validates DSA, DH or X9.42 DH domain parameters (as keys on them are checked) and fills
/// CKA_PRIME_BITS (and X9.42's CKA_SUBPRIME_BITS).
fn complete_domain(obj: &mut Object) -> Result<()> {
    let p = need(obj, CKA_PRIME)?;
    let bits =
        |b: &[u8]| b.iter().position(|x| *x != 0).map_or(0, |i| (b.len() - i) * 8 - b[i].leading_zeros() as usize);
    match obj.ulong(CKA_KEY_TYPE) {
        Some(CKK_DSA) => DsaKey::check_domain(p, need(obj, CKA_SUBPRIME)?, need(obj, CKA_BASE)?)?,
        Some(CKK_X9_42_DH) => {
            let q = need(obj, CKA_SUBPRIME)?;
            DsaKey::check_domain(p, q, need(obj, CKA_BASE)?)?;
            let n = bits(q) as CK_ULONG;
            obj.set(CKA_SUBPRIME_BITS, Value::Ulong(n));
        }
        Some(CKK_DH) => DhKey::check_domain(p, need(obj, CKA_BASE)?)?,
        _ => return Err(Error::TemplateInconsistent),
    }
    let n = bits(need(obj, CKA_PRIME)?) as CK_ULONG;
    obj.set(CKA_PRIME_BITS, Value::Ulong(n));
    Ok(())
}

/// The checksum of a secret key or certificate (CKA_CHECK_VALUE), its first three bytes:
/// an AES or Triple DES key's encryption of a zero block (ECB), the SHA-1 hash of a generic secret or
/// HMAC key's value, of a certificate's DER encoding. `None` for other objects.
pub fn check_value(obj: &Object) -> Result<Option<[u8; 3]>> {
    let Some(value) = obj.bytes(CKA_VALUE).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let full = match (obj.class(), obj.ulong(CKA_KEY_TYPE)) {
        (CKO_SECRET_KEY, Some(CKK_AES)) => aes_encrypt_block(value, &[0u8; 16])?.to_vec(),
        (CKO_SECRET_KEY, Some(CKK_DES | CKK_DES2 | CKK_DES3)) => {
            let mut c = CipherCtx::des3(false, value, &[], true, false)?;
            let mut out = Vec::with_capacity(8);
            c.update(&[0u8; 8], &mut out)?;
            out
        }
        (
            CKO_SECRET_KEY,
            Some(
                CKK_GENERIC_SECRET | CKK_CHACHA20 | CKK_MD5_HMAC | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC
                | CKK_SHA384_HMAC | CKK_SHA512_HMAC | CKK_SHA512_224_HMAC | CKK_SHA512_256_HMAC | CKK_SHA3_224_HMAC
                | CKK_SHA3_256_HMAC | CKK_SHA3_384_HMAC | CKK_SHA3_512_HMAC,
            ),
        )
        | (CKO_CERTIFICATE, _) => {
            let mut d = DigestCtx::new(Hash::Sha1)?;
            d.update(value);
            d.finish()
        }
        _ => return Ok(None),
    };
    Ok(full.get(..3).map(|b| [b[0], b[1], b[2]]))
}

/// Fills CKA_CHECK_VALUE; a value the template gave must be the token's (an empty one is
/// kept: the creator asked that the checksum not be shown).
fn complete_check_value(obj: &mut Object) -> Result<()> {
    let Some(kcv) = check_value(obj)? else {
        return Ok(());
    };
    match obj.bytes(CKA_CHECK_VALUE) {
        Some(given) if !given.is_empty() && given[..] != kcv[..] => Err(Error::AttributeValueInvalid),
        Some(_) => Ok(()),
        None => {
            obj.set(CKA_CHECK_VALUE, Value::bytes(kcv.to_vec()));
            Ok(())
        }
    }
}

/// Validates a new public or private key object and fills its computed attributes.
pub fn complete(obj: &mut Object) -> Result<()> {
    if obj.class() == CKO_DOMAIN_PARAMETERS {
        return complete_domain(obj);
    }
    if matches!(obj.class(), CKO_SECRET_KEY | CKO_CERTIFICATE) {
        return complete_check_value(obj);
    }
    if !matches!(obj.class(), CKO_PUBLIC_KEY | CKO_PRIVATE_KEY) {
        return Ok(());
    }
    let key = parse(obj).map_err(|e| match e {
        Error::AttributeValueInvalid
        | Error::TemplateIncomplete
        | Error::CurveNotSupported
        | Error::DomainParamsInvalid
        | Error::ParameterSetNotSupported
        | Error::TemplateInconsistent => e,
        _ => Error::AttributeValueInvalid,
    })?;
    let spki = match &key {
        ParsedKey::Rsa(k) => {
            // Smaller RSA keys are kept (SoftHSMv2 keeps 512-bit ones) but no mechanism
            // takes them: C_*Init answers CKR_KEY_SIZE_RANGE.
            if k.bits() < RSA_KEPT_MIN_BITS {
                return Err(Error::AttributeValueInvalid);
            }
            obj.set(CKA_MODULUS_BITS, Value::Ulong(k.bits() as CK_ULONG));
            // A private key given without its public exponent gets the one found to fit it;
            // without one found it has no public key info (empty).
            let e = k.parts().e;
            if e.is_empty() {
                Vec::new()
            } else {
                if obj.bytes(CKA_PUBLIC_EXPONENT).is_none_or(<[u8]>::is_empty) {
                    obj.set(CKA_PUBLIC_EXPONENT, Value::bytes(e));
                }
                k.spki()?
            }
        }
        ParsedKey::Ec(k) => {
            let point = k.point();
            obj.set(CKA_EC_POINT, Value::bytes(der_octets(&point)));
            ec::spki_ec(k.curve(), &point)
        }
        ParsedKey::Dsa(k) => k.spki()?,
        ParsedKey::X942(k) => k.spki_x942(),
        ParsedKey::Dh(k) => {
            if let Some(bits) = k.private_bits() {
                obj.set(CKA_VALUE_BITS, Value::Ulong(bits as CK_ULONG));
            }
            k.spki()?
        }
        ParsedKey::Ed25519 { public, .. } => {
            obj.set(CKA_EC_POINT, Value::bytes(der_octets(public)));
            ec::spki_25519(public, true)
        }
        ParsedKey::X25519 { public, .. } => {
            obj.set(CKA_EC_POINT, Value::bytes(der_octets(public)));
            ec::spki_25519(public, false)
        }
        ParsedKey::MlDsa { set, public, private, .. } => {
            if let Some(p) = private {
                obj.set(CKA_VALUE, Value::bytes(p.to_vec()));
            }
            spki_nist_pqc(3, set.oid_arc(), public)
        }
        ParsedKey::MlKem { set, public, private } => {
            if let Some(p) = private {
                obj.set(CKA_VALUE, Value::bytes(p.to_vec()));
            }
            spki_nist_pqc(4, set.oid_arc(), public)
        }
    };
    // A CKA_PUBLIC_KEY_INFO the template gives must be this key's: "the token MUST verify
    // correspondence ... If there is a mismatch, the command SHALL return
    // CKR_ATTRIBUTE_VALUE_INVALID" (the private key objects' section; the public keys' says
    // the same). The same DER, or another encoding of the same RSA, EC or Ed25519 key (they
    // are read and encoded again to compare). An empty one is the attribute's default.
    if let Some(given) = obj.bytes(CKA_PUBLIC_KEY_INFO).filter(|g| !g.is_empty()) {
        let same = given == spki.as_slice()
            || crate::crypto::keyfile::parse_public(given).and_then(|k| k.spki()).is_ok_and(|s| s == spki);
        if !same {
            return Err(Error::AttributeValueInvalid);
        }
    }
    obj.set(CKA_PUBLIC_KEY_INFO, Value::bytes(spki));
    Ok(())
}

/// Most parsed keys kept per module; beyond it the cache starts afresh.
const CACHE_LIMIT: usize = 4096;

impl Module {
    /// The parsed form of a key object, from the cache when this object was parsed before.
    pub(crate) fn parsed_key(&self, obj: &Object) -> Result<Arc<ParsedKey>> {
        let uid = obj.unique_id().to_string();
        if let Some(k) = self.state_read().key_cache.get(&uid) {
            return Ok(k.clone());
        }
        let k = Arc::new(parse(obj)?);
        let mut st = self.state();
        if st.key_cache.len() >= CACHE_LIMIT {
            st.key_cache.clear();
        }
        st.key_cache.insert(uid, k.clone());
        Ok(k)
    }

    /// An HMAC key prepared for `hash` (its inner and outer pads hashed), kept with the key
    /// object after its first use; `None` for hashes without a low-level context, or a key
    /// without a value.
    pub(crate) fn prepared_hmac<'a>(&self, obj: &'a Object, hash: crate::mechanism::Hash) -> Option<&'a PreparedHmac> {
        // Slots 1..=7: one per SHA-1/SHA-2 hash (slot 0 is the AES-GCM key).
        obj.prepared(hash as usize, || {
            PreparedHmac::new(hash, obj.bytes(CKA_VALUE)?, obj.bytes(CKA_UNIQUE_ID).unwrap_or_default())
        })
    }
}
