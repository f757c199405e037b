//! C_GetOperationState / C_SetOperationState (PKCS#11 3.2 §5.6) for SHA-1/SHA-2 digests and
//! HMACs. The saved state holds running hash contexts (key-equivalent for an HMAC), so it is
//! sealed with AES-256-GCM under a key that lives only in this module instance: a state can
//! be restored into any session of the same process, and is opaque and tamper-evident to
//! the caller. Other operations, and SHA-3-based ones, are CKR_STATE_UNSAVEABLE. An HMAC
//! state is restored only with its key, which must still pass C_SignInit's (C_VerifyInit's)
//! checks.

use super::Implementation;
use super::digest::{DigestOp, Engine};
use super::ops::{MacDir, MacOp, Stage};
use crate::crypto::{self, sha::Sha};
use crate::error::{Error, Result};
use crate::module::Module;
use cryptoki_sys::*;

const DIGEST: u8 = 1;
const SIGN: u8 = 2;
const VERIFY: u8 = 3;
const AAD: &[u8] = b"oxihsm operation state v1";

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::SavedStateInvalid);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
}

impl Module {
    /// C_GetOperationState.
    pub fn get_operation_state(&self, h: CK_SESSION_HANDLE) -> Result<Vec<u8>> {
        let s = self.ops(h)?;
        if s.encrypt.is_some()
            || s.decrypt.is_some()
            || s.message_encrypt.is_some()
            || s.message_decrypt.is_some()
            || s.message_sign.is_some()
            || s.message_verify.is_some()
            || s.verify_signature.is_some()
        {
            return Err(Error::StateUnsaveable);
        }
        let mut out = vec![1u8];
        let active = [s.digest.is_some(), s.sign.is_some(), s.verify.is_some()];
        match active {
            [false, false, false] => return Err(Error::OperationNotInitialized),
            [true, false, false] => {
                let op = s.digest.as_ref().expect("checked");
                let Engine::Low(sha) = &op.ctx else { return Err(Error::StateUnsaveable) };
                out.extend_from_slice(&[DIGEST, op.stage.to_u8()]);
                out.extend_from_slice(&(op.mechanism as u64).to_le_bytes());
                out.extend_from_slice(&sha.to_bytes());
            }
            [false, true, false] | [false, false, true] => {
                let (kind, op) = if active[1] { (SIGN, s.sign.as_ref()) } else { (VERIFY, s.verify.as_ref()) };
                let op = op.expect("checked");
                let (state, uid) = op.mac.as_ref().and_then(|m| m.state()).ok_or(Error::StateUnsaveable)?;
                out.extend_from_slice(&[kind, op.stage.to_u8()]);
                out.extend_from_slice(&(op.mechanism as u64).to_le_bytes());
                out.extend_from_slice(&(op.len as u64).to_le_bytes());
                out.extend_from_slice(&(uid.len() as u64).to_le_bytes());
                out.extend_from_slice(uid.as_bytes());
                out.extend_from_slice(&state);
            }
            _ => return Err(Error::StateUnsaveable),
        }
        let sealed = crypto::seal(self.op_state_key()?, AAD, &out);
        zeroize::Zeroize::zeroize(&mut out);
        sealed
    }

    /// C_SetOperationState.
    pub fn set_operation_state(
        &self,
        h: CK_SESSION_HANDLE,
        state: &[u8],
        encryption_key: CK_OBJECT_HANDLE,
        authentication_key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.sessions.get(h)?;
        let plain = crypto::open(self.op_state_key()?, AAD, state).map_err(|_| Error::SavedStateInvalid)?;
        let mut r = Reader(&plain);
        if r.u8()? != 1 {
            return Err(Error::SavedStateInvalid);
        }
        let kind = r.u8()?;
        let stage = Stage::from_u8(r.u8()?)?;
        let mechanism = r.u64()? as CK_MECHANISM_TYPE;
        if encryption_key != CK_INVALID_HANDLE {
            return Err(Error::KeyNotNeeded);
        }
        match kind {
            DIGEST => {
                if authentication_key != CK_INVALID_HANDLE {
                    return Err(Error::KeyNotNeeded);
                }
                let sha = Sha::from_bytes(r.0)?;
                let op = DigestOp { ctx: Engine::Low(sha), stage, mechanism };
                self.with_ops(h, |s| {
                    s.digest = Some(op);
                    Ok(())
                })?;
            }
            SIGN | VERIFY => {
                let len = r.u64()? as usize;
                let uid_len = r.u64()? as usize;
                let uid = String::from_utf8(r.take(uid_len)?.to_vec()).map_err(|_| Error::SavedStateInvalid)?;
                if authentication_key == CK_INVALID_HANDLE {
                    return Err(Error::KeyNeeded);
                }
                let key = self.key_object(h, authentication_key)?;
                if key.unique_id() != uid {
                    return Err(Error::KeyChanged);
                }
                if !matches!(super::lookup(mechanism).map(|e| e.implementation), Some(Implementation::Mac(_))) {
                    return Err(Error::SavedStateInvalid);
                }
                // The key may have lost CKA_SIGN / CKA_VERIFY since the state was saved: the
                // key checks of C_SignInit / C_VerifyInit again (and its audit record, if kept).
                let dir = if kind == SIGN { MacDir::Sign } else { MacDir::Verify };
                let (flag, usage) = dir.flag_and_usage();
                self.with_crypto_key(h, authentication_key, mechanism, flag, usage, |_, _| Ok(()))?;
                let mac = super::mac::restore_hmac(r.0, len, &uid)?;
                let op = MacOp::restored(mac, len, stage, mechanism);
                self.with_ops(h, |s| {
                    if kind == SIGN {
                        s.sign = Some(op);
                    } else {
                        s.verify = Some(op);
                    }
                    Ok(())
                })?;
            }
            _ => return Err(Error::SavedStateInvalid),
        }
        Ok(())
    }
}
