//! ML-DSA signatures (PKCS#11 3.2 §6.67: CKM_ML_DSA, pure, with CK_SIGN_ADDITIONAL_CONTEXT's
//! hedging choice and context string; HashML-DSA over a SHA-2/SHA-3/SHAKE hash the token computes,
//! `CKM_HASH_ML_DSA_<hash>`, or the caller computed, CKM_HASH_ML_DSA, single-part) and ML-KEM
//! key encapsulation (§6.68: CKM_ML_KEM through C_EncapsulateKey / C_DecapsulateKey), with
//! their key pair generators; those two functions also for ECDH (§6.3) and RSA (§6.1) as KEMs.

use super::digest::Engine;
use super::keypair::PairKind;
use super::keys::{ParsedKey, nist_oid};
use super::ops::Mac;
use super::rsa::RsaScheme;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::Hash;
use crate::crypto::pqc::{DSA_SEED_LEN, MU_LEN, MlDsa, MlKem, MuHasher};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Value};
use crate::secret::Bytes;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

pub fn register(r: &mut Registry) {
    // Key sizes are the public keys' lengths in bytes (ML-DSA-44 to -87, ML-KEM-512 to -1024),
    // as the ML-DSA and ML-KEM sections say of ulMinKeySize and ulMaxKeySize.
    let (dsa_min, dsa_max) = (MlDsa::P44.public_len() as CK_ULONG, MlDsa::P87.public_len() as CK_ULONG);
    let (kem_min, kem_max) = (MlKem::K512.public_len() as CK_ULONG, MlKem::K1024.public_len() as CK_ULONG);
    r.add(Entry {
        ty: CKM_ML_DSA_KEY_PAIR_GEN,
        info: info(dsa_min, dsa_max, CKF_GENERATE_KEY_PAIR),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyPair(PairKind::MlDsa),
    });
    let sv = |ty, params, variant| Entry {
        ty,
        info: info(dsa_min, dsa_max, CKF_SIGN | CKF_VERIFY),
        params,
        key_types: &[CKK_ML_DSA],
        implementation: Implementation::MlDsa(variant),
    };
    r.add(sv(CKM_ML_DSA, ParamShape::SignContext, MlDsaVariant::Pure));
    r.add(sv(CKM_HASH_ML_DSA, ParamShape::HashSignContext, MlDsaVariant::PreHashed));
    for (ty, hash) in HASHED {
        r.add(sv(ty, ParamShape::SignContext, MlDsaVariant::Hashed(hash)));
    }
    r.add(Entry {
        ty: CKM_ML_KEM_KEY_PAIR_GEN,
        info: info(kem_min, kem_max, CKF_GENERATE_KEY_PAIR),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyPair(PairKind::MlKem),
    });
    r.add(Entry {
        ty: CKM_ML_KEM,
        info: info(kem_min, kem_max, CKF_ENCAPSULATE | CKF_DECAPSULATE),
        params: ParamShape::None,
        key_types: &[CKK_ML_KEM],
        implementation: Implementation::MlKem,
    });
}

/// What an ML-DSA mechanism signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlDsaVariant {
    /// The message (CKM_ML_DSA).
    Pure,
    /// A hash the caller computed, named by the parameter (CKM_HASH_ML_DSA; single-part).
    PreHashed,
    /// The message's hash, computed here (`CKM_HASH_ML_DSA_<hash>`).
    Hashed(PreHash),
}

/// HashML-DSA's pre-hash PH (FIPS 204 §5.4): a SHA-2 or SHA-3 digest of the message, or
/// SHAKE128's first 32 bytes or SHAKE256's first 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreHash {
    Digest(Hash),
    /// SHAKE256 when true, else SHAKE128.
    Shake(bool),
}

impl PreHash {
    /// The last byte of PH's OID, 2.16.840.1.101.3.4.2.x (FIPS 204 §5.4's OID(PH)).
    fn oid_arc(self) -> Option<u8> {
        Some(match self {
            PreHash::Digest(Hash::Sha256) => 1,
            PreHash::Digest(Hash::Sha384) => 2,
            PreHash::Digest(Hash::Sha512) => 3,
            PreHash::Digest(Hash::Sha224) => 4,
            PreHash::Digest(Hash::Sha512_224) => 5,
            PreHash::Digest(Hash::Sha512_256) => 6,
            PreHash::Digest(Hash::Sha3_224) => 7,
            PreHash::Digest(Hash::Sha3_256) => 8,
            PreHash::Digest(Hash::Sha3_384) => 9,
            PreHash::Digest(Hash::Sha3_512) => 10,
            PreHash::Shake(false) => 11,
            PreHash::Shake(true) => 12,
            PreHash::Digest(Hash::Sha1 | Hash::Md5) => return None,
        })
    }
}

/// A pre-hash running over the message.
// The large variant (a SHA-2 context held in place) is the common one: boxing it would cost an
// allocation per signature for nothing.
#[allow(clippy::large_enum_variant)]
enum PreHasher {
    Digest(Engine),
    Shake(crate::crypto::evp::Shake, usize),
}

impl PreHasher {
    fn new(p: PreHash) -> Result<PreHasher> {
        Ok(match p {
            PreHash::Digest(h) => PreHasher::Digest(Engine::new(h)?),
            PreHash::Shake(wide) => PreHasher::Shake(crate::crypto::evp::Shake::new(wide)?, if wide { 64 } else { 32 }),
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            PreHasher::Digest(e) => e.update(data),
            PreHasher::Shake(s, _) => s.update(data),
        }
    }

    fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(match self {
            PreHasher::Digest(e) => e.finish(),
            PreHasher::Shake(s, n) => {
                let mut out = vec![0u8; n];
                s.finish_into(&mut out)?;
                out
            }
        }))
    }
}

/// The `CKM_HASH_ML_DSA_<hash>` mechanisms (the specification's table of them) and their
/// pre-hashes.
const HASHED: [(CK_MECHANISM_TYPE, PreHash); 10] = [
    (CKM_HASH_ML_DSA_SHA224, PreHash::Digest(Hash::Sha224)),
    (CKM_HASH_ML_DSA_SHA256, PreHash::Digest(Hash::Sha256)),
    (CKM_HASH_ML_DSA_SHA384, PreHash::Digest(Hash::Sha384)),
    (CKM_HASH_ML_DSA_SHA512, PreHash::Digest(Hash::Sha512)),
    (CKM_HASH_ML_DSA_SHA3_224, PreHash::Digest(Hash::Sha3_224)),
    (CKM_HASH_ML_DSA_SHA3_256, PreHash::Digest(Hash::Sha3_256)),
    (CKM_HASH_ML_DSA_SHA3_384, PreHash::Digest(Hash::Sha3_384)),
    (CKM_HASH_ML_DSA_SHA3_512, PreHash::Digest(Hash::Sha3_512)),
    (CKM_HASH_ML_DSA_SHAKE128, PreHash::Shake(false)),
    (CKM_HASH_ML_DSA_SHAKE256, PreHash::Shake(true)),
];

/// An ML-DSA signature: its message representative mu = H(tr || M', 64) is hashed as the
/// data arrives (FIPS 204 §6.2's external mu), so that no part of the message is kept.
struct MlDsaSig {
    key: Arc<ParsedKey>,
    deterministic: bool,
    /// mu's hash, started with tr and M''s prefix: 0 (pure) or 1 (HashML-DSA), the
    /// context's length, the context, and for HashML-DSA the hash's OID.
    mu: MuHasher,
    /// The running hash of CKM_HASH_ML_DSA_<hash>, whose output goes into mu.
    hasher: Option<PreHasher>,
    /// For CKM_HASH_ML_DSA, the hash's length and the hash gathered: one hash, in one part.
    prehashed: Option<(usize, Bytes)>,
    len: usize,
}

impl MlDsaSig {
    /// mu, once all the data is in.
    fn mu(self: Box<Self>) -> Result<(Arc<ParsedKey>, [u8; MU_LEN])> {
        let MlDsaSig { key, mut mu, hasher, prehashed, .. } = *self;
        match (hasher, prehashed) {
            (Some(h), _) => mu.update(&h.finish()?),
            (None, Some((n, hash))) if hash.len() == n => mu.update(&hash),
            (None, Some(_)) => return Err(Error::DataLenRange),
            (None, None) => {}
        }
        Ok((key, mu.finish()?))
    }
}

impl Mac for MlDsaSig {
    fn update(&mut self, data: &[u8]) {
        match (&mut self.hasher, &mut self.prehashed) {
            (Some(h), _) => h.update(data),
            (None, Some((_, buf))) => buf.extend_from_slice(data),
            (None, None) => self.mu.update(data),
        }
    }
    fn single_part(&self) -> bool {
        self.prehashed.is_some()
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        let deterministic = self.deterministic;
        let (key, mu) = self.mu()?;
        let ParsedKey::MlDsa { set, private: Some(sk), .. } = &*key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let mut rnd = Zeroizing::new([0u8; DSA_SEED_LEN]);
        if !deterministic {
            crate::crypto::random_fill(&mut rnd[..])?;
        }
        Ok(Bytes::new(set.sign_mu(sk, &mu, &rnd)?))
    }
    fn output_len(&self) -> usize {
        self.len
    }
    fn check(self: Box<Self>, sig: &[u8]) -> Result<()> {
        let (key, mu) = self.mu()?;
        let ParsedKey::MlDsa { set, public, .. } = &*key else {
            return Err(Error::KeyTypeInconsistent);
        };
        if set.verify_mu(public, sig, &mu) { Ok(()) } else { Err(Error::SignatureInvalid) }
    }
}

/// Builds an ML-DSA signer/verifier.
pub fn ml_dsa(variant: MlDsaVariant, m: &Mechanism, key: Arc<ParsedKey>) -> Result<Box<dyn Mac>> {
    let ParsedKey::MlDsa { set, tr, .. } = &*key else {
        return Err(Error::KeyTypeInconsistent);
    };
    let (hedge, context, hash) = match (&m.params, variant) {
        (Params::None, MlDsaVariant::Pure) => (CKH_HEDGE_PREFERRED, &[][..], None),
        (Params::None, MlDsaVariant::Hashed(h)) => (CKH_HEDGE_PREFERRED, &[][..], Some(h)),
        (Params::SignContext { hedge, context }, MlDsaVariant::Pure) => (*hedge, &context[..], None),
        (Params::SignContext { hedge, context }, MlDsaVariant::Hashed(h)) => (*hedge, &context[..], Some(h)),
        (Params::HashSignContext { hedge, context, hash }, MlDsaVariant::PreHashed) => {
            let h = super::digest::DIGESTS.iter().find(|(t, _)| t == hash).map(|(_, h)| PreHash::Digest(*h));
            (*hedge, &context[..], Some(h.ok_or(Error::MechanismParamInvalid)?))
        }
        _ => return Err(Error::MechanismParamInvalid),
    };
    let deterministic = match hedge {
        CKH_HEDGE_PREFERRED | CKH_HEDGE_REQUIRED => false,
        CKH_DETERMINISTIC_REQUIRED => true,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let n = u8::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
    let mut pre = vec![hash.is_some() as u8, n];
    pre.extend_from_slice(context);
    if let Some(h) = hash {
        let arc = h.oid_arc().ok_or(Error::MechanismParamInvalid)?;
        pre.extend_from_slice(&nist_oid(2, arc));
    }
    let (hasher, prehashed) = match (variant, hash) {
        (MlDsaVariant::Hashed(h), _) => (Some(PreHasher::new(h)?), None),
        (MlDsaVariant::PreHashed, Some(PreHash::Digest(h))) => (None, Some((h.output_len(), Bytes::default()))),
        _ => (None, None),
    };
    let mu = MuHasher::new(tr, &pre)?;
    let len = set.signature_len();
    Ok(Box::new(MlDsaSig { key, deterministic, mu, hasher, prehashed, len }))
}

/// What C_EncapsulateKey comes to.
pub enum Encapsulation {
    /// The ciphertext's length only: the caller asked for it, or gave too little room.
    Length(usize),
    /// The ciphertext and the new key.
    Made { ciphertext: Vec<u8>, key: CK_OBJECT_HANDLE },
}

/// The shared secret as the new key's value: CKA_VALUE_LEN bytes of it if asked (no more
/// than the 32 there are), else all of it.
fn secret_value(template: &[Attribute], secret: &[u8]) -> Result<Bytes> {
    let n = super::kdf::derived_len(template, Some(secret.len()))?;
    Ok(Bytes::new(secret[..n].to_vec()))
}

/// The KEM a C_EncapsulateKey / C_DecapsulateKey names.
enum KemKind {
    MlKem,
    /// ECDH as a KEM (3.2 §6.3, CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE): the
    /// ciphertext is an ephemeral public key in the form C_DeriveKey takes the other party's
    /// (an uncompressed point, or X25519's 32 bytes); the shared secret goes through the
    /// parameter's KDF, if any (no parameter: CKD_NULL). The parameter names no public data.
    Ecdh {
        kdf: CK_ULONG,
        shared: Vec<u8>,
    },
    /// RSA as a KEM (3.2 §6.1, CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP): a fresh secret key of the
    /// template's type and length, encrypted to the public key; decapsulation is C_UnwrapKey's
    /// decryption.
    Rsa(RsaScheme),
    /// PKCS #3 Diffie-Hellman as a KEM (CKM_DH_PKCS_DERIVE, no public value given): an
    /// ephemeral pair on the recipient's group, its public value (padded to the prime's
    /// length) the ciphertext; the secret's rightmost bytes, as C_DeriveKey's.
    Dh,
    /// X9.42 Diffie-Hellman as a KEM (CKM_X9_42_DH_DERIVE, no public value given): as PKCS #3,
    /// the secret through the parameter's KDF and other info.
    X942 {
        kdf: CK_ULONG,
        other: Vec<u8>,
    },
}

/// The ciphertext length of Diffie-Hellman as a KEM: the prime's length in bytes.
fn dh_ciphertext_len(key: &ParsedKey) -> Result<usize> {
    match key {
        ParsedKey::Dh(k) => Ok(k.prime_bits().div_ceil(8)),
        ParsedKey::X942(k) => Ok(k.parts().p.len()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// `v` left-padded with zeros to `n` bytes.
fn padded(v: &[u8], n: usize) -> Vec<u8> {
    [vec![0u8; n.saturating_sub(v.len())], v.to_vec()].concat()
}

/// The ciphertext length of ECDH as a KEM for `key` (a public or private EC or X25519 key).
fn ecdh_ciphertext_len(key: &ParsedKey) -> Result<usize> {
    match key {
        ParsedKey::Ec(k) => Ok(1 + 2 * k.curve().field_len()),
        ParsedKey::X25519 { .. } => Ok(32),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

impl Module {
    /// The public (`encapsulate`) or private key `key` of a KEM, checked for the mechanism,
    /// its class and its CKA_ENCAPSULATE/CKA_DECAPSULATE: the object, its parsed key and the
    /// KEM with its parameter.
    fn kem_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
        encapsulate: bool,
    ) -> Result<(Arc<crate::object::Object>, Arc<ParsedKey>, KemKind)> {
        let (flag, usage, class) = if encapsulate {
            (CKF_ENCAPSULATE, CKA_ENCAPSULATE, CKO_PUBLIC_KEY)
        } else {
            (CKF_DECAPSULATE, CKA_DECAPSULATE, CKO_PRIVATE_KEY)
        };
        let (entry, obj) = match self.crypto_key(h, key, m, flag, usage) {
            // The other half of the pair has no such usage attribute: it is the wrong kind of
            // key, and CKR_KEY_TYPE_INCONSISTENT outranks CKR_KEY_FUNCTION_NOT_PERMITTED (§5.1.6).
            Err(Error::KeyFunctionNotPermitted) if self.key_object(h, key)?.class() != class => {
                return Err(Error::KeyTypeInconsistent);
            }
            r => r?,
        };
        let kem = match (entry.implementation, &m.params) {
            (Implementation::MlKem, Params::None) => KemKind::MlKem,
            (Implementation::Kdf(super::kdf::Kdf::Ecdh), Params::None) => {
                KemKind::Ecdh { kdf: CKD_NULL, shared: Vec::new() }
            }
            (Implementation::Kdf(super::kdf::Kdf::Ecdh), Params::Ecdh { kdf, shared, public }) if public.is_empty() => {
                KemKind::Ecdh { kdf: *kdf, shared: shared.clone() }
            }
            (Implementation::MlKem | Implementation::Kdf(super::kdf::Kdf::Ecdh), _) => {
                return Err(Error::MechanismParamInvalid);
            }
            (Implementation::Kdf(super::kdf::Kdf::Dh), Params::Data(d)) if d.is_empty() => KemKind::Dh,
            (Implementation::Kdf(super::kdf::Kdf::X942), Params::X942 { kdf, other_info, public, second: None })
                if public.is_empty() =>
            {
                KemKind::X942 { kdf: *kdf, other: other_info.clone() }
            }
            (Implementation::Kdf(super::kdf::Kdf::Dh | super::kdf::Kdf::X942), _) => {
                return Err(Error::MechanismParamInvalid);
            }
            // The parameter (OAEP's) is checked by the cipher.
            (Implementation::Rsa(s @ (RsaScheme::Pkcs1 | RsaScheme::Oaep)), _) => KemKind::Rsa(s),
            _ => return Err(Error::MechanismInvalid),
        };
        if obj.class() != class {
            return Err(Error::KeyTypeInconsistent);
        }
        let parsed = self.parsed_key(&obj)?;
        Ok((obj, parsed, kem))
    }

    /// C_EncapsulateKey: a fresh shared secret for the public key `key`, made a key from
    /// `template`, and its ciphertext, when `room` (the caller's buffer; `None` for a size
    /// query) holds the ciphertext; else its length only, and no key.
    pub fn encapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
        template: &[Attribute],
        room: Option<usize>,
    ) -> Result<Encapsulation> {
        let (obj, parsed, kem) = self.kem_key(h, m, key, true)?;
        let len = match (&kem, &*parsed) {
            (KemKind::MlKem, ParsedKey::MlKem { set, .. }) => set.ciphertext_len(),
            (KemKind::Ecdh { .. }, k) => ecdh_ciphertext_len(k)?,
            (KemKind::Rsa(_), ParsedKey::Rsa(k)) => k.size(),
            (KemKind::Dh | KemKind::X942 { .. }, k) => dh_ciphertext_len(k)?,
            _ => return Err(Error::KeyTypeInconsistent),
        };
        if room.is_none_or(|n| n < len) {
            return Ok(Encapsulation::Length(len));
        }
        let template = policy::merge_template(template, imposed(&obj, CKA_ENCAPSULATE_TEMPLATE))?;
        let (ciphertext, value) = match (&kem, &*parsed) {
            (KemKind::MlKem, ParsedKey::MlKem { set, public, .. }) => {
                let (ciphertext, secret) = set.encapsulate(public)?;
                (ciphertext, secret_value(&template, &secret)?)
            }
            (KemKind::Ecdh { kdf, shared }, k) => {
                let (ciphertext, z) = super::kdf::ephemeral_ecdh(k)?;
                let value = super::kdf::ecdh_value(z, *kdf, shared, &template)?;
                (ciphertext, Bytes::new(value.to_vec()))
            }
            (KemKind::Rsa(scheme), ParsedKey::Rsa(_)) => {
                // The parameter first; then a generated key: CKA_VALUE_LEN or the key type's
                // one length, a DES key with odd parity. More than the padding leaves room for
                // is the template's fault.
                let mut cipher = super::rsa::cipher(*scheme, m, parsed.clone(), true)?;
                let mut value = Bytes::new(crate::crypto::random_vec(super::kdf::derived_len(&template, None)?)?);
                super::des::set_parity_for(super::kdf::key_type(&template), &mut value);
                let ciphertext = cipher.one_shot(&value).map_err(|e| match e {
                    Error::DataLenRange => Error::TemplateInconsistent,
                    other => other,
                })?;
                (ciphertext, value)
            }
            (KemKind::Dh, ParsedKey::Dh(k)) => {
                let (p, g) = k.domain();
                let ephemeral = crate::crypto::dh::DhKey::generate(&p, &g, None)?;
                let z = ephemeral.agree(&k.public_value())?;
                (padded(&ephemeral.public_value(), len), Bytes::new(super::kdf::rightmost(z, &template)?.to_vec()))
            }
            (KemKind::X942 { kdf, other }, ParsedKey::X942(k)) => {
                let d = k.parts();
                let ephemeral = crate::crypto::dsa::DsaKey::generate(&d.p, &d.q, &d.g)?;
                let z = ephemeral.agree(&d.y)?;
                let value = super::kdf::x942_value(z, *kdf, other, &template)?;
                (padded(&ephemeral.parts().y, len), Bytes::new(value.to_vec()))
            }
            _ => return Err(Error::KeyTypeInconsistent),
        };
        // "The new key will have the CKA_ALWAYS_SENSITIVE attribute set to CK_FALSE, the
        // CKA_NEVER_EXTRACTABLE attribute set to CK_FALSE" (C_EncapsulateKey): the ciphertext
        // carries the secret to whoever holds the private key.
        let origin = Origin::Derive { value, base_always_sensitive: false, base_never_extractable: false };
        let key = self.create_with(h, &template, origin)?;
        Ok(Encapsulation::Made { ciphertext, key })
    }

    /// C_DecapsulateKey: the shared secret of `ciphertext` under the private key `key`, made
    /// a key from `template`.
    pub fn decapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
        ciphertext: &[u8],
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let (obj, parsed, kem) = self.kem_key(h, m, key, false)?;
        let len = match (&kem, &*parsed) {
            (KemKind::MlKem, ParsedKey::MlKem { set, private: Some(_), .. }) => set.ciphertext_len(),
            (KemKind::Ecdh { .. }, k @ (ParsedKey::Ec(_) | ParsedKey::X25519 { private: Some(_), .. })) => {
                ecdh_ciphertext_len(k)?
            }
            (KemKind::Rsa(_), ParsedKey::Rsa(k)) => k.size(),
            (KemKind::Dh | KemKind::X942 { .. }, k) => dh_ciphertext_len(k)?,
            _ => return Err(Error::KeyTypeInconsistent),
        };
        // RSA's codes are C_UnwrapKey's, to which the RSA section makes decapsulation
        // "exactly equivalent" (and which C_DecapsulateKey's return values name).
        let rsa = matches!(kem, KemKind::Rsa(_));
        if ciphertext.len() != len {
            return Err(if rsa { Error::WrappedKeyLenRange } else { Error::EncryptedDataLenRange });
        }
        let template = policy::merge_template(template, imposed(&obj, CKA_DECAPSULATE_TEMPLATE))?;
        let value = match (&kem, &*parsed) {
            (KemKind::MlKem, ParsedKey::MlKem { set, private: Some(dk), .. }) => {
                secret_value(&template, &set.decapsulate(dk, ciphertext)?)?
            }
            (KemKind::Ecdh { kdf, shared }, k) => {
                // A point off the curve (or X25519's all-zero result) is a bad ciphertext.
                let z = match super::kdf::ecdh_with(k, ciphertext) {
                    Err(Error::KeyTypeInconsistent) => return Err(Error::KeyTypeInconsistent),
                    z => z.map_err(|_| Error::EncryptedDataInvalid)?,
                };
                Bytes::new(super::kdf::ecdh_value(z, *kdf, shared, &template)?.to_vec())
            }
            (KemKind::Rsa(scheme), ParsedKey::Rsa(_)) => {
                let value =
                    Bytes::new(super::rsa::cipher(*scheme, m, parsed.clone(), false)?.one_shot(ciphertext).map_err(
                        |e| match e {
                            Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                            Error::EncryptedDataLenRange | Error::DataLenRange => Error::WrappedKeyLenRange,
                            other => other,
                        },
                    )?);
                super::wrap::check_secret_len(&template, Some(super::kdf::key_type(&template)), value.len())?;
                value
            }
            // A public value out of range (or outside the subgroup) is a bad ciphertext.
            (KemKind::Dh, ParsedKey::Dh(k)) => {
                let z = k.agree(ciphertext).map_err(|_| Error::EncryptedDataInvalid)?;
                Bytes::new(super::kdf::rightmost(z, &template)?.to_vec())
            }
            (KemKind::X942 { kdf, other }, ParsedKey::X942(k)) => {
                let z = k.agree(ciphertext).map_err(|_| Error::EncryptedDataInvalid)?;
                Bytes::new(super::kdf::x942_value(z, *kdf, other, &template)?.to_vec())
            }
            _ => return Err(Error::KeyTypeInconsistent),
        };
        // Not always sensitive, never extractable: the secret came from outside the token
        // (C_DecapsulateKey's text, as C_EncapsulateKey's above).
        let origin = Origin::Derive { value, base_always_sensitive: false, base_never_extractable: false };
        self.create_with(h, &template, origin)
    }
}

fn imposed(obj: &crate::object::Object, ty: CK_ATTRIBUTE_TYPE) -> &[Attribute] {
    match obj.get(ty) {
        Some(Value::Template(t)) => t,
        _ => &[],
    }
}

/// PKCS#8 PrivateKeyInfo of an ML-DSA (`family` 3) or ML-KEM (4) private key, in the
/// private key formats of RFC 9881 and of the ML-KEM certificate profile: the seed when the
/// key has one (`[0] IMPLICIT OCTET STRING`), else the expanded key (`OCTET STRING`).
pub fn pkcs8(family: u8, arc: u8, seed: Option<&[u8]>, expanded: &[u8]) -> Zeroizing<Vec<u8>> {
    use crate::crypto::ec::der_tlv;
    let inner = Zeroizing::new(match seed {
        Some(s) => der_tlv(0x80, s),
        None => der_tlv(0x04, expanded),
    });
    let mut body = Zeroizing::new(vec![0x02, 0x01, 0x00]);
    body.extend_from_slice(&der_tlv(0x30, &nist_oid(family, arc)));
    body.extend_from_slice(&Zeroizing::new(der_tlv(0x04, &inner)));
    Zeroizing::new(der_tlv(0x30, &body))
}

/// One DER TLV at the start of `b`: (tag, contents, the rest). Definite lengths of up to
/// three bytes.
pub(crate) fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (n as usize, rest),
        0x81..=0x83 => {
            let k = (first & 0x7f) as usize;
            let (bytes, rest) = (rest.get(..k)?, &rest[k..]);
            let len = bytes.iter().fold(0usize, |a, &x| a << 8 | x as usize);
            if len < 0x80 || bytes[0] == 0 {
                return None;
            }
            (len, rest)
        }
        _ => return None,
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The key type and parameter set an ML-DSA/ML-KEM AlgorithmIdentifier's contents name.
fn algorithm(alg: &[u8]) -> Option<(CK_KEY_TYPE, CK_ULONG)> {
    Some(match alg {
        [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 3, arc @ 17..=19] => {
            (CKK_ML_DSA, [CKP_ML_DSA_44, CKP_ML_DSA_65, CKP_ML_DSA_87][(*arc - 17) as usize])
        }
        [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 4, arc @ 1..=3] => {
            (CKK_ML_KEM, [CKP_ML_KEM_512, CKP_ML_KEM_768, CKP_ML_KEM_1024][(*arc - 1) as usize])
        }
        _ => return None,
    })
}

/// Reads a SubjectPublicKeyInfo holding an ML-DSA or ML-KEM key: (key type, parameter set,
/// encoded key). `None` when `der` is no such key.
pub fn parse_spki(der: &[u8]) -> Option<Result<(CK_KEY_TYPE, CK_ULONG, Vec<u8>)>> {
    let (0x30, body, []) = tlv(der)? else { return None };
    let (0x30, alg, rest) = tlv(body)? else { return None };
    let (kt, set) = algorithm(alg)?;
    let parsed = match tlv(rest) {
        Some((0x03, [0, key @ ..], [])) => Some((kt, set, key.to_vec())),
        _ => None,
    };
    Some(parsed.ok_or(Error::DataInvalid))
}

/// Reads a PKCS#8 PrivateKeyInfo holding an ML-DSA or ML-KEM key: its key type and the
/// attributes it stands for (parameter set, and seed and/or expanded key; checked when the
/// key object is completed). `None` when `der` is no such key (another algorithm's PKCS#8).
pub fn parse_pkcs8(der: &[u8]) -> Option<Result<(CK_KEY_TYPE, Vec<Attribute>)>> {
    let (0x30, body, []) = tlv(der)? else { return None };
    let (0x02, [0 | 1], rest) = tlv(body)? else { return None };
    let (0x30, alg, rest) = tlv(rest)? else { return None };
    let (kt, set) = algorithm(alg)?;
    // Ours from here on: anything malformed is an invalid wrapped key.
    let parsed = (|| {
        let (0x04, private, _attributes_or_public_key) = tlv(rest)? else { return None };
        let (tag, contents, []) = tlv(private)? else { return None };
        let mut attrs = vec![Attribute::new(CKA_PARAMETER_SET, Value::Ulong(set))];
        let bytes = |ty, v: &[u8]| Attribute::new(ty, Value::bytes(v));
        match tag {
            0x80 => attrs.push(bytes(CKA_SEED, contents)),
            0x04 => attrs.push(bytes(CKA_VALUE, contents)),
            0x30 => {
                let (0x04, seed, rest) = tlv(contents)? else { return None };
                let (0x04, expanded, []) = tlv(rest)? else { return None };
                attrs.extend([bytes(CKA_SEED, seed), bytes(CKA_VALUE, expanded)]);
            }
            _ => return None,
        }
        Some((kt, attrs))
    })();
    Some(parsed.ok_or(Error::WrappedKeyInvalid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_round_trips_and_rejects_garbage() {
        let der = pkcs8(3, 17, Some(&[7; 32]), &[]);
        assert_eq!(
            &der[..22],
            &[
                0x30, 0x34, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03,
                0x11, 0x04, 0x22, 0x80, 0x20
            ]
        );
        let (kt, attrs) = parse_pkcs8(&der).unwrap().unwrap();
        assert_eq!(kt, CKK_ML_DSA);
        assert_eq!(attrs[0].value, Value::Ulong(CKP_ML_DSA_44));
        assert_eq!(attrs[1].ty, CKA_SEED);
        let der = pkcs8(4, 3, None, &[1; 3168]);
        let (kt, attrs) = parse_pkcs8(&der).unwrap().unwrap();
        assert_eq!((kt, attrs[1].ty), (CKK_ML_KEM, CKA_VALUE));
        assert!(matches!(parse_pkcs8(&der[..der.len() - 1]), None | Some(Err(_))));
        let mut bad = der.to_vec();
        bad[24] = 0x31;
        assert!(matches!(parse_pkcs8(&bad), Some(Err(Error::WrappedKeyInvalid))));
        // Another algorithm's PKCS#8 (Ed25519) is not ours.
        assert!(parse_pkcs8(&crate::crypto::ec::pkcs8_25519(&[1; 32], true)).is_none());
        // SubjectPublicKeyInfo, as the token computes it.
        let spki = super::super::keys::spki_nist_pqc(4, 2, &[5; 1184]);
        let (kt, set, key) = parse_spki(&spki).unwrap().unwrap();
        assert_eq!((kt, set, key), (CKK_ML_KEM, CKP_ML_KEM_768, vec![5; 1184]));
        assert!(parse_spki(&crate::crypto::ec::spki_25519(&[1; 32], true)).is_none());
    }
}
