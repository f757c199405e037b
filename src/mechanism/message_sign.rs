//! Message-based signing and verification (PKCS#11 3.2 §5.14, §5.16): C_MessageSignInit,
//! C_SignMessage, C_SignMessageBegin/Next, C_MessageSignFinal and the verify side. The
//! process keeps the mechanism and key of its init; each message is a signature or MAC of its
//! own, made as C_SignInit would make it. No mechanism the token offers has a per-message
//! parameter: the calls take none.

use super::Mechanism;
use super::ops::Mac;
use crate::error::{Error, Result};
use crate::module::Module;
use cryptoki_sys::*;

/// A message-based signing or verification process.
pub struct MessageMac {
    mechanism: Mechanism,
    key: CK_OBJECT_HANDLE,
    /// Signing with a key of CKA_ALWAYS_AUTHENTICATE: each message wants a
    /// CKU_CONTEXT_SPECIFIC login first.
    pub(crate) needs_auth: bool,
    /// That login was made for the next message.
    pub(crate) authorized: bool,
    /// The length of each signature.
    len: usize,
    /// The message begun by C_SignMessageBegin / C_VerifyMessageBegin.
    current: Option<Box<dyn Mac>>,
}

/// Signing or verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageDir {
    Sign,
    Verify,
}

impl MessageDir {
    fn checks(self) -> (CK_FLAGS, CK_ATTRIBUTE_TYPE) {
        match self {
            MessageDir::Sign => (CKF_MESSAGE_SIGN, CKA_SIGN),
            MessageDir::Verify => (CKF_MESSAGE_VERIFY, CKA_VERIFY),
        }
    }
}

/// What a signing call comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Signed {
    /// A size query, or a buffer too small: this many bytes are needed.
    Length(usize),
    /// The signature.
    Data(Vec<u8>),
}

impl Module {
    pub(crate) fn message_mac_slot(s: &mut crate::token::session::Ops, dir: MessageDir) -> &mut Option<MessageMac> {
        match dir {
            MessageDir::Sign => &mut s.message_sign,
            MessageDir::Verify => &mut s.message_verify,
        }
    }

    /// C_MessageSignInit / C_MessageVerifyInit.
    pub fn message_mac_init(
        &self,
        h: CK_SESSION_HANDLE,
        dir: MessageDir,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if self.with_ops(h, |s| Ok(Module::message_mac_slot(s, dir).is_some()))? {
            return Err(Error::OperationActive);
        }
        let (flag, usage) = dir.checks();
        // The key and mechanism are checked now, as C_SignInit checks them.
        let (mac, needs_auth) = self.make_mac(h, m, key, flag, usage)?;
        let process = MessageMac {
            mechanism: m.clone(),
            key,
            needs_auth: needs_auth && dir == MessageDir::Sign,
            authorized: false,
            len: mac.output_len(),
            current: None,
        };
        self.with_ops(h, |s| {
            let slot = Module::message_mac_slot(s, dir);
            if slot.is_some() {
                return Err(Error::OperationActive);
            }
            *slot = Some(process);
            Ok(())
        })
    }

    /// A new signature or MAC for one message of the process. A key that wants the
    /// context-specific login before each use signs one message per login.
    fn message_mac(&self, h: CK_SESSION_HANDLE, dir: MessageDir) -> Result<(Box<dyn Mac>, usize)> {
        let (m, key, len, authorized) = self.with_ops(h, |s| {
            let p = Module::message_mac_slot(s, dir).as_mut().ok_or(Error::OperationNotInitialized)?;
            if p.current.is_some() {
                return Err(Error::OperationActive);
            }
            Ok((p.mechanism.clone(), p.key, p.len, std::mem::take(&mut p.authorized)))
        })?;
        let (flag, usage) = dir.checks();
        let (mac, needs_auth) = self.make_mac(h, &m, key, flag, usage)?;
        if needs_auth && dir == MessageDir::Sign && !authorized {
            return Err(Error::UserNotLoggedIn);
        }
        Ok((mac, len))
    }

    /// The signature length of the process (size queries).
    pub fn message_mac_len(&self, h: CK_SESSION_HANDLE, dir: MessageDir) -> Result<usize> {
        self.with_ops(h, |s| Ok(Module::message_mac_slot(s, dir).as_ref().ok_or(Error::OperationNotInitialized)?.len))
    }

    /// C_SignMessage: `data` signed, for a buffer of `cap` bytes (`None`: a size query). A
    /// buffer too small for the signature is answered before anything is signed.
    pub fn sign_message(&self, h: CK_SESSION_HANDLE, data: &[u8], cap: Option<usize>) -> Result<Signed> {
        let len = self.message_mac_len(h, MessageDir::Sign)?;
        if cap.is_none_or(|c| c < len) {
            // A size query during a message in parts is refused as the call would be.
            self.with_ops(h, |s| match &s.message_sign {
                Some(p) if p.current.is_some() => Err(Error::OperationActive),
                _ => Ok(()),
            })?;
            return Ok(Signed::Length(len));
        }
        let (mut mac, len) = self.message_mac(h, MessageDir::Sign)?;
        mac.update(data);
        Ok(Signed::Data(finish(mac, len)?))
    }

    /// C_VerifyMessage: whether `signature` is that of `data`.
    pub fn verify_message(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        let (mut mac, len) = self.message_mac(h, MessageDir::Verify)?;
        if signature.len() != len {
            return Err(Error::SignatureLenRange);
        }
        mac.update(data);
        mac.check(signature)
    }

    /// C_SignMessageBegin / C_VerifyMessageBegin.
    pub fn message_mac_begin(&self, h: CK_SESSION_HANDLE, dir: MessageDir) -> Result<()> {
        let (mac, _) = self.message_mac(h, dir)?;
        self.with_ops(h, |s| {
            let p = Module::message_mac_slot(s, dir).as_mut().ok_or(Error::OperationNotInitialized)?;
            p.current = Some(mac);
            Ok(())
        })
    }

    /// C_SignMessageNext / C_VerifyMessageNext with more to come: `part` is added. A
    /// single-part mechanism takes no parts (as C_SignUpdate: the message ends); any error
    /// ends the message.
    pub fn message_mac_update(&self, h: CK_SESSION_HANDLE, dir: MessageDir, part: &[u8]) -> Result<()> {
        self.with_ops(h, |s| {
            let p = Module::message_mac_slot(s, dir).as_mut().ok_or(Error::OperationNotInitialized)?;
            let mac = p.current.as_mut().ok_or(Error::OperationNotInitialized)?;
            if mac.single_part() {
                return Err(Error::OperationNotInitialized);
            }
            mac.update(part);
            Ok(())
        })
    }

    /// The last C_SignMessageNext: `part` added and the signature made, for a buffer of `cap`
    /// bytes (`None`: a size query, which adds nothing). Ends the message unless it answers a
    /// length.
    pub fn sign_message_next(&self, h: CK_SESSION_HANDLE, part: &[u8], cap: Option<usize>) -> Result<Signed> {
        let (mac, len) = self.with_ops(h, |s| {
            let p = s.message_sign.as_mut().ok_or(Error::OperationNotInitialized)?;
            if p.current.is_none() {
                return Err(Error::OperationNotInitialized);
            }
            let take = cap.is_some_and(|c| c >= p.len);
            Ok((if take { p.current.take() } else { None }, p.len))
        })?;
        let Some(mut mac) = mac else {
            return Ok(Signed::Length(len));
        };
        mac.update(part);
        Ok(Signed::Data(finish(mac, len)?))
    }

    /// The last C_VerifyMessageNext: `part` added and `signature` checked. Ends the message.
    pub fn verify_message_next(&self, h: CK_SESSION_HANDLE, part: &[u8], signature: &[u8]) -> Result<()> {
        let (mut mac, len) = self.with_ops(h, |s| {
            let p = s.message_verify.as_mut().ok_or(Error::OperationNotInitialized)?;
            Ok((p.current.take().ok_or(Error::OperationNotInitialized)?, p.len))
        })?;
        if signature.len() != len {
            return Err(Error::SignatureLenRange);
        }
        mac.update(part);
        mac.check(signature)
    }

    /// Ends the message in progress after an error (the process goes on).
    pub fn message_mac_abort(&self, h: CK_SESSION_HANDLE, dir: MessageDir) {
        let _ = self.with_ops(h, |s| {
            if let Some(p) = Module::message_mac_slot(s, dir) {
                p.current = None;
            }
            Ok(())
        });
    }

    /// C_MessageSignFinal / C_MessageVerifyFinal.
    pub fn message_mac_final(&self, h: CK_SESSION_HANDLE, dir: MessageDir) -> Result<()> {
        self.with_ops(h, |s| Module::message_mac_slot(s, dir).take().map(drop).ok_or(Error::OperationNotInitialized))
    }
}

/// A signature or MAC of `len` bytes (MACs of the _GENERAL mechanisms are cut to it).
fn finish(mac: Box<dyn Mac>, len: usize) -> Result<Vec<u8>> {
    let mut full = mac.try_finish()?.into_vec();
    full.truncate(len);
    Ok(full)
}
