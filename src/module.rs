//! The `Module` value: configuration, the store, this process's sessions, logins and
//! session objects, and handle allocation. There are no globals here: tests build a
//! `Module` directly; only `ffi/` keeps the process-wide instance.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::object::Object;
use crate::store::{Sealer, Store, TokenId, TokenRecord, sqlite::SqliteStore};
use crate::token::session::{Ops, OpsGuard, SessionTable};
use crate::token::session_objects::SessionObjects;
use cryptoki_sys::*;
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Session-object handles start here; token-object handles are store row ids below it.
pub const SESSION_OBJECT_BASE: CK_OBJECT_HANDLE = 1 << 48;

/// Who is logged in to a token in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserKind {
    So,
    User,
}

/// A login: the user and the unlocked master key (zeroized when the last clone drops).
#[derive(Clone)]
pub struct Login {
    pub user: UserKind,
    pub sealer: Arc<Sealer>,
    /// Tags the handles of private token objects handed out during this login, so that
    /// they stop working at its end, even once the user logs in again (§5.6.4).
    pub epoch: u64,
}

/// Token-object handles are `row id | tag << TAG_SHIFT`: the tag is 0 for a public object
/// and the login's epoch (1 to [`MAX_EPOCH`]) for a private one; all stay below
/// [`SESSION_OBJECT_BASE`].
pub const TAG_SHIFT: u32 = 32;
pub const MAX_EPOCH: u64 = (SESSION_OBJECT_BASE >> TAG_SHIFT) - 1;

impl Login {
    /// A login of `user` with a new epoch.
    pub fn new(user: UserKind, sealer: Arc<Sealer>) -> Login {
        static EPOCHS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let epoch = EPOCHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % MAX_EPOCH + 1;
        Login { user, sealer, epoch }
    }
}

/// A session object: owned by the session that made it, visible to the process's sessions
/// on the same token.
pub struct SessionObject {
    pub token: TokenId,
    pub owner: CK_SESSION_HANDLE,
    /// Shared, so that using a key does not copy its attributes.
    pub obj: Arc<Object>,
}

/// Mutable per-process state, behind one lock (taken before the store's lock).
#[derive(Default)]
pub struct State {
    pub logins: HashMap<TokenId, Login>,
    /// Parsed asymmetric keys by CKA_UNIQUE_ID (key material never changes under an id).
    pub key_cache: HashMap<String, std::sync::Arc<crate::mechanism::keys::ParsedKey>>,
    /// Token objects as loaded with the master key (while logged in), by row id, valid while
    /// the store's data version is `token_cache_version`; changes made by this process drop
    /// their entries, changes by others empty it.
    pub token_cache: HashMap<crate::store::ObjectId, (TokenId, Arc<Object>)>,
    pub token_cache_version: i64,
    /// The store's change marker (store::changes), read to skip asking the store for its
    /// data version while nothing changed.
    pub changes: Option<Arc<crate::store::changes::ChangeMarker>>,
    /// The marker as read just before the store last confirmed `token_cache_version`, and
    /// when: while the marker still reads the same (and for at most changes::TRUST), the
    /// version has not moved.
    pub token_cache_marker: Option<(u64, crate::ffi::clock::Tick)>,
    /// Bumped by every change this process makes to token objects, so that a load that raced
    /// with the change does not put the old object back in the cache.
    pub token_cache_gen: u64,
    /// Which token each slot held when the slot list was last read (C_GetSlotList,
    /// C_GetSlotInfo, C_GetTokenInfo ... read it afresh); C_OpenSession uses it without a
    /// store query.
    pub slot_tokens: HashMap<u64, TokenId>,
    /// When the slot list was last read from the store: see [`SlotsListed`].
    pub slots_listed: Option<SlotsListed>,
}

/// The spare slot of the slot list last read from the store, with the store's change marker
/// as read just before and when. Every token made, re-initialised or deleted moves the
/// marker, so while it reads the same (and for at most `store::changes::TRUST`) that list,
/// `slot_tokens` and this spare slot, still stands.
pub struct SlotsListed {
    pub spare: u64,
    pub marker: u64,
    pub at: crate::ffi::clock::Tick,
}

impl State {
    /// Forgets a token object this process changed (or everything, for `None`).
    pub fn token_object_changed(&mut self, id: Option<crate::store::ObjectId>) {
        self.token_cache_gen += 1;
        match id {
            Some(id) => {
                self.token_cache.remove(&id);
            }
            None => self.token_cache.clear(),
        }
    }

    /// Ends the login on `token`, dropping (and so wiping) the cached key material: parsed
    /// keys and token objects (with their prepared forms) are only kept while someone is
    /// logged in.
    pub fn end_login(&mut self, token: TokenId) -> Option<Login> {
        let l = self.logins.remove(&token);
        if l.is_some() {
            self.key_cache.clear();
            self.token_cache.clear();
        }
        l
    }

    pub fn login(&self, token: TokenId) -> Option<&Login> {
        self.logins.get(&token)
    }
}

/// A slot as seen now: an initialised token, or the one spare uninitialised token.
pub enum SlotView {
    Token(TokenRecord),
    Uninitialised(u64),
}

impl SlotView {
    pub fn id(&self) -> u64 {
        match self {
            SlotView::Token(t) => t.slot_id,
            SlotView::Uninitialised(s) => *s,
        }
    }
}

/// Audit records queued for one commit ([`Module::audit`]), by ticket: tickets up to
/// `written` have been through the store; the queue holds the next ones, in order.
#[derive(Default)]
struct AuditQueue {
    written: u64,
    queued: Vec<crate::store::Event>,
    /// The latest batches that failed, as (first ticket, last ticket, error): a thread whose
    /// record was in one reports the failure too. Failures are rare; a few are kept.
    failures: std::collections::VecDeque<(u64, u64, String)>,
}

impl AuditQueue {
    /// Queues `e`; returns its ticket.
    fn push(&mut self, e: crate::store::Event) -> u64 {
        self.queued.push(e);
        self.written + self.queued.len() as u64
    }

    /// Everything queued, with the first one's ticket; from now on they count as written.
    fn take(&mut self) -> (u64, Vec<crate::store::Event>) {
        let first = self.written + 1;
        let batch = std::mem::take(&mut self.queued);
        self.written += batch.len() as u64;
        (first, batch)
    }

    /// Notes that the batch of tickets `first..=last` was not written.
    fn failed(&mut self, first: u64, last: u64, e: &Error) {
        const KEPT: usize = 64;
        if self.failures.len() == KEPT {
            self.failures.pop_front();
        }
        self.failures.push_back((first, last, e.to_string()));
    }

    /// How the write of `ticket` (written by another thread) went.
    fn outcome(&self, ticket: u64) -> Result<()> {
        match self.failures.iter().find(|(first, last, _)| (*first..=*last).contains(&ticket)) {
            Some((_, _, e)) => Err(Error::Device(format!("audit record not written: {e}"))),
            None => Ok(()),
        }
    }
}

/// Locks `m`, whether or not a thread panicked holding it (the data stays consistent: every
/// change under these locks is complete before anything can panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The engine.
pub struct Module {
    pub(crate) config: Config,
    store: Mutex<Box<dyn Store>>,
    /// Audit records on their own waiting for the store ([`Module::audit`]). Taken only
    /// briefly, alone or under the store's lock (lock order: store, then this).
    audit_queue: Mutex<AuditQueue>,
    /// Sharded: a read lock touches only the calling thread's shard, so calls on different
    /// sessions from different threads do not contend on one lock word.
    state: crossbeam_utils::sync::ShardedLock<State>,
    /// The sessions, with locks of their own (sharded; a handle names its shard): a call on a
    /// session does not need the state lock to reach its operations. Lock order: state, then a shard.
    pub(crate) sessions: SessionTable,
    /// Session objects (their own table, not in `state`: see token::session_objects).
    pub(crate) session_objects: SessionObjects,
    /// Seals C_GetOperationState blobs; lives only as long as this module instance. Made on
    /// first use, so that C_Initialize does not pay for seeding the random generator.
    op_state_key: std::sync::OnceLock<crate::crypto::SecretKey256>,
    read_only: bool,
}

impl Module {
    /// Opens the store named by `config`.
    pub fn new(config: Config) -> Result<Module> {
        let store = SqliteStore::open(
            &config.token_dir,
            std::time::Duration::from_millis(config.busy_timeout_ms),
            config.umask,
        )?;
        crate::mechanism::set_disabled(&config.disabled_mechanisms);
        Module::with_store(config, Box::new(store))
    }

    /// A module over any store.
    pub fn with_store(config: Config, store: Box<dyn Store>) -> Result<Module> {
        let state = State { changes: store.change_marker(), ..State::default() };
        let read_only = store.read_only();
        Ok(Module {
            config,
            store: Mutex::new(store),
            audit_queue: Mutex::default(),
            state: crossbeam_utils::sync::ShardedLock::new(state),
            sessions: SessionTable::default(),
            session_objects: SessionObjects::default(),
            op_state_key: std::sync::OnceLock::new(),
            read_only,
        })
    }

    /// Whether the store refuses writes (fixed when the store is opened).
    pub(crate) fn read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn op_state_key(&self) -> Result<&crate::crypto::SecretKey256> {
        if let Some(k) = self.op_state_key.get() {
            return Ok(k);
        }
        let k = crate::crypto::SecretKey256::random()?;
        Ok(self.op_state_key.get_or_init(|| k))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The per-process state. A panic while it was held does not poison the module: every
    /// change to it is completed before any call that could panic.
    pub(crate) fn state(&self) -> crossbeam_utils::sync::ShardedLockWriteGuard<'_, State> {
        // Every C_* catches panics, so a poisoned lock only means a call failed midway: the
        // state itself stays consistent (each change is one assignment or map operation).
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state for reading only: calls on different sessions proceed together. Never
    /// call [`Module::state`] while holding it (the lock is not re-entrant).
    pub(crate) fn state_read(&self) -> crossbeam_utils::sync::ShardedLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the session's operations, under that session's lock only: calls on other
    /// sessions are not held up.
    pub(crate) fn with_ops<T>(&self, h: CK_SESSION_HANDLE, f: impl FnOnce(&mut Ops) -> Result<T>) -> Result<T> {
        let mut ops = self.sessions.ops(h)?;
        f(&mut ops)
    }

    /// A session's operations, locked until the guard drops (see [`SessionTable::ops`]).
    pub(crate) fn ops(&self, h: CK_SESSION_HANDLE) -> Result<OpsGuard<'_>> {
        self.sessions.ops(h)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Box<dyn Store>> {
        lock(&self.store)
    }

    /// In a forked child, before the inherited module is forgotten: closes the parent's store
    /// connection if no thread held it at the fork. SQLite keeps one lock and WAL-index state
    /// per file and process, shared by every connection to it; a connection left open from
    /// the parent would make the child's new connection believe it holds locks that only the
    /// parent holds, and the child would read the store while others change it ("database
    /// disk image is malformed"). Closing it touches no lock another process holds. Returns
    /// false when a thread held the store at the fork (the connection is then left alone).
    pub fn release_store_after_fork(&self) -> bool {
        match self.store.try_lock() {
            Ok(mut g) => {
                *g = Box::new(crate::store::Closed);
                true
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                *p.into_inner() = Box::new(crate::store::Closed);
                true
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// C_Finalize: ends every session and every login now, with their operations, session
    /// objects, master keys and cached keys, and closes the store, so that neither a secret
    /// nor the store's files outlive the call even while another thread's cached reference
    /// keeps this value alive for a moment (ffi::entry).
    pub fn shutdown(&self) {
        *self.store() = Box::new(crate::store::Closed);
        let mut st = self.state();
        for (h, _) in self.sessions.all() {
            let _ = self.sessions.close(h);
        }
        self.session_objects.retain(|_| false);
        st.logins.clear();
        st.key_cache.clear();
        st.token_cache.clear();
        // Its own file, not SQLite's: closing it drops no lock of the store's.
        st.changes = None;
        st.token_cache_marker = None;
        st.slots_listed = None;
    }

    /// Every slot: each initialised token, then the spare uninitialised one.
    pub fn slots(&self) -> Result<Vec<SlotView>> {
        // Read before the store: a token made after this read moves the marker again.
        let marker = self.state_read().changes.as_ref().map(|m| m.read());
        let tokens = self.store().tokens()?;
        let spare = tokens.iter().map(|t| t.slot_id + 1).max().unwrap_or(0);
        {
            let mut st = self.state();
            st.slot_tokens = tokens.iter().map(|t| (t.slot_id, t.id)).collect();
            st.slots_listed = marker.map(|marker| SlotsListed { spare, marker, at: crate::ffi::clock::Tick::now() });
        }
        self.forget_gone_tokens(&tokens)?;
        let mut v: Vec<SlotView> = tokens.into_iter().map(SlotView::Token).collect();
        v.push(SlotView::Uninitialised(spare));
        Ok(v)
    }

    /// Closes the sessions (and ends the login) of tokens another process deleted since they
    /// were opened (it initialised their slot again): as for a token taken out of its slot,
    /// their handles are invalid from now on. `listed` is the token list just read; a token
    /// missing from it is asked of the store again (it may be newer than the list), and token
    /// ids are never reused, so one the store no longer has is gone for good.
    fn forget_gone_tokens(&self, listed: &[crate::store::TokenRecord]) -> Result<()> {
        let mut stale: Vec<TokenId> = self
            .sessions
            .all()
            .into_iter()
            .map(|(_, s)| s.token)
            .filter(|t| !listed.iter().any(|l| l.id == *t))
            .collect();
        stale.sort_unstable();
        stale.dedup();
        for token in stale {
            if self.store().token(token)?.is_none() {
                self.close_sessions(|s| s.token == token, Some(token));
            }
        }
        Ok(())
    }

    /// One slot, or CKR_SLOT_ID_INVALID.
    /// The token in `slot_id` as last seen (read afresh when unknown).
    pub(crate) fn token_in_slot(&self, slot_id: u64) -> Result<TokenId> {
        // The slot list last read, while the change marker stands: another process that
        // initialises a slot again moves it, and the slot's new token must be the one a new
        // session gets. (The marker alone, not its age: a clock read here makes opening a
        // session a sixth slower.)
        {
            let st = self.state_read();
            if listing_stands(&st, false)
                && let Some(t) = st.slot_tokens.get(&slot_id)
            {
                return Ok(*t);
            }
        }
        match self.slot(slot_id)? {
            SlotView::Token(t) => Ok(t.id),
            SlotView::Uninitialised(_) => Err(Error::TokenNotRecognized),
        }
    }

    /// `f` of the slot list last read (each token's slot, and the spare slot) while it stands
    /// (see [`SlotsListed`]); `None` when the store must be asked.
    fn listed_slots<T>(&self, f: impl FnOnce(&HashMap<u64, TokenId>, u64) -> T) -> Option<T> {
        let st = self.state_read();
        let spare = st.slots_listed.as_ref()?.spare;
        listing_stands(&st, true).then(|| f(&st.slot_tokens, spare))
    }

    /// The slot ids, tokens' in slot order and then the spare slot: the list last read while
    /// it stands, else read afresh. C_GetSlotList and the calls that only check a slot id
    /// (slot and mechanism information) need no store query while no token was made or
    /// deleted.
    pub fn slot_ids(&self) -> Result<Vec<u64>> {
        let listed = self.listed_slots(|tokens, spare| {
            let mut v: Vec<u64> = tokens.keys().copied().collect();
            v.sort_unstable();
            v.push(spare);
            v
        });
        match listed {
            Some(v) => Ok(v),
            None => Ok(self.slots()?.iter().map(SlotView::id).collect()),
        }
    }

    /// CKR_SLOT_ID_INVALID unless `slot_id` is one of [`Module::slot_ids`].
    pub fn check_slot(&self, slot_id: u64) -> Result<()> {
        match self.listed_slots(|tokens, spare| slot_id == spare || tokens.contains_key(&slot_id)) {
            Some(true) => Ok(()),
            Some(false) => Err(Error::SlotIdInvalid),
            None => self.slot(slot_id).map(drop),
        }
    }

    pub fn slot(&self, slot_id: u64) -> Result<SlotView> {
        self.slots()?.into_iter().find(|s| s.id() == slot_id).ok_or(Error::SlotIdInvalid)
    }
}

/// Whether the slot list last read still stands: the store's change marker reads as it did
/// then (and, `timed`, the list is younger than `store::changes::TRUST`).
fn listing_stands(st: &State, timed: bool) -> bool {
    match (&st.slots_listed, &st.changes) {
        (Some(l), Some(m)) => m.read() == l.marker && (!timed || l.at.within(crate::store::changes::TRUST)),
        _ => false,
    }
}

/// The PKCS#11 function (and mechanism) this thread is serving, named in audit records. The
/// ABI layer sets it on entry to the audited functions; the engine reads it where it records.
#[derive(Clone, Copy, Debug, Default)]
pub struct Call {
    pub function: &'static str,
    pub mechanism: Option<CK_MECHANISM_TYPE>,
}

/// The thread's [`Call`], kept as two word-sized cells (no mechanism: `NO_MECHANISM`), so
/// that each step reads and writes whole words: a 32-byte `Cell<Call>` replaced on entry,
/// partly written on decoding and restored on exit was copied with wide loads over narrower
/// stores, a store-forwarding stall on every C_*Init.
struct CallCell {
    function: std::cell::Cell<&'static str>,
    mechanism: std::cell::Cell<CK_MECHANISM_TYPE>,
}

const NO_MECHANISM: CK_MECHANISM_TYPE = CK_UNAVAILABLE_INFORMATION;

thread_local! {
    static CALL: CallCell = const {
        CallCell { function: std::cell::Cell::new(""), mechanism: std::cell::Cell::new(NO_MECHANISM) }
    };
}

/// Restores the previous call context when dropped.
pub struct CallScope {
    function: &'static str,
    mechanism: CK_MECHANISM_TYPE,
}

impl Drop for CallScope {
    fn drop(&mut self) {
        CALL.with(|c| {
            c.function.set(self.function);
            c.mechanism.set(self.mechanism);
        });
    }
}

/// Names the function this thread now serves.
pub fn enter_call(function: &'static str) -> CallScope {
    CALL.with(|c| CallScope { function: c.function.replace(function), mechanism: c.mechanism.replace(NO_MECHANISM) })
}

/// Records the mechanism of the current call once it is decoded.
pub fn set_call_mechanism(mechanism: CK_MECHANISM_TYPE) {
    CALL.with(|c| c.mechanism.set(mechanism));
}

pub fn current_call() -> Call {
    CALL.with(|c| {
        let m = c.mechanism.get();
        Call { function: c.function.get(), mechanism: (m != NO_MECHANISM).then_some(m) }
    })
}

impl Module {
    /// An audit record of the current call on `token` by `user`, about `obj` if any.
    pub(crate) fn audit_event(
        &self,
        token: TokenId,
        user: Option<UserKind>,
        obj: Option<&Object>,
        result: CK_RV,
    ) -> crate::store::Event {
        let call = current_call();
        let mechanism = call
            .mechanism
            .or_else(|| obj.and_then(|o| o.ulong(CKA_KEY_GEN_MECHANISM)).filter(|&m| m != CK_UNAVAILABLE_INFORMATION));
        crate::store::Event {
            // The store names the token's slot and serial as it writes the record.
            slot_id: None,
            serial: None,
            token: Some(token),
            user: user.map(|u| if u == UserKind::So { "so" } else { "user" }),
            function: if call.function.is_empty() { "internal" } else { call.function },
            mechanism,
            object_uid: obj.map(|o| o.unique_id().to_string()),
            label: obj
                .filter(|o| !o.is_private())
                .and_then(|o| o.bytes(CKA_LABEL))
                .map(|l| String::from_utf8_lossy(l).into_owned()),
            result,
        }
    }

    /// Appends a record that goes with no other change, and returns once it is committed.
    ///
    /// Group commit: the record is queued, then the store's lock taken; whoever holds it
    /// writes every queued record in one transaction, so threads recording at once share a
    /// commit (the commit is most of the cost) instead of queueing for one each. A thread
    /// whose record was written by another meanwhile returns that write's outcome.
    pub(crate) fn audit(&self, e: &crate::store::Event) -> Result<()> {
        let ticket = lock(&self.audit_queue).push(e.clone());
        let mut store = self.store();
        let (first, batch) = {
            let mut q = lock(&self.audit_queue);
            if ticket <= q.written {
                return q.outcome(ticket);
            }
            q.take()
        };
        let last = first + batch.len() as u64 - 1;
        let r = store.append_audits(&batch);
        if let Err(e) = &r {
            lock(&self.audit_queue).failed(first, last, e);
        }
        r
    }

    /// Records the current call on the session `h` about `obj`, on its own.
    pub(crate) fn audit_session_op(&self, h: CK_SESSION_HANDLE, obj: &Object) -> Result<()> {
        let (token, user) = {
            let s = self.sessions.get(h)?;
            (s.token, self.state_read().login(s.token).map(|l| l.user))
        };
        self.audit(&self.audit_event(token, user, Some(obj), CKR_OK))
    }

    /// Records a failed audited call on the session `h` (if it names a session at all).
    pub fn audit_failure(&self, h: CK_SESSION_HANDLE, rv: CK_RV) {
        let (token, user) = {
            let Ok(s) = self.sessions.get(h) else { return };
            (s.token, self.state_read().login(s.token).map(|l| l.user))
        };
        let e = self.audit_event(token, user, None, rv);
        if let Err(err) = self.audit(&e) {
            crate::ffi::log(&format!("audit record of a failed {} not written: {err}", e.function));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AuditQueue, Error, current_call, enter_call, set_call_mechanism};
    use crate::store::Event;

    /// The call an audit record names: scopes nest, and each restores the one before it
    /// (function and mechanism) when it ends.
    #[test]
    fn call_scopes_nest_and_restore() {
        use cryptoki_sys::CKM_AES_KEY_WRAP;
        let now = || {
            let c = current_call();
            (c.function, c.mechanism)
        };
        assert_eq!(now(), ("", None));
        {
            let _outer = enter_call("C_WrapKey");
            set_call_mechanism(CKM_AES_KEY_WRAP);
            {
                let _inner = enter_call("C_GenerateRandom");
                assert_eq!(now(), ("C_GenerateRandom", None));
            }
            assert_eq!(now(), ("C_WrapKey", Some(CKM_AES_KEY_WRAP)));
        }
        assert_eq!(now(), ("", None));
    }

    #[test]
    fn a_failed_group_commit_fails_every_record_in_it() {
        let mut q = AuditQueue::default();
        let tickets: Vec<u64> = (0..3).map(|_| q.push(Event::default())).collect();
        assert_eq!(tickets, [1, 2, 3]);
        let (first, batch) = q.take();
        assert_eq!((first, batch.len(), q.written), (1, 3, 3));
        q.failed(first, 3, &Error::Device("disk full".into()));
        // Queued after the failed batch was taken: its own write decides.
        assert_eq!(q.push(Event::default()), 4);
        let (first, batch) = q.take();
        assert_eq!((first, batch.len()), (4, 1));
        for t in 1..=3 {
            assert!(matches!(q.outcome(t), Err(Error::Device(m)) if m.contains("disk full")));
        }
        assert!(q.outcome(4).is_ok());
        // Later failures join the earlier ones; the 64 latest are kept.
        q.failed(4, 4, &Error::Device("read-only".into()));
        assert!(matches!(q.outcome(1), Err(Error::Device(m)) if m.contains("disk full")));
        assert!(matches!(q.outcome(4), Err(Error::Device(m)) if m.contains("read-only")));
        for t in 5..=67 {
            q.failed(t, t, &Error::Device("later".into()));
        }
        assert!(q.outcome(1).is_ok(), "the oldest failure is forgotten");
        assert!(q.outcome(4).is_err() && q.outcome(67).is_err());
    }
}
