//! MACs for C_Sign/C_Verify (PKCS#11 3.2 §6.x HMAC, §6.16 AES-CMAC): HMAC over SHA-1, SHA-2
//! and SHA-3 and AES-CMAC, each with its _GENERAL variant (output length from the parameter).

use super::ops::Mac;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::{CmacCtx, Hash, HmacCtx};
use crate::crypto::sha::ShaHmac;
use crate::error::{Error, Result};
use crate::secret::Bytes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// What a MAC entry computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacKind {
    Hmac {
        hash: Hash,
        general: bool,
    },
    /// CMAC over AES, or over Triple DES.
    Cmac {
        general: bool,
        des3: bool,
    },
}

/// Key types usable with HMAC: generic secrets and every HMAC key type.
pub const HMAC_KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
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
];

/// (HMAC, HMAC_GENERAL, hash).
pub const HMACS: [(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, Hash); 11] = [
    (CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, Hash::Sha1),
    (CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, Hash::Sha224),
    (CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, Hash::Sha256),
    (CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, Hash::Sha384),
    (CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, Hash::Sha512),
    (CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL, Hash::Sha512_224),
    (CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL, Hash::Sha512_256),
    (CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, Hash::Sha3_224),
    (CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, Hash::Sha3_256),
    (CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, Hash::Sha3_384),
    (CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, Hash::Sha3_512),
];

pub fn register(r: &mut Registry) {
    let flags = CKF_SIGN | CKF_VERIFY;
    // MD5 HMAC as SoftHSMv2 offers it (outside HMACS: no KDF takes it as its PRF).
    for (plain, general, hash) in HMACS.into_iter().chain([(CKM_MD5_HMAC, CKM_MD5_HMAC_GENERAL, Hash::Md5)]) {
        for (ty, g) in [(plain, false), (general, true)] {
            r.add(Entry {
                ty,
                info: info(1, 512, flags),
                params: if g { ParamShape::MacGeneral } else { ParamShape::None },
                key_types: HMAC_KEY_TYPES,
                implementation: Implementation::Mac(MacKind::Hmac { hash, general: g }),
            });
        }
    }
    for (ty, g, des3) in [
        (CKM_AES_CMAC, false, false),
        (CKM_AES_CMAC_GENERAL, true, false),
        (CKM_DES3_CMAC, false, true),
        (CKM_DES3_CMAC_GENERAL, true, true),
    ] {
        r.add(Entry {
            ty,
            info: if des3 { info(16, 24, flags) } else { info(16, 32, flags) },
            params: if g { ParamShape::MacGeneral } else { ParamShape::None },
            key_types: if des3 { super::des::KEY_TYPES } else { &[CKK_AES] },
            implementation: Implementation::Mac(MacKind::Cmac { general: g, des3 }),
        });
    }
}

/// HMAC on a low-level SHA-1/SHA-2 context (its state can be saved), or through EVP (SHA-3).
// The large variant is the common one (SHA-1/SHA-2): boxing it would cost an allocation
// per operation for nothing.
#[allow(clippy::large_enum_variant)]
enum HmacEngine {
    Low(ShaHmac),
    Evp(HmacCtx),
}

struct Hmac(HmacEngine, usize);
struct Cmac(CmacCtx, usize);

impl Mac for Hmac {
    fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HmacEngine::Low(h) => h.update(data),
            HmacEngine::Evp(h) => h.update(data),
        }
    }
    fn finish(mut self: Box<Self>) -> Bytes {
        match &mut self.0 {
            HmacEngine::Low(h) => h.finish(),
            HmacEngine::Evp(h) => h.finish().into(),
        }
    }
    fn try_finish_into(mut self: Box<Self>, out: &mut [u8]) -> Result<usize> {
        match &mut self.0 {
            HmacEngine::Low(h) => Ok(h.finish_into(out)),
            HmacEngine::Evp(h) => Ok(super::ops::copy_prefix(&h.finish(), out)),
        }
    }
    fn output_len(&self) -> usize {
        self.1
    }
    fn state(&self) -> Option<Zeroizing<Vec<u8>>> {
        match &self.0 {
            HmacEngine::Low(h) => Some(h.to_bytes()),
            HmacEngine::Evp(_) => None,
        }
    }
}

/// Restores an HMAC saved by C_GetOperationState.
pub fn restore_hmac(state: &[u8], len: usize) -> Result<Box<dyn Mac>> {
    Ok(Box::new(Hmac(HmacEngine::Low(ShaHmac::from_bytes(state)?), len)))
}

impl Mac for Cmac {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data)
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.0.finish().into()
    }
    fn output_len(&self) -> usize {
        self.1
    }
}

fn out_len(general: bool, full: usize, p: &Params) -> Result<usize> {
    match (general, p) {
        (false, Params::None) => Ok(full),
        (true, Params::MacLen(n)) if (1..=full).contains(n) => Ok(*n),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// Builds the MAC for `kind` keyed with `key`.
pub fn mac(kind: MacKind, m: &Mechanism, key: &[u8], prepared: Option<&ShaHmac>) -> Result<Box<dyn Mac>> {
    Ok(match kind {
        MacKind::Hmac { hash, general } => {
            let n = out_len(general, hash.output_len(), &m.params)?;
            if let Some(p) = prepared {
                return Ok(Box::new(Hmac(HmacEngine::Low(p.clone()), n)));
            }
            let engine = match ShaHmac::new(hash, key) {
                Some(h) => HmacEngine::Low(h),
                None => HmacEngine::Evp(HmacCtx::new(hash, key)?),
            };
            Box::new(Hmac(engine, n))
        }
        MacKind::Cmac { general, des3: false } => {
            let n = out_len(general, 16, &m.params)?;
            Box::new(Cmac(CmacCtx::new(key)?, n))
        }
        MacKind::Cmac { general, des3: true } => {
            let n = out_len(general, 8, &m.params)?;
            Box::new(Cmac(CmacCtx::des3(key)?, n))
        }
    })
}
