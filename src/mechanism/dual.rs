//! Dual-function cryptographic functions (PKCS#11 3.2 §5.17): C_DigestEncryptUpdate,
//! C_DecryptDigestUpdate, C_SignEncryptUpdate and C_DecryptVerifyUpdate. Each continues the
//! session's multi-part encryption or decryption and passes the plaintext of the part to its
//! digest, signing or verification. Only a part whose output reaches the caller is passed on:
//! a size query, a short buffer or an error passes nothing (the retry with room does).

use super::ops::{Dir, MacDir, Output, Step};
use crate::error::{Error, Result};
use crate::module::Module;
use cryptoki_sys::CK_SESSION_HANDLE;

/// The operation a dual function feeds with the plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Companion {
    Digest,
    Sign,
    Verify,
}

impl Module {
    /// One dual-function call: `dir` is Encrypt (the plaintext is `data`) or Decrypt (the
    /// plaintext is the output). `cap` is the caller's buffer length, `None` for a size query.
    pub fn dual_update(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        with: Companion,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        // The companion is checked first: the part must not be encrypted or decrypted for an
        // operation that cannot take its plaintext.
        self.companion_ready(h, with)?;
        let out = self.crypt(h, dir, Step::Update(data), cap, None)?;
        if let Output::Data(produced) = &out {
            let plain = if dir == Dir::Encrypt { data } else { produced };
            match with {
                Companion::Digest => self.digest_update(h, plain)?,
                Companion::Sign => self.mac_update(h, MacDir::Sign, plain)?,
                Companion::Verify => self.mac_update(h, MacDir::Verify, plain)?,
            }
        }
        Ok(out)
    }

    /// Whether the companion operation is active and can take a part. A signature or
    /// verification with a single-part mechanism ends as C_SignUpdate would end it, and so
    /// does a signature whose key wants the context-specific login first.
    fn companion_ready(&self, h: CK_SESSION_HANDLE, with: Companion) -> Result<()> {
        self.with_ops(h, |s| {
            let slot = match with {
                Companion::Digest => {
                    return s.digest.as_ref().map(drop).ok_or(Error::OperationNotInitialized);
                }
                Companion::Sign => &mut s.sign,
                Companion::Verify => &mut s.verify,
            };
            let op = slot.as_ref().ok_or(Error::OperationNotInitialized)?;
            let refused = match &op.mac {
                None => Some(Error::OperationNotInitialized),
                Some(mac) if mac.single_part() => Some(Error::OperationNotInitialized),
                Some(_) if with == Companion::Sign && op.needs_auth => Some(Error::UserNotLoggedIn),
                Some(_) => None,
            };
            match refused {
                Some(e) => {
                    *slot = None;
                    Err(e)
                }
                None => Ok(()),
            }
        })
    }

    /// Ends the companion operation after an error of a dual-function call.
    pub fn abort_companion(&self, h: CK_SESSION_HANDLE, with: Companion) {
        match with {
            Companion::Digest => self.digest_abort(h),
            Companion::Sign => self.abort_mac(h, MacDir::Sign),
            Companion::Verify => self.abort_mac(h, MacDir::Verify),
        }
    }
}
