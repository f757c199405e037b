//! Message digests (PKCS#11 3.2 §5.12): SHA-1, SHA-2 and SHA-3 on AWS-LC, and MD5 as
//! SoftHSMv2 offers it.

use super::ops::Stage;
use super::{Entry, Implementation, Mechanism, ParamShape, Registry, info, lookup};
use crate::crypto::evp::{DigestCtx, Hash};
use crate::crypto::sha::Sha;
use crate::error::{Error, Result};
use crate::module::Module;
use cryptoki_sys::*;

/// Mechanism type and hash of every digest a mechanism parameter may name (MD5, offered as a
/// digest of its own, is not one of them).
pub const DIGESTS: [(CK_MECHANISM_TYPE, Hash); 11] = [
    (CKM_SHA_1, Hash::Sha1),
    (CKM_SHA224, Hash::Sha224),
    (CKM_SHA256, Hash::Sha256),
    (CKM_SHA384, Hash::Sha384),
    (CKM_SHA512, Hash::Sha512),
    (CKM_SHA512_224, Hash::Sha512_224),
    (CKM_SHA512_256, Hash::Sha512_256),
    (CKM_SHA3_224, Hash::Sha3_224),
    (CKM_SHA3_256, Hash::Sha3_256),
    (CKM_SHA3_384, Hash::Sha3_384),
    (CKM_SHA3_512, Hash::Sha3_512),
];

pub fn register(r: &mut Registry) {
    for (ty, hash) in DIGESTS.into_iter().chain([(CKM_MD5, Hash::Md5)]) {
        r.add(Entry {
            ty,
            info: info(0, 0, CKF_DIGEST),
            params: ParamShape::None,
            key_types: &[],
            implementation: Implementation::Digest(hash),
        });
    }
}

/// A running digest: on a low-level context when one exists (its state can be saved),
/// otherwise through EVP (SHA-3).
// The large variant is the common one (SHA-1/SHA-2): boxing it would cost an allocation
// per operation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Engine {
    Low(Sha),
    Evp(DigestCtx),
}

impl Engine {
    pub fn new(hash: Hash) -> Result<Engine> {
        Ok(match Sha::new(hash) {
            Some(s) => Engine::Low(s),
            None => Engine::Evp(DigestCtx::new(hash)?),
        })
    }

    pub fn hash(&self) -> Hash {
        match self {
            Engine::Low(s) => s.hash(),
            Engine::Evp(d) => d.hash(),
        }
    }

    pub fn update(&mut self, d: &[u8]) {
        match self {
            Engine::Low(s) => s.update(d),
            Engine::Evp(c) => c.update(d),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Engine::Low(s) => s.finish(),
            Engine::Evp(c) => c.finish(),
        }
    }
}

/// An active digest operation.
pub struct DigestOp {
    pub(crate) ctx: Engine,
    /// Single-part or multi-part, once a call has said.
    pub(crate) stage: Stage,
    pub(crate) mechanism: CK_MECHANISM_TYPE,
}

impl DigestOp {
    fn len(&self) -> usize {
        self.ctx.hash().output_len()
    }
}

impl Module {
    /// C_DigestInit.
    pub fn digest_init(&self, h: CK_SESSION_HANDLE, m: &Mechanism) -> Result<()> {
        self.with_ops(h, |s| {
            if s.digest.is_some() {
                return Err(Error::OperationActive);
            }
            let hash = match lookup(m.ty).map(|e| e.implementation) {
                Some(Implementation::Digest(hash)) => hash,
                _ => return Err(Error::MechanismInvalid),
            };
            s.digest = Some(DigestOp { ctx: Engine::new(hash)?, stage: Stage::Fresh, mechanism: m.ty });
            Ok(())
        })
    }

    /// Output length of the active digest, for C_Digest (`single`) or C_DigestFinal, whose
    /// call it records (CKR_OPERATION_ACTIVE when the operation began with the other kind).
    pub fn digest_len(&self, h: CK_SESSION_HANDLE, single: bool) -> Result<usize> {
        self.with_ops(h, |s| {
            let op = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.stage.enter(single)?;
            Ok(op.len())
        })
    }

    /// C_Digest: single part; ends the operation.
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>> {
        let mut op = self.with_ops(h, |s| {
            s.digest.as_mut().ok_or(Error::OperationNotInitialized)?.stage.enter(true)?;
            s.digest.take().ok_or(Error::OperationNotInitialized)
        })?;
        op.ctx.update(data);
        Ok(op.ctx.finish())
    }

    /// C_DigestUpdate.
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_ops(h, |s| {
            let op = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.stage.enter(false)?;
            op.ctx.update(data);
            Ok(())
        })
    }

    /// C_DigestKey: digests a secret key's value, whatever its sensitivity (§5.12).
    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        if self.ops(h)?.digest.is_none() {
            return Err(Error::OperationNotInitialized);
        }
        let obj = self.key_object(h, key)?;
        if obj.class() != CKO_SECRET_KEY {
            return Err(Error::KeyIndigestible);
        }
        let value = obj.bytes(CKA_VALUE).ok_or(Error::KeyIndigestible)?;
        self.with_ops(h, |s| {
            let op = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.stage.enter(false)?;
            op.ctx.update(value);
            Ok(())
        })
    }

    /// C_DigestFinal: ends the operation.
    pub fn digest_final(&self, h: CK_SESSION_HANDLE) -> Result<Vec<u8>> {
        let op = self.with_ops(h, |s| s.digest.take().ok_or(Error::OperationNotInitialized))?;
        Ok(op.ctx.finish())
    }

    /// Ends the active digest after an error, as the spec requires.
    pub fn digest_abort(&self, h: CK_SESSION_HANDLE) {
        let _ = self.with_ops(h, |s| {
            s.digest = None;
            Ok(())
        });
    }
}
