//! Session management (PKCS#11 3.2 §5.6): sessions with their typed operation slots,
//! C_Login/C_Logout with the spec's state rules, C_SessionCancel, and random numbers.

use crate::crypto;
use crate::error::{Error, Result};
use crate::mechanism::digest::DigestOp;
use crate::mechanism::message::MessageOp;
use crate::mechanism::ops::{CipherOp, MacOp};
use crate::module::{Login, Module, SlotView, UserKind};
use crate::store::{TokenId, Who};
use cryptoki_sys::*;
use std::sync::Arc;

/// An active object search: the handles found at C_FindObjectsInit, handed out in order.
pub struct FindOp {
    pub handles: Vec<CK_OBJECT_HANDLE>,
    pub pos: usize,
}

/// One session: where it is, and its operations behind their own lock, so that calls on
/// different sessions do not wait for each other.
pub struct Session {
    pub slot: CK_SLOT_ID,
    pub token: TokenId,
    pub rw: bool,
    pub ops: parking_lot::Mutex<Ops>,
}

/// A session's operations. Each kind of operation has its own typed slot.
#[derive(Default)]
pub struct Ops {
    pub find: Option<FindOp>,
    pub digest: Option<DigestOp>,
    pub encrypt: Option<CipherOp>,
    pub decrypt: Option<CipherOp>,
    pub sign: Option<MacOp>,
    pub verify: Option<MacOp>,
    pub message_encrypt: Option<MessageOp>,
    pub message_decrypt: Option<MessageOp>,
    pub sign_recover: Option<CipherOp>,
    pub verify_recover: Option<CipherOp>,
}

/// What C_GetSessionInfo reports.
pub struct SessionInfo {
    pub slot: CK_SLOT_ID,
    pub state: CK_STATE,
    pub flags: CK_FLAGS,
}

impl Module {
    /// C_OpenSession.
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let token = self.token_in_slot(slot as u64)?;
        let rw = flags & CKF_RW_SESSION != 0;
        if rw && self.read_only() {
            return Err(Error::TokenWriteProtected);
        }
        let mut st = self.state();
        if !rw && st.login(token).is_some_and(|l| l.user == UserKind::So) {
            return Err(Error::SessionReadWriteSoExists);
        }
        let h = st.next_session;
        st.next_session += 1;
        st.sessions.insert(h, Session { slot, token, rw, ops: Default::default() });
        Ok(h)
    }

    /// C_CloseSession: also destroys the session's objects, and logs out with the last session.
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut st = self.state();
        let s = st.sessions.remove(&h).ok_or(Error::SessionHandleInvalid)?;
        st.session_objects.retain(|_, o| o.owner != h);
        if st.sessions_on(s.token).next().is_none() {
            st.end_login(s.token);
        }
        Ok(())
    }

    /// C_CloseAllSessions.
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        let token = match self.slot(slot as u64)? {
            SlotView::Token(t) => Some(t.id),
            SlotView::Uninitialised(_) => None,
        };
        let mut st = self.state();
        let gone: Vec<_> = st.sessions.iter().filter(|(_, s)| s.slot == slot).map(|(h, _)| *h).collect();
        for h in &gone {
            st.sessions.remove(h);
        }
        st.session_objects.retain(|_, o| !gone.contains(&o.owner));
        if let Some(t) = token {
            st.end_login(t);
        }
        Ok(())
    }

    /// C_GetSessionInfo.
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        let st = self.state_read();
        let s = st.session(h)?;
        let state = match (st.login(s.token).map(|l| l.user), s.rw) {
            (None, false) => CKS_RO_PUBLIC_SESSION,
            (None, true) => CKS_RW_PUBLIC_SESSION,
            (Some(UserKind::User), false) => CKS_RO_USER_FUNCTIONS,
            (Some(UserKind::User), true) => CKS_RW_USER_FUNCTIONS,
            (Some(UserKind::So), _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo { slot: s.slot, state, flags })
    }

    /// C_Login (and C_LoginUser, which has no user names here).
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let token = {
            let st = self.state_read();
            let s = st.session(h)?;
            let current = st.login(s.token).map(|l| l.user);
            let kind = match user {
                CKU_SO => UserKind::So,
                CKU_USER => UserKind::User,
                CKU_CONTEXT_SPECIFIC => {
                    if current != Some(UserKind::User) {
                        return Err(Error::UserNotLoggedIn);
                    }
                    let token = s.token;
                    drop(st);
                    return self.context_authenticate(h, || {
                        let t = self.token_record(token)?;
                        self.verify_pin(&t, Who::User, pin, true).map(drop)
                    });
                }
                _ => return Err(Error::UserTypeInvalid),
            };
            match current {
                Some(c) if c == kind => return Err(Error::UserAlreadyLoggedIn),
                Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
                None => {}
            }
            if kind == UserKind::So && st.sessions_on(s.token).any(|(_, s)| !s.rw) {
                return Err(Error::SessionReadOnlyExists);
            }
            (s.token, kind)
        };
        let (token, kind) = token;
        let t = self.token_record(token)?;
        let who = if kind == UserKind::So { Who::So } else { Who::User };
        let mk = self.verify_pin(&t, who, pin, true)?;
        let sealer = Arc::new(Module::sealer(&t, mk)?);
        let mut st = self.state();
        if st.login(token).is_some() {
            return Err(Error::UserAnotherAlreadyLoggedIn);
        }
        if st.sessions_on(token).next().is_none() {
            return Err(Error::SessionClosed);
        }
        st.logins.insert(token, Login { user: kind, sealer });
        Ok(())
    }

    /// C_Logout.
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut st = self.state();
        let token = st.session(h)?.token;
        st.end_login(token).map(|_| ()).ok_or(Error::UserNotLoggedIn)
    }

    /// C_SessionCancel: ends the operations named by `flags`.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let st = self.state_read();
        let mut s = st.ops(h)?;
        if flags & CKF_FIND_OBJECTS != 0 {
            s.find = None;
        }
        if flags & CKF_DIGEST != 0 {
            s.digest = None;
        }
        if flags & CKF_ENCRYPT != 0 {
            s.encrypt = None;
        }
        if flags & CKF_DECRYPT != 0 {
            s.decrypt = None;
        }
        if flags & CKF_SIGN != 0 {
            s.sign = None;
        }
        if flags & CKF_VERIFY != 0 {
            s.verify = None;
        }
        if flags & CKF_MESSAGE_ENCRYPT != 0 {
            s.message_encrypt = None;
        }
        if flags & CKF_MESSAGE_DECRYPT != 0 {
            s.message_decrypt = None;
        }
        if flags & CKF_SIGN_RECOVER != 0 {
            s.sign_recover = None;
        }
        if flags & CKF_VERIFY_RECOVER != 0 {
            s.verify_recover = None;
        }
        Ok(())
    }

    /// C_GenerateRandom.
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.state_read().session(h)?;
        crypto::random_fill(out)
    }

    /// C_SeedRandom: AWS-LC's DRBG seeds itself from the OS; extra seed is accepted and
    /// not needed.
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
        self.state_read().session(h).map(|_| ())
    }
}
