//! ECDSA (PKCS#11 3.2 §6.3) and DSA (§6.2) over a hash of any length and their SHA-1/SHA-2/
//! SHA-3 hashed variants, with r||s signatures; EdDSA (§6.3.x) for Ed25519: pure, Ed25519ph
//! and Ed25519ctx through CK_EDDSA_PARAMS.

use super::digest::Engine;
use super::keys::ParsedKey;
use super::ops::Mac;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::ec::{self, EdVariant};
use crate::crypto::evp::Hash;
use crate::error::{Error, Result};
use crate::secret::Bytes;
use cryptoki_sys::*;
use std::sync::Arc;

const ECDSA_HASHED: [(CK_MECHANISM_TYPE, Hash); 9] = [
    (CKM_ECDSA_SHA1, Hash::Sha1),
    (CKM_ECDSA_SHA224, Hash::Sha224),
    (CKM_ECDSA_SHA256, Hash::Sha256),
    (CKM_ECDSA_SHA384, Hash::Sha384),
    (CKM_ECDSA_SHA512, Hash::Sha512),
    (CKM_ECDSA_SHA3_224, Hash::Sha3_224),
    (CKM_ECDSA_SHA3_256, Hash::Sha3_256),
    (CKM_ECDSA_SHA3_384, Hash::Sha3_384),
    (CKM_ECDSA_SHA3_512, Hash::Sha3_512),
];

const DSA_HASHED: [(CK_MECHANISM_TYPE, Hash); 9] = [
    (CKM_DSA_SHA1, Hash::Sha1),
    (CKM_DSA_SHA224, Hash::Sha224),
    (CKM_DSA_SHA256, Hash::Sha256),
    (CKM_DSA_SHA384, Hash::Sha384),
    (CKM_DSA_SHA512, Hash::Sha512),
    (CKM_DSA_SHA3_224, Hash::Sha3_224),
    (CKM_DSA_SHA3_256, Hash::Sha3_256),
    (CKM_DSA_SHA3_384, Hash::Sha3_384),
    (CKM_DSA_SHA3_512, Hash::Sha3_512),
];

pub fn register(r: &mut Registry) {
    let sv = CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    r.add(Entry {
        ty: CKM_ECDSA,
        info: info(224, 521, sv),
        params: ParamShape::None,
        key_types: &[CKK_EC],
        implementation: Implementation::Ecdsa(None),
    });
    for (ty, h) in ECDSA_HASHED {
        r.add(Entry {
            ty,
            info: info(224, 521, sv),
            params: ParamShape::None,
            key_types: &[CKK_EC],
            implementation: Implementation::Ecdsa(Some(h)),
        });
    }
    // DSA: the key sizes are those of p, in bits.
    let dsa_info = info(
        crate::crypto::dsa::MIN_P_BITS as CK_ULONG,
        crate::crypto::dsa::MAX_P_BITS as CK_ULONG,
        CKF_SIGN | CKF_VERIFY,
    );
    r.add(Entry {
        ty: CKM_DSA,
        info: dsa_info,
        params: ParamShape::None,
        key_types: &[CKK_DSA],
        implementation: Implementation::Ecdsa(None),
    });
    for (ty, h) in DSA_HASHED {
        r.add(Entry {
            ty,
            info: dsa_info,
            params: ParamShape::None,
            key_types: &[CKK_DSA],
            implementation: Implementation::Ecdsa(Some(h)),
        });
    }
    r.add(Entry {
        ty: CKM_EDDSA,
        info: info(255, 255, CKF_SIGN | CKF_VERIFY),
        params: ParamShape::EdDsa,
        key_types: &[CKK_EC_EDWARDS],
        implementation: Implementation::EdDsa,
    });
    use super::keypair::PairKind;
    for (ty, kind, min, max, flags) in [
        (
            CKM_EC_KEY_PAIR_GEN,
            PairKind::Ec,
            224,
            521,
            CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        ),
        (
            CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS,
            PairKind::EcExtraBits,
            224,
            521,
            CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        ),
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, PairKind::Edwards, 255, 255, CKF_GENERATE_KEY_PAIR),
        (
            CKM_DSA_KEY_PAIR_GEN,
            PairKind::Dsa,
            crate::crypto::dsa::MIN_P_BITS as CK_ULONG,
            crate::crypto::dsa::MAX_P_BITS as CK_ULONG,
            CKF_GENERATE_KEY_PAIR,
        ),
        (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, PairKind::Montgomery, 255, 255, CKF_GENERATE_KEY_PAIR),
    ] {
        r.add(Entry {
            ty,
            info: info(min, max, flags),
            params: ParamShape::None,
            key_types: &[],
            implementation: Implementation::KeyPair(kind),
        });
    }
}

struct Ecdsa {
    key: Arc<ParsedKey>,
    hasher: Option<Engine>,
    buf: Bytes,
    len: usize,
}

/// The hash lengths CKM_DSA signs (its section's table: 20, 28, 32, 48 or 64 bytes);
/// CKM_ECDSA takes any length.
const DSA_DIGEST_LENS: [usize; 5] = [20, 28, 32, 48, 64];

impl Ecdsa {
    fn digest(self: Box<Self>) -> Result<(Arc<ParsedKey>, Bytes)> {
        let Ecdsa { key, hasher, buf, .. } = *self;
        if hasher.is_none() && matches!(&*key, ParsedKey::Dsa(_)) && !DSA_DIGEST_LENS.contains(&buf.len()) {
            return Err(Error::DataLenRange);
        }
        Ok((key, hasher.map(|h| Bytes::new(h.finish())).unwrap_or(buf)))
    }
}

impl Mac for Ecdsa {
    fn update(&mut self, data: &[u8]) {
        match &mut self.hasher {
            Some(h) => h.update(data),
            None => self.buf.extend_from_slice(data),
        }
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        let (key, digest) = self.digest()?;
        match &*key {
            ParsedKey::Ec(k) => Ok(Bytes::new(k.sign(&digest)?)),
            ParsedKey::Dsa(k) => Ok(Bytes::new(k.sign(&digest)?)),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
    fn output_len(&self) -> usize {
        self.len
    }
    fn check(self: Box<Self>, sig: &[u8]) -> Result<()> {
        let (key, digest) = self.digest()?;
        match &*key {
            ParsedKey::Ec(k) => k.verify(&digest, sig),
            ParsedKey::Dsa(k) => k.verify(&digest, sig),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
}

/// Builds an ECDSA or DSA signer/verifier (by the key); `hash` for the hashed variants.
pub fn ecdsa(hash: Option<Hash>, m: &Mechanism, key: Arc<ParsedKey>) -> Result<Box<dyn Mac>> {
    if m.params != Params::None {
        return Err(Error::MechanismParamInvalid);
    }
    let len = match &*key {
        ParsedKey::Ec(k) => 2 * k.curve().field_len(),
        ParsedKey::Dsa(k) => 2 * k.q_len(),
        _ => return Err(Error::KeyTypeInconsistent),
    };
    let hasher = hash.map(Engine::new).transpose()?;
    Ok(Box::new(Ecdsa { key, hasher, buf: Bytes::default(), len }))
}

struct EdDsa {
    key: Arc<ParsedKey>,
    variant: EdVariant,
    buf: Bytes,
}

impl Mac for EdDsa {
    fn update(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        match &*self.key {
            ParsedKey::Ed25519 { expanded: Some(s), .. } => {
                Ok(Bytes::new(ec::ed25519_sign(s, &self.buf, &self.variant)?))
            }
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
    fn output_len(&self) -> usize {
        64
    }
    fn check(self: Box<Self>, sig: &[u8]) -> Result<()> {
        match &*self.key {
            ParsedKey::Ed25519 { public, .. } => ec::ed25519_verify(public, &self.buf, sig, &self.variant),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }
}

/// Builds an EdDSA signer/verifier.
pub fn eddsa(m: &Mechanism, key: Arc<ParsedKey>) -> Result<Box<dyn Mac>> {
    if !matches!(&*key, ParsedKey::Ed25519 { .. }) {
        return Err(Error::KeyTypeInconsistent);
    }
    let variant = match &m.params {
        Params::None => EdVariant::Pure,
        Params::EdDsa { prehash: true, context } => EdVariant::Ph(context.clone()),
        // A parameter with phFlag false asks for Ed25519ctx (the CKM_EDDSA table), never
        // pure Ed25519, whose signatures differ. RFC 8032 says its context SHOULD NOT be
        // empty and AWS-LC refuses an empty one: so does the token, rather than answer with
        // another scheme's signature.
        Params::EdDsa { prehash: false, context } => EdVariant::Ctx(context.clone()),
        _ => return Err(Error::MechanismParamInvalid),
    };
    if let EdVariant::Ctx(c) | EdVariant::Ph(c) = &variant
        && (c.len() > 255 || matches!(variant, EdVariant::Ctx(_)) && c.is_empty())
    {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(Box::new(EdDsa { key, variant, buf: Bytes::default() }))
}
