//! Session management (PKCS#11 3.2 §5.6): sessions with their typed operation slots,
//! C_Login/C_Logout with the spec's state rules, C_SessionCancel, and random numbers.

use crate::crypto;
use crate::error::{Error, Result};
use crate::mechanism::digest::DigestOp;
use crate::mechanism::message::MessageOp;
use crate::mechanism::message_sign::MessageMac;
use crate::mechanism::ops::{CipherOp, MacOp};
use crate::module::{Login, Module, SlotView, UserKind};
use crate::store::{TokenId, Who};
use crossbeam_utils::CachePadded;
use crossbeam_utils::sync::ShardedLock;
use cryptoki_sys::*;
use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};

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
    /// The normal user is logged in to the token (kept with the module state's logins, under
    /// its exclusive lock, so that using a private key needs no state lock).
    pub user: bool,
    /// A session object was made in this session (closing it must look for them).
    pub has_objects: bool,
    /// Reached only through the shard's exclusive lock (`Mutex::get_mut`, never locked): the
    /// mutex is what lets a shard be shared for reading although operations are not `Sync`.
    ops: parking_lot::Mutex<Ops>,
}

impl Session {
    fn at(&self) -> SessionRef {
        SessionRef { slot: self.slot, token: self.token, rw: self.rw, user: self.user }
    }
}

/// Where a session is: what most calls need to know about it.
#[derive(Clone, Copy, Debug)]
pub struct SessionRef {
    pub slot: CK_SLOT_ID,
    pub token: TokenId,
    pub rw: bool,
    /// See [`Session::user`].
    pub user: bool,
}

/// Shards of the session table (a power of two), and how many of them one thread opens
/// sessions into, in turn.
const SHARDS: usize = 64;
const WINDOW: usize = 8;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// One shard: its sessions, and the sequence number of its next handle.
#[derive(Default)]
struct ShardMap {
    sessions: HashMap<CK_SESSION_HANDLE, Session>,
    next: CK_SESSION_HANDLE,
}

type Shard = parking_lot::RwLock<ShardMap>;

/// Tokens whose sessions are counted per shard (one cache line of counters per shard).
const COLUMNS: usize = 16;

/// How a token's open sessions are counted.
enum Counter {
    /// Per shard, in column `col` of [`SessionTable::counts`]: a thread opening and closing
    /// sessions in its own shards writes no line another thread writes. `hint` is a shard
    /// last seen holding one of the token's sessions, where a closing thread looks first.
    Column { col: usize, hint: CachePadded<AtomicUsize> },
    /// One shared counter, for tokens beyond the first `COLUMNS` with sessions.
    Shared(CachePadded<AtomicUsize>),
}

/// This process's sessions, sharded: a handle names its shard in its low bits.
///
/// Each thread opens its sessions into its own window of `WINDOW` shards, in turn: a thread
/// that opens and closes sessions touches lines no other thread writes (no shared counter,
/// no shared lock), and the sessions a thread keeps open at once (a pool handed to other
/// threads) still land in different shards, so calls on them take different locks.
pub struct SessionTable {
    shards: [CachePadded<Shard>; SHARDS],
    /// Open sessions per shard and token column (C_CloseSession logs out with the token's
    /// last session). Read without the shard lock; every update and load is `SeqCst`, so of
    /// two threads closing a token's last two sessions at once at least one sees both gone.
    counts: [CachePadded<[AtomicUsize; COLUMNS]>; SHARDS],
    /// Each token's counter, made at its first session and kept; found under the sharded
    /// lock's read side, which shares no lock word between threads.
    counters: ShardedLock<HashMap<TokenId, Box<Counter>>>,
}

impl Default for SessionTable {
    fn default() -> SessionTable {
        SessionTable {
            shards: std::array::from_fn(|_| CachePadded::new(Shard::default())),
            counts: std::array::from_fn(|_| CachePadded::new(std::array::from_fn(|_| AtomicUsize::new(0)))),
            counters: Default::default(),
        }
    }
}

thread_local! {
    /// Which shard of its window this thread opens its next session into.
    static TURN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl SessionTable {
    fn shard(&self, h: CK_SESSION_HANDLE) -> &Shard {
        &self.shards[(h as usize) & (SHARDS - 1)]
    }

    /// The shard this thread opens its next session into: its window follows from its
    /// thread number.
    fn shard_for_open() -> usize {
        let turn = TURN.with(|t| {
            let turn = t.get();
            t.set((turn + 1) % WINDOW);
            turn
        });
        (crate::spread::thread_number().wrapping_mul(WINDOW) + turn) & (SHARDS - 1)
    }

    /// Where the session `h` is.
    pub fn get(&self, h: CK_SESSION_HANDLE) -> Result<SessionRef> {
        let shard = self.shard(h).read();
        Ok(shard.sessions.get(&h).ok_or(Error::SessionHandleInvalid)?.at())
    }

    /// The session's operations, locked (with its shard) until the guard drops. Never
    /// look up a session while holding this: the shard lock is not re-entrant.
    pub fn ops(&self, h: CK_SESSION_HANDLE) -> Result<OpsGuard<'_>> {
        let shard = self.shard(h).write();
        parking_lot::RwLockWriteGuard::try_map(shard, |m| m.sessions.get_mut(&h).map(|s| s.ops.get_mut()))
            .map_err(|_| Error::SessionHandleInvalid)
    }

    /// Runs `f` on `token`'s session counter, made at first use.
    fn with_counter<T>(&self, token: TokenId, f: impl FnOnce(&Counter) -> T) -> T {
        {
            let counters = self.counters.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = counters.get(&token) {
                return f(c);
            }
        }
        let mut counters = self.counters.write().unwrap_or_else(PoisonError::into_inner);
        let n = counters.len();
        f(counters.entry(token).or_insert_with(|| {
            Box::new(if n < COLUMNS {
                Counter::Column { col: n, hint: Default::default() }
            } else {
                Counter::Shared(Default::default())
            })
        }))
    }

    /// Adds a session; returns its handle.
    /// Opens a session; `user`: the normal user is logged in to `token` (the caller holds the
    /// module state's lock, so that no login or logout changes that meanwhile).
    pub fn open(&self, slot: CK_SLOT_ID, token: TokenId, rw: bool, user: bool) -> CK_SESSION_HANDLE {
        let i = SessionTable::shard_for_open();
        // Counted before it can be found (and closed).
        self.with_counter(token, |c| match c {
            Counter::Column { col, .. } => self.counts[i][*col].fetch_add(1, Ordering::SeqCst),
            Counter::Shared(n) => n.fetch_add(1, Ordering::SeqCst),
        });
        let mut shard = self.shards[i].write();
        // Sequence numbers start at 1, so no handle is CK_INVALID_HANDLE (0).
        shard.next += 1;
        let h = (shard.next << SHARD_BITS) | i as CK_SESSION_HANDLE;
        shard.sessions.insert(h, Session { slot, token, rw, user, has_objects: false, ops: Default::default() });
        h
    }

    /// Records that the normal user logged in to (`true`) or out of `token`, in each of its
    /// sessions. Called under the module state's exclusive lock, with the login change.
    pub fn set_user(&self, token: TokenId, user: bool) {
        for shard in self.shards.iter() {
            for s in shard.write().sessions.values_mut().filter(|s| s.token == token) {
                s.user = user;
            }
        }
    }

    /// Removes a session; returns it, and whether it was its token's last (as far as this
    /// thread can tell without locks: [`SessionTable::count_on`] under the module's state
    /// lock is exact).
    pub fn close(&self, h: CK_SESSION_HANDLE) -> Result<(Session, bool)> {
        let i = (h as usize) & (SHARDS - 1);
        let s = self.shards[i].write().sessions.remove(&h).ok_or(Error::SessionHandleInvalid)?;
        let last = self.with_counter(s.token, |c| match c {
            Counter::Column { col, hint } => {
                if self.counts[i][*col].fetch_sub(1, Ordering::SeqCst) > 1 {
                    return false;
                }
                let holds = |j: usize| self.counts[j][*col].load(Ordering::SeqCst) > 0;
                if holds(hint.load(Ordering::Relaxed)) {
                    return false;
                }
                match (0..SHARDS).find(|&j| holds(j)) {
                    Some(j) => {
                        hint.store(j, Ordering::Relaxed);
                        false
                    }
                    None => true,
                }
            }
            Counter::Shared(n) => n.fetch_sub(1, Ordering::SeqCst) == 1,
        });
        Ok((s, last))
    }

    /// Notes that the session made a session object.
    pub fn mark_has_objects(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut shard = self.shard(h).write();
        shard.sessions.get_mut(&h).ok_or(Error::SessionHandleInvalid)?.has_objects = true;
        Ok(())
    }

    /// How many sessions `token` has open.
    pub fn count_on(&self, token: TokenId) -> usize {
        let counters = self.counters.read().unwrap_or_else(PoisonError::into_inner);
        match counters.get(&token).map(|c| &**c) {
            Some(Counter::Column { col, .. }) => self.counts.iter().map(|c| c[*col].load(Ordering::SeqCst)).sum(),
            Some(Counter::Shared(n)) => n.load(Ordering::SeqCst),
            None => 0,
        }
    }

    /// The sessions on `token`, as they are now.
    pub fn on_token(&self, token: TokenId) -> Vec<(CK_SESSION_HANDLE, SessionRef)> {
        self.all().into_iter().filter(|(_, s)| s.token == token).collect()
    }

    /// Every session, as it is now.
    pub fn all(&self) -> Vec<(CK_SESSION_HANDLE, SessionRef)> {
        let mut v = Vec::new();
        for shard in &self.shards {
            v.extend(shard.read().sessions.iter().map(|(h, s)| (*h, s.at())));
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
    pub verify_signature: Option<MacOp>,
    /// Boxed: each message call takes its operation out of the locked table and puts it
    /// back, which then moves a pointer, not the operation.
    pub message_encrypt: Option<Box<MessageOp>>,
    pub message_decrypt: Option<Box<MessageOp>>,
    pub message_sign: Option<MessageMac>,
    pub message_verify: Option<MessageMac>,
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
        // 3.2's asynchronous sessions: every operation here completes in its call, and the
        // tokens do not claim CKF_ASYNC_SESSION_SUPPORTED.
        if flags & CKF_ASYNC_SESSION != 0 {
            return Err(Error::SessionAsyncNotSupported);
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
        let user = st.login(token).is_some_and(|l| l.user == UserKind::User);
        Ok(self.sessions.open(slot, token, rw, user))
    }

    /// C_CloseSession: also destroys the session's objects, and logs out with the last session.
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (s, last) = self.sessions.close(h)?;
        if s.has_objects {
            self.session_objects.retain(|o| o.owner != h);
        }
        if !last {
            return Ok(());
        }
        let mut st = self.state();
        // A session opened since is a reason to stay logged in. (No session is left to mark
        // logged out: the count is exact under the lock, which every open takes.)
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
        self.close_sessions(|s| s.slot == slot, token);
        Ok(())
    }

    /// Closes this process's sessions that `which` picks, with their session objects, and
    /// ends the login of `token`. Under the state lock, which every open takes: no session
    /// is opened meanwhile.
    pub(crate) fn close_sessions(&self, which: impl Fn(&SessionRef) -> bool, token: Option<TokenId>) {
        let mut st = self.state();
        let gone: Vec<_> = self.sessions.all().into_iter().filter(|(_, s)| which(s)).map(|(h, _)| h).collect();
        for h in &gone {
            let _ = self.sessions.close(*h);
        }
        self.session_objects.retain(|o| !gone.contains(&o.owner));
        if let Some(t) = token {
            st.end_login(t);
        }
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
                    let token = s.token;
                    let user = current == Some(UserKind::User);
                    drop(st);
                    return self.context_authenticate(h, user, || {
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
        // Another thread may have logged in while the PIN was checked: the same user is
        // CKR_USER_ALREADY_LOGGED_IN as it would have been a moment earlier.
        match st.login(token).map(|l| l.user) {
            Some(c) if c == kind => return Err(Error::UserAlreadyLoggedIn),
            Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
            None => {}
        }
        if self.sessions.count_on(token) == 0 {
            return Err(Error::SessionClosed);
        }
        st.logins.insert(token, Login::new(kind, sealer));
        if kind == UserKind::User {
            self.sessions.set_user(token, true);
        }
        Ok(())
    }

    /// C_Logout.
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let mut st = self.state();
        let token = self.sessions.get(h)?.token;
        st.end_login(token).ok_or(Error::UserNotLoggedIn)?;
        self.sessions.set_user(token, false);
        // §5.6 C_Logout: "all private session objects from sessions belonging to the
        // application are destroyed".
        self.session_objects.retain(|o| o.token != token || !o.obj.flag(CKA_PRIVATE));
        Ok(())
    }

    /// `e`, or CKR_SESSION_HANDLE_INVALID (or CLOSED) when `h` names no open session.
    pub fn session_checked(&self, h: CK_SESSION_HANDLE, e: Error) -> Error {
        match self.sessions.get(h) {
            Ok(_) => e,
            Err(session) => session,
        }
    }

    /// A `C_*Init` call with a NULL mechanism (3.0+, §5.8-§5.16): ends that function's active
    /// operation, the one in the session's `slot`, leaving the others alone (C_VerifyInit
    /// ends a C_VerifyInit operation, not a C_VerifySignatureInit one). With none active
    /// there is nothing to end and no mechanism to start one: CKR_ARGUMENTS_BAD, the answer
    /// of 2.40, which had no such call (google/pkcs11test expects it).
    pub fn end_operation<T>(&self, h: CK_SESSION_HANDLE, slot: impl FnOnce(&mut Ops) -> &mut Option<T>) -> Result<()> {
        slot(&mut *self.ops(h)?).take().map(drop).ok_or(Error::ArgumentsBad)
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
            s.verify_signature = None;
        }
        if flags & CKF_MESSAGE_ENCRYPT != 0 {
            s.message_encrypt = None;
        }
        if flags & CKF_MESSAGE_DECRYPT != 0 {
            s.message_decrypt = None;
        }
        if flags & CKF_MESSAGE_SIGN != 0 {
            s.message_sign = None;
        }
        if flags & CKF_MESSAGE_VERIFY != 0 {
            s.message_verify = None;
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
