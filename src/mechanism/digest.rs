//! Message digests (PKCS#11 3.2 §5.12, mechanisms of §6.x SHA-1, SHA-2, SHA-3) on AWS-LC:
//! C_DigestInit, C_Digest, C_DigestUpdate, C_DigestFinal.

use super::{Entry, Implementation, Mechanism, ParamShape, Registry, lookup};
use crate::error::{Error, Result};
use crate::module::Module;
use aws_lc_rs::digest as d;
use cryptoki_sys::*;

/// The digests AWS-LC's safe API offers.
pub fn register(r: &mut Registry) {
    let algs: [(CK_MECHANISM_TYPE, &'static d::Algorithm); 9] = [
        (CKM_SHA_1, &d::SHA1_FOR_LEGACY_USE_ONLY),
        (CKM_SHA224, &d::SHA224),
        (CKM_SHA256, &d::SHA256),
        (CKM_SHA384, &d::SHA384),
        (CKM_SHA512, &d::SHA512),
        (CKM_SHA512_256, &d::SHA512_256),
        (CKM_SHA3_256, &d::SHA3_256),
        (CKM_SHA3_384, &d::SHA3_384),
        (CKM_SHA3_512, &d::SHA3_512),
    ];
    for (ty, alg) in algs {
        r.add(Entry {
            ty,
            info: CK_MECHANISM_INFO {
                ulMinKeySize: 0,
                ulMaxKeySize: 0,
                flags: CKF_DIGEST,
            },
            params: ParamShape::None,
            implementation: Implementation::Digest(alg),
        });
    }
}

/// An active digest operation.
pub struct DigestOp {
    ctx: d::Context,
    /// C_DigestUpdate was called: only C_DigestUpdate/C_DigestFinal may follow.
    multipart: bool,
}

impl DigestOp {
    fn len(&self) -> usize {
        self.ctx.algorithm().output_len()
    }
}

impl Module {
    /// C_DigestInit.
    pub fn digest_init(&self, h: CK_SESSION_HANDLE, m: &Mechanism) -> Result<()> {
        let mut st = self.state();
        let s = st.session_mut(h)?;
        if s.digest.is_some() {
            return Err(Error::OperationActive);
        }
        let alg = match lookup(m.ty) {
            Some(Entry {
                implementation: Implementation::Digest(a),
                info,
                ..
            }) if info.flags & CKF_DIGEST != 0 => *a,
            _ => return Err(Error::MechanismInvalid),
        };
        s.digest = Some(DigestOp {
            ctx: d::Context::new(alg),
            multipart: false,
        });
        Ok(())
    }

    /// Output length of the active digest (size queries of C_Digest and C_DigestFinal).
    pub fn digest_len(&self, h: CK_SESSION_HANDLE) -> Result<usize> {
        let st = self.state();
        st.session(h)?
            .digest
            .as_ref()
            .map(DigestOp::len)
            .ok_or(Error::OperationNotInitialized)
    }

    /// C_Digest: single part; ends the operation.
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>> {
        let mut st = self.state();
        let s = st.session_mut(h)?;
        match &s.digest {
            None => return Err(Error::OperationNotInitialized),
            Some(op) if op.multipart => return Err(Error::OperationActive),
            Some(_) => {}
        }
        let mut op = s.digest.take().expect("checked");
        op.ctx.update(data);
        Ok(op.ctx.finish().as_ref().to_vec())
    }

    /// C_DigestUpdate.
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        let mut st = self.state();
        let op = st
            .session_mut(h)?
            .digest
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        op.multipart = true;
        op.ctx.update(data);
        Ok(())
    }

    /// C_DigestFinal: ends the operation.
    pub fn digest_final(&self, h: CK_SESSION_HANDLE) -> Result<Vec<u8>> {
        let mut st = self.state();
        let op = st
            .session_mut(h)?
            .digest
            .take()
            .ok_or(Error::OperationNotInitialized)?;
        Ok(op.ctx.finish().as_ref().to_vec())
    }

    /// Ends the active digest after an error, as the spec requires.
    pub fn digest_abort(&self, h: CK_SESSION_HANDLE) {
        if let Ok(s) = self.state().session_mut(h) {
            s.digest = None;
        }
    }
}
