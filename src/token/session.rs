//! Session management (PKCS#11 3.2 §5.6): sessions with their typed operation slots,
//! C_Login/C_Logout with the spec's state rules, C_SessionCancel, and random numbers.

use crate::crypto;
use crate::error::{Error, Result};
use crate::mechanism::digest::DigestOp;
use crate::mechanism::message::MessageOp;
use crate::mechanism::ops::{CipherOp, MacOp};
use crate::module::{Login, Module, SlotView, UserKind};
use crate::store::{TokenId, Who};
use crossbeam_utils::CachePadded;
use cryptoki_sys::*;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// An active object search: the handles found at C_FindObjectsInit, handed out in order.
pub struct FindOp {
    pub handles: Vec<CK_OBJECT_HANDLE>,
    pub pos: usize,
}

/// One session: where it is, and its operations.
pub struct Session {
    pub slot: CK_SLOT_ID,
    pub token: TokenId,
    pub rw: bool,
    /// A session object was made in this session (closing it must look for them).
    pub has_objects: bool,
    /// Reached only through the shard's exclusive lock (`Mutex::get_mut`, never locked): the
    /// mutex is what lets a shard be shared for reading although operations are not `Sync`.
    ops: parking_lot::Mutex<Ops>,
}

/// Where a session is: what most calls need to know about it.
#[derive(Clone, Copy, Debug)]
pub struct SessionRef {
    pub slot: CK_SLOT_ID,
    pub token: TokenId,
    pub rw: bool,
}

/// Shards of the session table (a power of two).
const SHARDS: usize = 16;

type Shard = parking_lot::RwLock<HashMap<CK_SESSION_HANDLE, Session>>;

/// This process's sessions, sharded by handle: consecutive handles land in different shards,
/// so calls on different sessions (typically from different threads) take different locks,
/// and opening or closing a session locks one shard, not the module state.
pub struct SessionTable {
    shards: [CachePadded<Shard>; SHARDS],
    next: AtomicU64,
    /// Open sessions per token (C_CloseSession logs out with the last one).
    per_token: parking_lot::Mutex<HashMap<TokenId, usize>>,
}

impl Default for SessionTable {
    fn default() -> SessionTable {
        SessionTable {
            shards: std::array::from_fn(|_| CachePadded::new(Shard::default())),
            next: AtomicU64::new(1),
            per_token: Default::default(),
        }
    }
}

impl SessionTable {
    fn shard(&self, h: CK_SESSION_HANDLE) -> &Shard {
        &self.shards[(h as usize) & (SHARDS - 1)]
    }

    /// Where the session `h` is.
    pub fn get(&self, h: CK_SESSION_HANDLE) -> Result<SessionRef> {
        let shard = self.shard(h).read();
        let s = shard.get(&h).ok_or(Error::SessionHandleInvalid)?;
        Ok(SessionRef { slot: s.slot, token: s.token, rw: s.rw })
    }

    /// The session's operations, locked (with its shard) until the guard drops. Never
    /// look up a session while holding this: the shard lock is not re-entrant.
    pub fn ops(&self, h: CK_SESSION_HANDLE) -> Result<OpsGuard<'_>> {
        let shard = self.shard(h).write();
        parking_lot::RwLockWriteGuard::try_map(shard, |m| m.get_mut(&h).map(|s| s.ops.get_mut()))
            .map_err(|_| Error::SessionHandleInvalid)
    }

    /// Adds a session; returns its handle.
    pub fn open(&self, slot: CK_SLOT_ID, token: TokenId, rw: bool) -> CK_SESSION_HANDLE {
        let h = self.next.fetch_add(1, Ordering::Relaxed);
        *self.per_token.lock().entry(token).or_default() += 1;
        self.shard(h).write().insert(h, Session { slot, token, rw, has_objects: false, ops: Default::default() });
        h
    }

    /// Removes a session; returns it and how many sessions its token has left.
    pub fn close(&self, h: CK_SESSION_HANDLE) -> Result<(Session, usize)> {
        let s = self.shard(h).write().remove(&h).ok_or(Error::SessionHandleInvalid)?;
        let mut counts = self.per_token.lock();
        let left = counts.get_mut(&s.token).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            counts.remove(&s.token);
        }
        Ok((s, left.unwrap_or(0)))
    }

    /// Notes that the session made a session object.
    pub fn mark_has_objects(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut shard = self.shard(h).write();
        shard.get_mut(&h).ok_or(Error::SessionHandleInvalid)?.has_objects = true;
        Ok(())
    }

    /// How many sessions `token` has open.
    pub fn count_on(&self, token: TokenId) -> usize {
        self.per_token.lock().get(&token).copied().unwrap_or(0)
    }

    /// The sessions on `token`, as they are now.
    pub fn on_token(&self, token: TokenId) -> Vec<(CK_SESSION_HANDLE, SessionRef)> {
        self.all().into_iter().filter(|(_, s)| s.token == token).collect()
    }

    /// Every session, as it is now.
    pub fn all(&self) -> Vec<(CK_SESSION_HANDLE, SessionRef)> {
        let mut v = Vec::new();
        for shard in &self.shards {
            v.extend(shard.read().iter().map(|(h, s)| (*h, SessionRef { slot: s.slot, token: s.token, rw: s.rw })));
        }
        v
    }
}

/// A session's operations, locked.
pub type OpsGuard<'a> = parking_lot::MappedRwLockWriteGuard<'a, Ops>;

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
        // The shared lock is enough: the table has its own; C_Login (exclusive) sees either
        // this session or none.
        let st = self.state_read();
        if !rw && st.login(token).is_some_and(|l| l.user == UserKind::So) {
            return Err(Error::SessionReadWriteSoExists);
        }
        Ok(self.sessions.open(slot, token, rw))
    }

    /// C_CloseSession: also destroys the session's objects, and logs out with the last session.
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (s, left) = self.sessions.close(h)?;
        if !s.has_objects && left > 0 {
            return Ok(());
        }
        let mut st = self.state();
        if s.has_objects {
            st.session_objects.retain(|_, o| o.owner != h);
        }
        // A session opened since is a reason to stay logged in.
        if self.sessions.count_on(s.token) == 0 {
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
        let gone: Vec<_> = self.sessions.all().into_iter().filter(|(_, s)| s.slot == slot).map(|(h, _)| h).collect();
        for h in &gone {
            let _ = self.sessions.close(*h);
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
        let s = self.sessions.get(h)?;
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
            let s = self.sessions.get(h)?;
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
            if kind == UserKind::So && self.sessions.on_token(s.token).iter().any(|(_, s)| !s.rw) {
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
        if self.sessions.count_on(token) == 0 {
            return Err(Error::SessionClosed);
        }
        st.logins.insert(token, Login { user: kind, sealer });
        Ok(())
    }

    /// C_Logout.
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut st = self.state();
        let token = self.sessions.get(h)?.token;
        st.end_login(token).map(|_| ()).ok_or(Error::UserNotLoggedIn)
    }

    /// C_SessionCancel: ends the operations named by `flags`.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let mut s = self.ops(h)?;
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
        self.sessions.get(h)?;
        crypto::random_fill(out)
    }

    /// C_SeedRandom: AWS-LC's DRBG seeds itself from the OS; extra seed is accepted and
    /// not needed.
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
        self.sessions.get(h).map(|_| ())
    }
}
