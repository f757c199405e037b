//! Object management (PKCS#11 3.2 §5.7): C_CreateObject, C_CopyObject, C_DestroyObject,
//! C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue and C_FindObjects*.
//!
//! Token objects live in the store (their handle is their row id); session objects live in
//! this process. Private objects are invisible without a User login: their handles are
//! CKR_OBJECT_HANDLE_INVALID and searches skip them.

use super::session::FindOp;
use crate::crypto;
use crate::error::{Error, Result};
use crate::module::{Login, Module, SESSION_OBJECT_BASE, SessionObject, TAG_SHIFT, UserKind};
use crate::object::policy::{self, Actor, Origin, Reveal};
use crate::object::{Attribute, Object, Value};
use crate::store::{Sealer, TokenId};
use cryptoki_sys::*;
use std::sync::Arc;

/// The part of a session an object call needs, copied out so no lock is held while working.
struct Ctx {
    token: TokenId,
    rw: bool,
    login: Option<Login>,
}

impl Ctx {
    fn user(&self) -> bool {
        self.login.as_ref().is_some_and(|l| l.user == UserKind::User)
    }

    fn sealer(&self) -> Option<&Sealer> {
        self.login.as_ref().map(|l| &*l.sealer)
    }

    fn user_kind(&self) -> Option<UserKind> {
        self.login.as_ref().map(|l| l.user)
    }

    fn user_sealer(&self) -> Option<&Sealer> {
        self.login.as_ref().filter(|l| l.user == UserKind::User).map(|l| &*l.sealer)
    }
}

/// What one attribute of C_GetAttributeValue came to.
#[derive(Debug)]
pub enum AttrResult {
    Value(Value),
    Sensitive,
    Invalid,
}

/// A fresh CKA_UNIQUE_ID: 128 random bits as lowercase hex.
pub(crate) fn new_unique_id() -> Result<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let raw: [u8; 16] = crypto::public_random()?;
    Ok(raw.iter().flat_map(|b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char]).collect())
}

/// The handle of token object `id` under `login`: a private object's carries the login's
/// epoch.
fn token_handle(login: Option<&Login>, id: crate::store::ObjectId, private: bool) -> CK_OBJECT_HANDLE {
    let tag = match login {
        Some(l) if private => l.epoch,
        _ => 0,
    };
    id as CK_OBJECT_HANDLE | tag << TAG_SHIFT
}

/// The row id and tag of a token-object handle.
fn token_id(handle: CK_OBJECT_HANDLE) -> (crate::store::ObjectId, u64) {
    ((handle & ((1 << TAG_SHIFT) - 1)) as crate::store::ObjectId, handle >> TAG_SHIFT)
}

/// Profile objects (3.0 §4.13; OASIS PKCS #11 Profiles 3.2): the profiles oxihsm implements,
/// each a read-only public token object that every token shows (neither modifiable, copyable
/// nor destroyable), with handles from here up. They are found only by a template asking for
/// CKA_CLASS CKO_PROFILE, as the specification has hardware-feature objects found: an
/// application listing "all objects" to empty a token, or counting them, does not meet them.
pub const PROFILE_HANDLE_BASE: CK_OBJECT_HANDLE = 0x7fff_0000_0000_0000;

/// Baseline Provider (every function it names is here), Extended Provider (mechanisms and
/// logins, C_LoginUser included) and Authentication Token (private and public keys,
/// C_Sign*). Not Complete Provider: not every mechanism of the specification is offered.
const PROFILES: [CK_PROFILE_ID; 3] = [CKP_BASELINE_PROVIDER, CKP_EXTENDED_PROVIDER, CKP_AUTHENTICATION_TOKEN];

fn profile_objects() -> &'static [Arc<Object>] {
    static OBJECTS: std::sync::OnceLock<Vec<Arc<Object>>> = std::sync::OnceLock::new();
    OBJECTS.get_or_init(|| {
        PROFILES
            .iter()
            .map(|&id| {
                let attrs = [
                    (CKA_CLASS, Value::Ulong(CKO_PROFILE)),
                    (CKA_TOKEN, Value::Bool(true)),
                    (CKA_PRIVATE, Value::Bool(false)),
                    (CKA_MODIFIABLE, Value::Bool(false)),
                    (CKA_COPYABLE, Value::Bool(false)),
                    (CKA_DESTROYABLE, Value::Bool(false)),
                    (CKA_LABEL, Value::bytes(Vec::new())),
                    (CKA_UNIQUE_ID, Value::bytes(format!("oxihsm-profile-{id}").into_bytes())),
                    (CKA_PROFILE_ID, Value::Ulong(id)),
                ];
                Arc::new(attrs.into_iter().collect())
            })
            .collect()
    })
}

/// The profile object `handle` names, if it names one.
fn profile_object(handle: CK_OBJECT_HANDLE) -> Option<&'static Arc<Object>> {
    handle.checked_sub(PROFILE_HANDLE_BASE).and_then(|i| profile_objects().get(usize::try_from(i).ok()?))
}

/// The store's change marker as read now, and whether the token-object cache may be used
/// without asking the store: the marker reads what it read when the store last confirmed
/// the cache, no longer ago than `store::changes::TRUST`.
fn cache_trusted(st: &crate::module::State) -> (Option<u64>, bool) {
    let marker = st.changes.as_ref().map(|m| m.read());
    let trusted = matches!((marker, st.token_cache_marker),
        (Some(now), Some((seen, at))) if now == seen && at.within(crate::store::changes::TRUST));
    (marker, trusted)
}

impl Module {
    fn ctx(&self, h: CK_SESSION_HANDLE) -> Result<Ctx> {
        let st = self.state_read();
        let s = self.sessions.get(h)?;
        Ok(Ctx { token: s.token, rw: s.rw, login: st.login(s.token).cloned() })
    }

    fn actor(&self, c: &Ctx) -> Actor {
        Actor {
            so: c.login.as_ref().is_some_and(|l| l.user == UserKind::So),
            allow_extractable: self.config.allow_extractable,
        }
    }

    /// Loads an object this session may see.
    fn load(&self, c: &Ctx, handle: CK_OBJECT_HANDLE) -> Result<Arc<Object>> {
        if handle >= PROFILE_HANDLE_BASE {
            return profile_object(handle).cloned().ok_or(Error::ObjectHandleInvalid);
        }
        let obj = if handle >= SESSION_OBJECT_BASE {
            let o = self.session_objects.with(handle, |o| (o.token == c.token).then(|| o.obj.clone()));
            o.flatten().ok_or(Error::ObjectHandleInvalid)?
        } else {
            let (id, tag) = token_id(handle);
            let obj = self.load_token_object(c, id)?;
            // A private object's handle is good for the login it was handed out in.
            if token_handle(c.login.as_ref(), id, obj.is_private()) != handle {
                return Err(Error::ObjectHandleInvalid);
            }
            debug_assert!(tag == 0 || obj.is_private());
            obj
        };
        if obj.is_private() && !c.user() {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok(obj)
    }

    /// A token object, from the cache when nothing changed since it was read. Only objects
    /// read with the master key are cached (without it, sealed attributes are left out).
    /// Whether anything changed is first asked of the store's change marker (one load from a
    /// shared mapping, no lock); only when it moved is the store asked for its data version.
    fn load_token_object(&self, c: &Ctx, id: crate::store::ObjectId) -> Result<Arc<Object>> {
        const LIMIT: usize = 4096;
        let Some(sealer) = c.sealer() else {
            return Ok(Arc::new(self.store().load_object(c.token, id, None)?.ok_or(Error::ObjectHandleInvalid)?));
        };
        let cached = |st: &crate::module::State| match st.token_cache.get(&id) {
            Some((t, o)) if *t == c.token => Some(o.clone()),
            _ => None,
        };
        let marker = {
            let st = self.state_read();
            let (marker, trusted) = cache_trusted(&st);
            if trusted && let Some(o) = cached(&st) {
                return Ok(o);
            }
            marker
        };
        // Read after the marker: a change committed since is in this version, or moves the
        // marker again.
        let version = self.store().data_version()?;
        let confirm = |st: &mut crate::module::State| {
            st.token_cache_marker = marker.map(|m| (m, crate::ffi::clock::Tick::now()));
        };
        let generation = {
            let st = self.state_read();
            if st.token_cache_version == version
                && let Some(o) = cached(&st)
            {
                drop(st);
                let mut st = self.state();
                if st.token_cache_version == version {
                    confirm(&mut st);
                }
                return Ok(o);
            }
            st.token_cache_gen
        };
        let obj = Arc::new(self.store().load_object(c.token, id, Some(sealer))?.ok_or(Error::ObjectHandleInvalid)?);
        let mut st = self.state();
        if st.token_cache_version != version || st.token_cache.len() >= LIMIT {
            st.token_cache.clear();
            st.token_cache_version = version;
        }
        confirm(&mut st);
        if st.token_cache_gen == generation && st.login(c.token).is_some() {
            st.token_cache.insert(id, (c.token, obj.clone()));
        }
        Ok(obj)
    }

    /// Checks that this session may hold `obj`.
    fn admit(c: &Ctx, obj: &Object) -> Result<()> {
        if obj.is_token() && !c.rw {
            return Err(Error::SessionReadOnly);
        }
        if obj.is_private() && !c.user() {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }

    /// Records a change to a session object, when the configuration asks for it.
    fn audit_session_object(&self, c: &Ctx, obj: &Object) -> Result<()> {
        if self.config.audit_session_objects {
            self.audit(&self.audit_event(c.token, c.user_kind(), Some(obj), CKR_OK))?;
        }
        Ok(())
    }

    fn insert(&self, h: CK_SESSION_HANDLE, c: &Ctx, obj: Object) -> Result<CK_OBJECT_HANDLE> {
        if obj.is_token() {
            let ev = self.audit_event(c.token, c.user_kind(), Some(&obj), CKR_OK);
            let id = self.store().insert_object(c.token, &obj, c.sealer(), &ev)?;
            return Ok(token_handle(c.login.as_ref(), id, obj.is_private()));
        }
        self.audit_session_object(c, &obj)?;
        // Marked under the object table's lock: a close of `h` either comes before (and the
        // mark fails) or sees the mark and removes the object.
        let so = SessionObject { token: c.token, owner: h, obj: Arc::new(obj) };
        self.session_objects.insert(so, || self.sessions.mark_has_objects(h))
    }

    /// C_CreateObject.
    pub fn create_object(&self, h: CK_SESSION_HANDLE, template: &[Attribute]) -> Result<CK_OBJECT_HANDLE> {
        self.create_with(h, template, Origin::Create)
    }

    /// Makes and stores a new object from `template` for `origin` (create, generate, ...).
    pub(crate) fn create_with(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[Attribute],
        origin: Origin,
    ) -> Result<CK_OBJECT_HANDLE> {
        // One look at the session and login for building and storing.
        let c = self.ctx(h)?;
        let obj = self.build_object(&c, template, origin)?;
        self.insert(h, &c, obj)
    }

    /// Makes and stores a key pair: both objects are built before either is stored, so a
    /// template error leaves nothing behind.
    pub(crate) fn create_pair(
        &self,
        h: CK_SESSION_HANDLE,
        public: (&[Attribute], Origin),
        private: (&[Attribute], Origin),
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        match self.create_all(h, vec![public, private])?[..] {
            [p, q] => Ok((p, q)),
            _ => Err(Error::Internal("a key pair of other than two keys".into())),
        }
    }

    /// Makes and stores several objects (a key pair, a derivation's keys), or none: all are
    /// built before any is stored, so a template error leaves nothing behind, and one that
    /// cannot be stored takes those stored before it away again.
    pub(crate) fn create_all(
        &self,
        h: CK_SESSION_HANDLE,
        made: Vec<(&[Attribute], Origin)>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let c = self.ctx(h)?;
        let objects = made.into_iter().map(|(t, o)| self.build_object(&c, t, o)).collect::<Result<Vec<_>>>()?;
        let mut handles = Vec::with_capacity(objects.len());
        for obj in objects {
            match self.insert(h, &c, obj) {
                Ok(k) => handles.push(k),
                Err(e) => {
                    for k in handles {
                        let _ = self.destroy_object(h, k);
                    }
                    return Err(e);
                }
            }
        }
        Ok(handles)
    }

    /// Checks what storing a generated object of `class`/`key_type` checks of `template`
    /// alone (unknown attributes, those the generation makes, the class and key type, the
    /// session and the login), before a generation costly enough (an RSA key, domain
    /// parameters, PBKDF2) that a template refused anyway should cost none.
    pub(crate) fn check_generated_template(
        &self,
        h: CK_SESSION_HANDLE,
        class: CK_OBJECT_CLASS,
        key_type: CK_KEY_TYPE,
        mechanism: CK_MECHANISM_TYPE,
        template: &[Attribute],
    ) -> Result<()> {
        let c = self.ctx(h)?;
        let origin = Origin::Generate { class, key_type, mechanism, material: Vec::new() };
        Module::admit(&c, &policy::assemble(template, self.actor(&c), "", origin)?)
    }

    /// Builds (without storing) the object `template` and `origin` describe, checked for
    /// the session and login `c`.
    fn build_object(&self, c: &Ctx, template: &[Attribute], origin: Origin) -> Result<Object> {
        // A generated key pair comes with its computed attributes, made from the key itself.
        let generated = matches!(origin, Origin::Generate { .. });
        let mut obj = policy::finish(policy::build(template, self.actor(c), &new_unique_id()?, origin)?);
        if !(generated && obj.get(CKA_PUBLIC_KEY_INFO).is_some()) {
            crate::mechanism::keys::complete(&mut obj)?;
        }
        Module::admit(c, &obj)?;
        Ok(obj)
    }

    /// Lends `f` an object the session `h` may see: a session object under its table shard's
    /// shared lock, so a caller that only reads it takes no count on it (a count every thread
    /// using the object would update), a token object from the token-object cache. `f` must
    /// not take the module state lock or a session-object lock. The outer error is the
    /// lookup's, the inner one `f`'s.
    pub(crate) fn with_object<T>(
        &self,
        h: CK_SESSION_HANDLE,
        handle: CK_OBJECT_HANDLE,
        f: impl FnOnce(&Arc<Object>) -> Result<T>,
    ) -> Result<Result<T>> {
        if handle >= PROFILE_HANDLE_BASE {
            self.sessions.get(h)?;
            return Ok(f(profile_object(handle).ok_or(Error::ObjectHandleInvalid)?));
        }
        if handle >= SESSION_OBJECT_BASE {
            // The hot path of every C_*Init on a session key: two shared locks (the session's
            // shard, which knows the login, and the object's), no login clone.
            let s = self.sessions.get(h)?;
            let (token, user) = (s.token, s.user);
            let lent = self.session_objects.with(handle, |o| {
                if o.token != token || (o.obj.key_use().private && !user) {
                    return Err(Error::ObjectHandleInvalid);
                }
                Ok(f(&o.obj))
            });
            return lent.unwrap_or(Err(Error::ObjectHandleInvalid));
        }
        // A token object in the cache is lent under the state's read lock (only the calling
        // thread's shard): no login or object reference count is taken, which two threads
        // using one key would otherwise bounce between them.
        {
            let st = self.state_read();
            let s = self.sessions.get(h)?;
            let (id, _) = token_id(handle);
            // CKA_PRIVATE from the object's prepared key use (no search of its attributes).
            if let Some(l) = st.login(s.token)
                && cache_trusted(&st).1
                && let Some((t, o)) = st.token_cache.get(&id)
                && *t == s.token
                && let private = o.key_use().private
                && (!private || l.user == UserKind::User)
                && token_handle(Some(l), id, private) == handle
            {
                return Ok(f(o));
            }
        }
        let c = self.ctx(h)?;
        Ok(f(&self.load(&c, handle)?))
    }

    /// C_CopyObject.
    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        src: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let c = self.ctx(h)?;
        let obj = self.load(&c, src)?;
        obj.material()?;
        let new = policy::copy(&obj, template, self.actor(&c), &new_unique_id()?)?;
        Module::admit(&c, &new)?;
        self.insert(h, &c, new)
    }

    /// C_DestroyObject.
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, handle: CK_OBJECT_HANDLE) -> Result<()> {
        let c = self.ctx(h)?;
        let obj = self.load(&c, handle)?;
        if obj.is_token() && !c.rw {
            return Err(Error::SessionReadOnly);
        }
        if !obj.flag(CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        let parsed = matches!(obj.class(), CKO_PUBLIC_KEY | CKO_PRIVATE_KEY);
        if handle >= SESSION_OBJECT_BASE {
            self.audit_session_object(&c, &obj)?;
            if self.session_objects.remove(handle).is_none() {
                // Another thread destroyed it first.
                return Err(Error::ObjectHandleInvalid);
            }
            // The exclusive lock only when there is something to drop: most keys destroyed
            // in a session were never parsed, or were parsed and dropped at a logout.
            if parsed && self.state_read().key_cache.contains_key(obj.unique_id()) {
                self.state().key_cache.remove(obj.unique_id());
            }
            return Ok(());
        }
        if parsed {
            self.state().key_cache.remove(obj.unique_id());
        }
        let ev = self.audit_event(c.token, c.user_kind(), Some(&obj), CKR_OK);
        let id = token_id(handle).0;
        let gone = self.store().delete_object(c.token, id, &ev);
        self.state().token_object_changed(Some(id));
        if gone? { Ok(()) } else { Err(Error::ObjectHandleInvalid) }
    }

    /// C_GetObjectSize.
    pub fn object_size(&self, h: CK_SESSION_HANDLE, handle: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        let c = self.ctx(h)?;
        Ok(self.load(&c, handle)?.size() as CK_ULONG)
    }

    /// C_GetAttributeValue: one result per requested type.
    pub fn get_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        handle: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrResult>> {
        // Read while the object is lent (see with_object): no reference count taken on it.
        self.with_object(h, handle, |obj| {
            Ok(types
                .iter()
                .map(|&t| match policy::reveal(obj, t) {
                    Reveal::Value(v) => AttrResult::Value(v.clone()),
                    Reveal::Sensitive => AttrResult::Sensitive,
                    Reveal::Invalid => AttrResult::Invalid,
                })
                .collect())
        })?
    }

    /// C_SetAttributeValue.
    pub fn set_attributes(&self, h: CK_SESSION_HANDLE, handle: CK_OBJECT_HANDLE, template: &[Attribute]) -> Result<()> {
        let c = self.ctx(h)?;
        let obj = self.load(&c, handle)?;
        if obj.is_token() && !c.rw {
            return Err(Error::SessionReadOnly);
        }
        // The record is written again whole: its sealed key material must be at hand.
        obj.material()?;
        let new = policy::set_attributes(&obj, template, self.actor(&c))?;
        if handle >= SESSION_OBJECT_BASE {
            self.audit_session_object(&c, &new)?;
            let new = Arc::new(new);
            return self.session_objects.update(handle, |o| o.obj = new).ok_or(Error::ObjectHandleInvalid);
        }
        let ev = self.audit_event(c.token, c.user_kind(), Some(&new), CKR_OK);
        let id = token_id(handle).0;
        let r = self.store().update_object(c.token, id, &new, c.sealer(), &ev);
        self.state().token_object_changed(Some(id));
        r
    }

    /// C_FindObjectsInit: takes a snapshot of the matching handles.
    pub fn find_init(&self, h: CK_SESSION_HANDLE, template: &[Attribute]) -> Result<()> {
        let c = self.ctx(h)?;
        if self.ops(h)?.find.is_some() {
            return Err(Error::OperationActive);
        }
        let mut handles = self
            .session_objects
            .handles(|o| o.token == c.token && (!o.obj.is_private() || c.user()) && policy::matches(&o.obj, template));
        let ids = self.store().candidates(c.token, template, c.user_sealer())?;
        for id in ids {
            let obj = self.store().load_object(c.token, id, c.sealer())?;
            if let Some(o) = obj
                && (!o.is_private() || c.user())
                && policy::matches(&o, template)
            {
                handles.push(token_handle(c.login.as_ref(), id, o.is_private()));
            }
        }
        if template.iter().any(|a| a.ty == CKA_CLASS && a.value == Value::Ulong(CKO_PROFILE)) {
            let profiles = profile_objects().iter().enumerate();
            handles.extend(
                profiles
                    .filter(|(_, o)| policy::matches(o, template))
                    .map(|(i, _)| PROFILE_HANDLE_BASE + i as CK_ULONG),
            );
        }
        self.with_ops(h, |s| {
            if s.find.is_some() {
                return Err(Error::OperationActive);
            }
            s.find = Some(FindOp { handles, pos: 0 });
            Ok(())
        })
    }

    /// C_FindObjects: up to `max` more handles.
    pub fn find_next(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        self.with_ops(h, |s| {
            let f = s.find.as_mut().ok_or(Error::OperationNotInitialized)?;
            let end = (f.pos + max).min(f.handles.len());
            let out = f.handles[f.pos..end].to_vec();
            f.pos = end;
            Ok(out)
        })
    }

    /// C_FindObjectsFinal.
    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.with_ops(h, |s| s.find.take().map(|_| ()).ok_or(Error::OperationNotInitialized))
    }
}
