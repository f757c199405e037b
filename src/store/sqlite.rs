//! The SQLite backend: one database file (`oxihsm.db`) in the token directory, WAL mode,
//! a busy timeout so several processes share it, and one transaction per change.

use super::audit::{self, Event};
use super::seal::{Sealer, public_digest};
use super::{NewToken, ObjectId, PinWrap, Store, TokenId, TokenRecord, Who};
use crate::config::KdfParams;
use crate::error::{Error, Result};
use crate::object::{self, Attribute, Object, policy};
use cryptoki_sys::*;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::time::Duration;

/// Current schema version; [`migrate`] brings older files forward. Version 3 has version 2's
/// tables and writes version 2 object records ([`RECORD_VERSION`]), which an oxihsm of schema
/// 2 would take for corrupt: the number tells it the store is newer instead.
pub const SCHEMA_VERSION: i64 = 3;

/// The oldest schema a read-only store may have: versions 2 and 3 differ only in the
/// records this oxihsm reads either way.
const READ_ONLY_MIN_SCHEMA: i64 = 2;

/// Attributes with an index entry, so C_FindObjects by them does not scan the token.
pub const INDEXED: &[CK_ATTRIBUTE_TYPE] = &[CKA_LABEL, CKA_ID, CKA_UNIQUE_ID];

const SCHEMA_V1: &str = "
CREATE TABLE tokens(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  slot_id INTEGER NOT NULL UNIQUE,
  uuid BLOB NOT NULL,
  label BLOB NOT NULL,
  serial TEXT NOT NULL,
  kdf_memory INTEGER NOT NULL, kdf_iterations INTEGER NOT NULL, kdf_parallelism INTEGER NOT NULL,
  so_salt BLOB NOT NULL, so_wrapped BLOB NOT NULL,
  user_salt BLOB, user_wrapped BLOB,
  so_failures INTEGER NOT NULL DEFAULT 0,
  user_failures INTEGER NOT NULL DEFAULT 0,
  max_failures INTEGER NOT NULL
);
CREATE TABLE objects(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
  uid TEXT NOT NULL UNIQUE,
  class INTEGER NOT NULL,
  private INTEGER NOT NULL,
  attrs BLOB NOT NULL
);
CREATE INDEX objects_by_class ON objects(token_id, class);
CREATE TABLE object_index(
  attr INTEGER NOT NULL,
  digest BLOB NOT NULL,
  object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
  PRIMARY KEY(attr, digest, object_id)
) WITHOUT ROWID;
CREATE INDEX object_index_by_object ON object_index(object_id);
";

/// The page size of a new store. Every commit appends each page it changed to the WAL, and
/// the commits that matter most are small: an audit record and the chain's head (two pages,
/// whatever their size), a token object of a few hundred bytes to a few KiB. 1 KiB pages
/// write a quarter of the bytes and checksum a quarter of them per frame: an audited
/// C_WrapKey is ~20 % faster than with SQLite's default of 4 KiB, at the cost of overflow
/// pages for large objects (loading 2 000 RSA private keys after a login takes ~15 % longer).
/// A store made with another page size keeps it.
const PAGE_SIZE: i64 = 1024;

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    /// Rewritten after each commit that changes token objects (see [`super::changes`]).
    marker: Option<std::sync::Arc<super::changes::ChangeMarker>>,
    /// The directory or file system does not accept writes: every change is refused with
    /// CKR_TOKEN_WRITE_PROTECTED and login failure counters are not persisted.
    read_only: bool,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, waiting at most `busy_timeout` for
    /// another process's write lock.
    /// A new database file gets mode 0666 without the `umask` bits (0600 by default; SQLite
    /// gives its -wal and -shm files the same); an existing file keeps the mode it has.
    pub fn open(dir: &Path, busy_timeout: Duration, umask: u32) -> Result<SqliteStore> {
        create_private_dir(dir)?;
        let path = dir.join("oxihsm.db");
        if !dir_writable(dir) {
            return SqliteStore::open_read_only(&path);
        }
        let created = !path.exists();
        let conn = Connection::open(&path)?;
        if created {
            set_mode(&path, 0o666 & !umask)?;
        }
        conn.busy_timeout(busy_timeout)?;
        // Only a database without pages takes a page size.
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        migrate(&conn)?;
        // The marker gets the database file's mode (SQLite gives its -wal and -shm files the
        // same).
        let mode = std::fs::metadata(&path).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
        let marker = super::changes::ChangeMarker::open(&path, mode.unwrap_or(0o600)).map(std::sync::Arc::new);
        Ok(SqliteStore { conn, marker, read_only: false })
    }

    /// A store on a read-only directory or file system: readable, never written. SQLite
    /// cannot keep its WAL index there, so the file is opened as immutable.
    fn open_read_only(path: &Path) -> Result<SqliteStore> {
        use rusqlite::OpenFlags;
        if !path.exists() {
            return Err(Error::Device(format!(
                "token store {} does not exist and its directory is read-only",
                path.display()
            )));
        }
        let uri = format!("file:{}?immutable=1", path.display());
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if !(READ_ONLY_MIN_SCHEMA..=SCHEMA_VERSION).contains(&v) {
            return Err(Error::Device(format!(
                "read-only store {} has schema {v}, this oxihsm reads {READ_ONLY_MIN_SCHEMA} to {SCHEMA_VERSION}",
                path.display()
            )));
        }
        Ok(SqliteStore { conn, marker: None, read_only: true })
    }

    /// Marks a committed change to token objects for other connections.
    fn changed(&self) {
        if let Some(m) = &self.marker {
            m.bump();
        }
    }

    fn tx(&mut self) -> Result<rusqlite::Transaction<'_>> {
        if self.read_only {
            return Err(Error::TokenWriteProtected);
        }
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path).map_err(|e| Error::Device(format!("{}: {e}", path.display())))?;
    if current.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::Device(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Whether files can be created in `dir` (false on a read-only mount or directory).
fn dir_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".oxihsm-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Device(format!("cannot create token directory {}: {e}", dir.display())))
}

/// Brings the schema to [`SCHEMA_VERSION`].
pub fn migrate(conn: &Connection) -> Result<()> {
    // The common case needs no write lock, so that a process can start while another holds it.
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v == SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let r = (|| -> Result<()> {
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(Error::Device(format!("store schema {v} is newer than this oxihsm ({SCHEMA_VERSION})")));
        }
        if v < 1 {
            conn.execute_batch(SCHEMA_V1)?;
        }
        if v < 2 {
            conn.execute_batch(audit::SCHEMA)?;
        }
        // 3: no table changes; object records are read in either version (decode_record).
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(())
    })();
    conn.execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    r
}

fn who_cols(who: Who) -> (&'static str, &'static str, &'static str) {
    match who {
        Who::So => ("so_failures", "so_salt", "so_wrapped"),
        Who::User => ("user_failures", "user_salt", "user_wrapped"),
    }
}

const TOKEN_COLS: &str = "id, slot_id, uuid, label, serial, kdf_memory, kdf_iterations, kdf_parallelism, \
     so_salt, so_wrapped, user_salt, user_wrapped, so_failures, user_failures, max_failures";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let uuid: Vec<u8> = r.get(2)?;
    let label: Vec<u8> = r.get(3)?;
    let user_salt: Option<Vec<u8>> = r.get(10)?;
    let user_wrapped: Option<Vec<u8>> = r.get(11)?;
    let mut u = [0u8; 16];
    let mut l = [b' '; 32];
    u[..uuid.len().min(16)].copy_from_slice(&uuid[..uuid.len().min(16)]);
    l[..label.len().min(32)].copy_from_slice(&label[..label.len().min(32)]);
    Ok(TokenRecord {
        id: r.get(0)?,
        slot_id: r.get::<_, i64>(1)? as u64,
        uuid: u,
        label: l,
        serial: r.get(4)?,
        kdf: KdfParams { memory_kib: r.get(5)?, iterations: r.get(6)?, parallelism: r.get(7)? },
        so: PinWrap { salt: r.get(8)?, wrapped: r.get(9)? },
        user: match (user_salt, user_wrapped) {
            (Some(salt), Some(wrapped)) => Some(PinWrap { salt, wrapped }),
            _ => None,
        },
        so_failures: r.get(12)?,
        user_failures: r.get(13)?,
        max_failures: r.get(14)?,
    })
}

/// The version byte of the records written now. In version 1 records (schema 2 and before)
/// an empty CKA_ALLOWED_MECHANISMS, every key's default then, meant "no restriction"; since
/// version 2 the attribute is absent unless given, and an empty list allows nothing.
pub const RECORD_VERSION: u8 = 2;

/// Record format of `objects.attrs`: version byte ([`RECORD_VERSION`]), then per attribute
/// `type: u64 LE, sealed: u8, length: u32 LE, bytes` where bytes is the canonical encoding
/// ([`object::encode_value`]) or, when sealed, its AES-256-GCM sealing.
pub fn encode_record(obj: &Object, sealer: Option<&Sealer>) -> Result<Vec<u8>> {
    // An object loaded without its sealed key material is never written back: the record
    // would lose the material.
    obj.material()?;
    let uid = obj.unique_id();
    let mut out = vec![RECORD_VERSION];
    for (ty, v) in obj.iter() {
        let enc = object::encode_value(v);
        let seal = obj.is_private() || policy::is_key_material(obj, *ty);
        let data = if seal {
            let s = sealer.ok_or(Error::UserNotLoggedIn)?;
            s.seal_attr(uid, *ty, &enc)?
        } else {
            enc.to_vec()
        };
        out.extend_from_slice(&(*ty as u64).to_le_bytes());
        out.push(seal as u8);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// Decodes an `objects.attrs` record (the inverse of [`encode_record`]).
pub fn decode_record(uid: &str, rec: &[u8], sealer: Option<&Sealer>) -> Result<Object> {
    let bad = || Error::Corrupt("object record".into());
    let (&ver, mut r) = rec.split_first().ok_or_else(bad)?;
    if !(1..=RECORD_VERSION).contains(&ver) {
        return Err(bad());
    }
    let mut attrs = Vec::new();
    let mut withheld = false;
    while !r.is_empty() {
        if r.len() < 13 {
            return Err(bad());
        }
        let ty = u64::from_le_bytes(r[..8].try_into().expect("8")) as CK_ATTRIBUTE_TYPE;
        let sealed = r[8] != 0;
        let n = u32::from_le_bytes(r[9..13].try_into().expect("4")) as usize;
        let data = r.get(13..13 + n).ok_or_else(bad)?;
        r = &r[13 + n..];
        if sealed {
            // Without the master key, a public object's key material stays out of memory.
            match sealer {
                Some(s) => attrs.push((ty, object::decode_value(&s.open_attr(uid, ty, data)?)?)),
                None => withheld = true,
            }
        } else {
            attrs.push((ty, object::decode_value(data)?));
        }
    }
    if ver == 1 {
        // An empty list meant no restriction then.
        attrs.retain(|(ty, v)| {
            !(*ty == CKA_ALLOWED_MECHANISMS && matches!(v, object::Value::MechList(l) if l.is_empty()))
        });
    }
    let mut obj: Object = attrs.into_iter().collect();
    if withheld {
        obj.mark_withheld();
    }
    Ok(obj)
}

fn digests(obj: &Object, sealer: Option<&Sealer>) -> Result<Vec<(CK_ATTRIBUTE_TYPE, [u8; 32])>> {
    let mut out = Vec::new();
    for &ty in INDEXED {
        if let Some(v) = obj.get(ty) {
            let enc = object::encode_value(v);
            let d = if obj.is_private() {
                sealer.ok_or(Error::UserNotLoggedIn)?.private_digest(ty, &enc)
            } else {
                public_digest(ty, &enc)
            };
            out.push((ty, d));
        }
    }
    Ok(out)
}

fn write_index(tx: &rusqlite::Transaction<'_>, id: ObjectId, obj: &Object, sealer: Option<&Sealer>) -> Result<()> {
    tx.execute("DELETE FROM object_index WHERE object_id = ?1", [id])?;
    let mut st = tx.prepare_cached("INSERT INTO object_index(attr, digest, object_id) VALUES (?1, ?2, ?3)")?;
    for (ty, d) in digests(obj, sealer)? {
        st.execute(params![ty as i64, &d[..], id])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY slot_id"))?;
        let rows = st.query_map([], token_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn token(&self, id: TokenId) -> Result<Option<TokenRecord>> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"))?;
        Ok(st.query_row([id], token_row).optional()?)
    }

    fn put_token(&mut self, t: &NewToken, ev: &Event) -> Result<TokenRecord> {
        let tx = self.tx()?;
        // Re-initialisation wipes: the old row and (by cascade) its objects go; the slot stays.
        tx.execute("DELETE FROM tokens WHERE slot_id = ?1", [t.slot_id as i64])?;
        tx.execute(
            "INSERT INTO tokens(slot_id, uuid, label, serial, kdf_memory, kdf_iterations, kdf_parallelism, \
             so_salt, so_wrapped, max_failures) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            params![
                t.slot_id as i64,
                &t.uuid[..],
                &t.label[..],
                t.serial,
                t.kdf.memory_kib,
                t.kdf.iterations,
                t.kdf.parallelism,
                t.so.salt,
                t.so.wrapped,
                t.max_failures
            ],
        )?;
        let id = tx.last_insert_rowid();
        let rec = tx.query_row(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"), [id], token_row)?;
        audit::append(&tx, ev)?;
        tx.commit()?;
        self.changed();
        Ok(rec)
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn change_marker(&self) -> Option<std::sync::Arc<super::changes::ChangeMarker>> {
        self.marker.clone()
    }

    fn data_version(&self) -> Result<i64> {
        // Asked on every use of a cached token object: a cached statement, not a fresh parse.
        Ok(self.conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?)
    }

    fn count_failure(&mut self, id: TokenId, who: Who) -> Result<u32> {
        let (col, _, _) = who_cols(who);
        if self.read_only {
            // Nothing can be persisted: report the stored count plus this attempt.
            let n: u32 = self.conn.query_row(&format!("SELECT {col} FROM tokens WHERE id = ?1"), [id], |r| r.get(0))?;
            return Ok(n + 1);
        }
        let tx = self.tx()?;
        let n: u32 =
            tx.query_row(&format!("UPDATE tokens SET {col} = {col} + 1 WHERE id = ?1 RETURNING {col}"), [id], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        Ok(n)
    }

    fn clear_failures(&mut self, id: TokenId, who: Who, ev: Option<&Event>) -> Result<()> {
        let (col, _, _) = who_cols(who);
        if self.read_only {
            return Ok(());
        }
        let tx = self.tx()?;
        tx.execute(&format!("UPDATE tokens SET {col} = 0 WHERE id = ?1 AND {col} != 0"), [id])?;
        if let Some(ev) = ev {
            audit::append(&tx, ev)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn set_pin(&mut self, id: TokenId, who: Who, w: &PinWrap, ev: &Event) -> Result<()> {
        let (col, salt, wrapped) = who_cols(who);
        let tx = self.tx()?;
        let n = tx.execute(
            &format!("UPDATE tokens SET {salt} = ?1, {wrapped} = ?2, {col} = 0 WHERE id = ?3"),
            params![w.salt, w.wrapped, id],
        )?;
        if n != 1 {
            return Err(Error::TokenNotRecognized);
        }
        audit::append(&tx, ev)?;
        tx.commit()?;
        Ok(())
    }

    fn insert_object(&mut self, token: TokenId, obj: &Object, sealer: Option<&Sealer>, ev: &Event) -> Result<ObjectId> {
        let rec = encode_record(obj, sealer)?;
        let tx = self.tx()?;
        tx.prepare_cached("INSERT INTO objects(token_id, uid, class, private, attrs) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![token, obj.unique_id(), obj.class() as i64, obj.is_private(), rec])
            .map_err(|e| match &e {
                // The token is gone: another process initialised its slot again since this
                // session was opened (C_Login on such a session says the same).
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    Error::TokenNotRecognized
                }
                _ => e.into(),
            })?;
        let id = tx.last_insert_rowid();
        write_index(&tx, id, obj, sealer)?;
        audit::append(&tx, ev)?;
        tx.commit()?;
        self.changed();
        Ok(id)
    }

    fn load_object(&self, token: TokenId, id: ObjectId, sealer: Option<&Sealer>) -> Result<Option<Object>> {
        let mut st =
            self.conn.prepare_cached("SELECT uid, private, attrs FROM objects WHERE id = ?1 AND token_id = ?2")?;
        let row: Option<(String, bool, Vec<u8>)> =
            st.query_row(params![id, token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
        match row {
            None => Ok(None),
            Some((_, true, _)) if sealer.is_none() => Ok(None),
            Some((uid, _, rec)) => decode_record(&uid, &rec, sealer).map(Some),
        }
    }

    fn update_object(
        &mut self,
        token: TokenId,
        id: ObjectId,
        obj: &Object,
        sealer: Option<&Sealer>,
        ev: &Event,
    ) -> Result<()> {
        let rec = encode_record(obj, sealer)?;
        let tx = self.tx()?;
        let n = tx.execute(
            "UPDATE objects SET attrs = ?1, class = ?2, private = ?3 WHERE id = ?4 AND token_id = ?5",
            params![rec, obj.class() as i64, obj.is_private(), id, token],
        )?;
        if n != 1 {
            return Err(Error::ObjectHandleInvalid);
        }
        write_index(&tx, id, obj, sealer)?;
        audit::append(&tx, ev)?;
        tx.commit()?;
        self.changed();
        Ok(())
    }

    fn delete_object(&mut self, token: TokenId, id: ObjectId, ev: &Event) -> Result<bool> {
        let tx = self.tx()?;
        let n = tx.execute("DELETE FROM objects WHERE id = ?1 AND token_id = ?2", params![id, token])?;
        if n == 1 {
            audit::append(&tx, ev)?;
            tx.commit()?;
            self.changed();
        }
        Ok(n == 1)
    }

    fn append_audits(&mut self, evs: &[Event]) -> Result<()> {
        if self.read_only {
            // Nothing can be recorded on a read-only store; nothing can change there either.
            return Ok(());
        }
        let tx = self.tx()?;
        for ev in evs {
            audit::append(&tx, ev)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn candidates(&self, token: TokenId, template: &[Attribute], sealer: Option<&Sealer>) -> Result<Vec<ObjectId>> {
        let private_ok = sealer.is_some();
        if let Some(a) = template.iter().find(|a| INDEXED.contains(&a.ty)) {
            let enc = object::encode_value(&a.value);
            let pubd = public_digest(a.ty, &enc);
            let privd = sealer.map(|s| s.private_digest(a.ty, &enc)).unwrap_or(pubd);
            let mut st = self.conn.prepare_cached(
                "SELECT o.id FROM object_index i JOIN objects o ON o.id = i.object_id \
                 WHERE i.attr = ?1 AND i.digest IN (?2, ?3) AND o.token_id = ?4 AND (o.private = 0 OR ?5) ORDER BY o.id",
            )?;
            let ids = st.query_map(params![a.ty as i64, &pubd[..], &privd[..], token, private_ok], |r| r.get(0))?;
            return Ok(ids.collect::<rusqlite::Result<Vec<_>>>()?);
        }
        let class = template.iter().find(|a| a.ty == CKA_CLASS).and_then(|a| match a.value {
            object::Value::Ulong(c) => Some(c as i64),
            _ => None,
        });
        let mut st = self.conn.prepare_cached(
            "SELECT id FROM objects WHERE token_id = ?1 AND (?2 IS NULL OR class = ?2) AND (private = 0 OR ?3) ORDER BY id",
        )?;
        let ids = st.query_map(params![token, class, private_ok], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Deletes the token with `serial` (and, by cascade, its objects) from the store in `dir`,
/// recording it in the audit trail (`softhsm2-util --delete-token`). False when there is none.
pub fn delete_token(dir: &Path, serial: &str) -> Result<bool> {
    let mut store = SqliteStore::open(dir, Duration::from_secs(30), 0o077)?;
    let tx = store.tx()?;
    let slot: Option<i64> =
        tx.query_row("SELECT slot_id FROM tokens WHERE serial = ?1", [serial], |r| r.get(0)).optional()?;
    let Some(slot) = slot else { return Ok(false) };
    tx.execute("DELETE FROM tokens WHERE serial = ?1", [serial])?;
    let ev = Event {
        slot_id: Some(slot as u64),
        serial: Some(serial.to_string()),
        user: Some("so"),
        function: "softhsm2-util --delete-token",
        result: CKR_OK,
        ..Default::default()
    };
    audit::append(&tx, &ev)?;
    tx.commit()?;
    store.changed();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record cut anywhere decodes to an error or, cut between attributes, to the ones
    /// before the cut; never a panic.
    #[test]
    fn cut_records_are_errors_or_fewer_attributes() {
        let obj: Object = [
            (CKA_CLASS, object::Value::Ulong(CKO_DATA)),
            (CKA_LABEL, object::Value::bytes(b"label".to_vec())),
            (CKA_TOKEN, object::Value::Bool(true)),
        ]
        .into_iter()
        .collect();
        let rec = encode_record(&obj, None).unwrap();
        // Attribute boundaries: after the version byte and after each attribute.
        let mut boundaries = vec![1];
        while let Some(&at) = boundaries.last().filter(|&&at| at < rec.len()) {
            let n = u32::from_le_bytes(rec[at + 9..at + 13].try_into().unwrap()) as usize;
            boundaries.push(at + 13 + n);
        }
        for cut in 1..rec.len() {
            let decoded =
                std::panic::catch_unwind(|| decode_record("uid", &rec[..cut], None).map(|o| o.iter().count()));
            let decoded = decoded.unwrap_or_else(|_| panic!("cut at {cut}: a panic"));
            match boundaries.iter().position(|&b| b == cut) {
                Some(i) => assert_eq!(decoded.ok(), Some(i), "cut at {cut}, after {i} attributes"),
                None => assert!(decoded.is_err(), "cut at {cut}, inside an attribute"),
            }
        }
    }

    /// A probe file left by a killed process that had this process's id does not make the
    /// directory look read-only; it is removed.
    #[test]
    fn a_stale_probe_file_leaves_the_store_writable() {
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join(format!(".oxihsm-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").unwrap();
        let store = SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).unwrap();
        assert!(!store.read_only);
        assert!(!probe.exists());
    }

    /// A read-only store opens at schema 2 (the tables of schema 3, version 1 records) or 3,
    /// and not at an older or a newer one.
    #[test]
    fn read_only_stores_open_at_schema_2_and_3() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).unwrap());
        let db = dir.path().join("oxihsm.db");
        for (v, opens) in [(1, false), (2, true), (SCHEMA_VERSION, true), (SCHEMA_VERSION + 1, false)] {
            Connection::open(&db).unwrap().pragma_update(None, "user_version", v).unwrap();
            assert_eq!(SqliteStore::open_read_only(&db).is_ok(), opens, "schema {v}");
        }
    }

    /// An empty CKA_ALLOWED_MECHANISMS in a version 1 record (every key's default then,
    /// meaning no restriction) is left out when read; in a version 2 record it stays, and
    /// allows nothing. Records are written in version 2.
    #[test]
    fn version_1_records_read_an_empty_mechanism_list_as_no_restriction() {
        let key = |allowed: Option<Vec<CK_MECHANISM_TYPE>>| {
            let mut attrs = vec![
                (CKA_CLASS, object::Value::Ulong(CKO_SECRET_KEY)),
                (CKA_KEY_TYPE, object::Value::Ulong(CKK_AES)),
                (CKA_LABEL, object::Value::bytes(b"k".to_vec())),
            ];
            if let Some(l) = allowed {
                attrs.push((CKA_ALLOWED_MECHANISMS, object::Value::MechList(l)));
            }
            attrs.into_iter().collect::<Object>()
        };
        let record = |o: &Object| encode_record(o, None).unwrap();
        let empty = record(&key(Some(Vec::new())));
        assert_eq!(empty[0], RECORD_VERSION);
        let read = |rec: &[u8]| decode_record("uid", rec, None).unwrap().get(CKA_ALLOWED_MECHANISMS).cloned();
        assert_eq!(read(&empty), Some(object::Value::MechList(Vec::new())));
        let mut old = empty.clone();
        old[0] = 1;
        assert_eq!(read(&old), None);
        let mut old_listed = record(&key(Some(vec![CKM_AES_GCM])));
        old_listed[0] = 1;
        assert_eq!(read(&old_listed), Some(object::Value::MechList(vec![CKM_AES_GCM])));
        assert_eq!(read(&record(&key(None))), None);
        let mut future = empty;
        future[0] = RECORD_VERSION + 1;
        assert!(decode_record("uid", &future, None).is_err());
    }

    #[test]
    fn schema_1_stores_migrate_to_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("oxihsm.db")).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let store = SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).unwrap();
        let v: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert_eq!(audit::verify(&store.conn).unwrap(), audit::Verdict::Intact(0));
        // A store newer than this oxihsm is refused.
        store.conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(store);
        assert!(SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).is_err());
    }

    #[test]
    fn new_stores_have_small_pages_and_old_ones_keep_theirs() {
        let page_size = |s: &SqliteStore| s.conn.pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).unwrap();
        assert_eq!(page_size(&store), PAGE_SIZE);
        drop(store);
        assert_eq!(page_size(&SqliteStore::open(dir.path(), Duration::from_secs(1), 0o077).unwrap()), PAGE_SIZE);
        // A store made with SQLite's default (4 KiB, as older oxihsm made them) keeps it.
        let old = tempfile::tempdir().unwrap();
        let conn = Connection::open(old.path().join("oxihsm.db")).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        assert_eq!(page_size(&SqliteStore::open(old.path(), Duration::from_secs(1), 0o077).unwrap()), 4096);
    }
}
