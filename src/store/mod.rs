//! Persistent token storage (DESIGN §6): the [`Store`] trait, the sealing layer ([`seal`]) and
//! the SQLite backend ([`sqlite`]). The on-disk format is described in `doc/STORAGE.md`.

pub mod audit;
pub mod backup;
pub mod changes;
pub mod seal;
pub mod sqlite;

use crate::config::KdfParams;
use crate::error::{Error, Result};
use crate::object::Object;
pub use audit::Event;
pub use seal::Sealer;

/// Row id of a token in the store.
pub type TokenId = i64;
/// Row id of an object in the store; also its PKCS#11 handle (never reused).
pub type ObjectId = i64;

/// A PIN's wrapping of the master key.
#[derive(Clone, Debug)]
pub struct PinWrap {
    pub salt: Vec<u8>,
    pub wrapped: Vec<u8>,
}

/// A token as stored. Holds no secret: the master key exists only wrapped.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: TokenId,
    pub slot_id: u64,
    pub uuid: [u8; 16],
    pub label: [u8; 32],
    pub serial: String,
    pub kdf: KdfParams,
    pub so: PinWrap,
    pub user: Option<PinWrap>,
    pub so_failures: u32,
    pub user_failures: u32,
    pub max_failures: u32,
}

/// What a new (or re-initialised) token is made of.
pub struct NewToken {
    pub slot_id: u64,
    pub uuid: [u8; 16],
    pub label: [u8; 32],
    pub serial: String,
    pub kdf: KdfParams,
    pub so: PinWrap,
    pub max_failures: u32,
}

/// Which PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    So,
    User,
}

/// The storage operations the engine needs. Each call is one transaction.
pub trait Store: Send {
    /// Every initialised token, by slot id.
    fn tokens(&self) -> Result<Vec<TokenRecord>>;
    /// One token.
    fn token(&self, id: TokenId) -> Result<Option<TokenRecord>>;
    /// Creates a token, or wipes and re-creates the one at `t.slot_id`.
    fn put_token(&mut self, t: &NewToken, audit: &Event) -> Result<TokenRecord>;
    /// A number that changes when another process commits a change (PRAGMA data_version):
    /// cached objects are good while it stays the same.
    fn data_version(&self) -> Result<i64> {
        Ok(0)
    }
    /// The store's change marker ([`changes`]), read without the store's lock; `None` when
    /// the store has none (every cache check then asks [`Store::data_version`]).
    fn change_marker(&self) -> Option<std::sync::Arc<changes::ChangeMarker>> {
        None
    }
    /// True when the store cannot be written (read-only directory or file system).
    fn read_only(&self) -> bool {
        false
    }
    /// Counts a failed login before the PIN is checked; returns the new failure count.
    fn count_failure(&mut self, id: TokenId, who: Who) -> Result<u32>;
    /// Clears the failure counter after a good PIN, recording the login.
    fn clear_failures(&mut self, id: TokenId, who: Who, audit: Option<&Event>) -> Result<()>;
    /// Replaces a PIN's wrapping of the master key and clears its failure counter.
    fn set_pin(&mut self, id: TokenId, who: Who, w: &PinWrap, audit: &Event) -> Result<()>;
    /// Stores a new object; returns its id.
    fn insert_object(
        &mut self,
        token: TokenId,
        obj: &Object,
        sealer: Option<&Sealer>,
        audit: &Event,
    ) -> Result<ObjectId>;
    /// Loads one object of `token`; `None` when it does not exist or is private and no
    /// sealer is given.
    fn load_object(&self, token: TokenId, id: ObjectId, sealer: Option<&Sealer>) -> Result<Option<Object>>;
    /// Replaces an object's attributes.
    fn update_object(
        &mut self,
        token: TokenId,
        id: ObjectId,
        obj: &Object,
        sealer: Option<&Sealer>,
        audit: &Event,
    ) -> Result<()>;
    /// Deletes an object; false when it did not exist.
    fn delete_object(&mut self, token: TokenId, id: ObjectId, audit: &Event) -> Result<bool>;
    /// Appends audit records on their own (for events that change nothing else), in order,
    /// in one transaction: all or none.
    fn append_audits(&mut self, audits: &[Event]) -> Result<()>;
    /// Candidate objects for a search: narrowed by an indexed attribute or the class when the
    /// template has one; private objects only with a sealer. The caller filters exactly.
    fn candidates(
        &self,
        token: TokenId,
        template: &[crate::object::Attribute],
        sealer: Option<&Sealer>,
    ) -> Result<Vec<ObjectId>>;
}

/// The store of a finalised module ([`crate::module::Module::shutdown`]): the real one is
/// closed (its connection and files released at C_Finalize), and every call is
/// CKR_CRYPTOKI_NOT_INITIALIZED.
pub struct Closed;

impl Store for Closed {
    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Err(Error::CryptokiNotInitialized)
    }
    fn token(&self, _: TokenId) -> Result<Option<TokenRecord>> {
        Err(Error::CryptokiNotInitialized)
    }
    fn put_token(&mut self, _: &NewToken, _: &Event) -> Result<TokenRecord> {
        Err(Error::CryptokiNotInitialized)
    }
    fn data_version(&self) -> Result<i64> {
        Err(Error::CryptokiNotInitialized)
    }
    fn count_failure(&mut self, _: TokenId, _: Who) -> Result<u32> {
        Err(Error::CryptokiNotInitialized)
    }
    fn clear_failures(&mut self, _: TokenId, _: Who, _: Option<&Event>) -> Result<()> {
        Err(Error::CryptokiNotInitialized)
    }
    fn set_pin(&mut self, _: TokenId, _: Who, _: &PinWrap, _: &Event) -> Result<()> {
        Err(Error::CryptokiNotInitialized)
    }
    fn insert_object(&mut self, _: TokenId, _: &Object, _: Option<&Sealer>, _: &Event) -> Result<ObjectId> {
        Err(Error::CryptokiNotInitialized)
    }
    fn load_object(&self, _: TokenId, _: ObjectId, _: Option<&Sealer>) -> Result<Option<Object>> {
        Err(Error::CryptokiNotInitialized)
    }
    fn update_object(&mut self, _: TokenId, _: ObjectId, _: &Object, _: Option<&Sealer>, _: &Event) -> Result<()> {
        Err(Error::CryptokiNotInitialized)
    }
    fn delete_object(&mut self, _: TokenId, _: ObjectId, _: &Event) -> Result<bool> {
        Err(Error::CryptokiNotInitialized)
    }
    fn append_audits(&mut self, _: &[Event]) -> Result<()> {
        Err(Error::CryptokiNotInitialized)
    }
    fn candidates(&self, _: TokenId, _: &[crate::object::Attribute], _: Option<&Sealer>) -> Result<Vec<ObjectId>> {
        Err(Error::CryptokiNotInitialized)
    }
}
