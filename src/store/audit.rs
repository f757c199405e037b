//! The audit trail (DESIGN §8): one hash-chained table in the store.
//!
//! Record `n` carries `hash(n) = SHA-256("oxihsm audit v1" ‖ n ‖ fields ‖ hash(n-1))` (the
//! first record chains from 32 zero bytes), and the `audit_head` row holds the newest record's
//! number and hash, updated in the same transaction. [`verify`] walks the chain and reports
//! the first record that does not fit: an edited record breaks its own hash, a deleted or
//! reordered one breaks the next record's link, and a deleted tail no longer matches the head.
//!
//! A record never holds a secret: no PIN, no key value, and no label of a private object (the
//! store does not reveal those either); objects are named by CKA_UNIQUE_ID.

use crate::crypto::sha256;
use crate::error::{Error, Result};
use cryptoki_sys::CK_RV;
use rusqlite::{Connection, OptionalExtension, params};

pub const SCHEMA: &str = "
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  slot_id INTEGER,
  serial TEXT,
  user TEXT,
  function TEXT NOT NULL,
  mechanism INTEGER,
  object_uid TEXT,
  label TEXT,
  result INTEGER NOT NULL,
  hash BLOB NOT NULL
);
CREATE TABLE audit_head(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL
);
";

/// The archived start of the chain (made by the first `oxihsm audit archive`): the last
/// archived record's number and hash.
pub const ANCHOR_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_anchor(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL
);
";

/// What happened, as the engine describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub slot_id: Option<u64>,
    pub serial: Option<String>,
    /// The token whose slot and serial the record names, read inside the transaction that
    /// writes it, when `slot_id` and `serial` are not given (no read of its own).
    pub token: Option<super::TokenId>,
    /// "so", "user" or none.
    pub user: Option<&'static str>,
    pub function: &'static str,
    pub mechanism: Option<u64>,
    pub object_uid: Option<String>,
    /// Only for public objects.
    pub label: Option<String>,
    pub result: CK_RV,
}

/// A stored record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub seq: i64,
    pub time_ms: i64,
    pub pid: i64,
    pub slot_id: Option<i64>,
    pub serial: Option<String>,
    pub user: Option<String>,
    pub function: String,
    pub mechanism: Option<i64>,
    pub object_uid: Option<String>,
    pub label: Option<String>,
    pub result: i64,
    #[serde(serialize_with = "hex", deserialize_with = "unhex")]
    pub hash: Vec<u8>,
}

fn hex<S: serde::Serializer>(b: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::hex::encode(b))
}

fn unhex<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    if !s.len().is_multiple_of(2) {
        return Err(serde::de::Error::custom("an odd number of hex digits"));
    }
    crate::hex::decode(&s).ok_or_else(|| serde::de::Error::custom("not hex"))
}

fn field(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// The chained hash of a record's fields after `prev`.
pub fn chain_hash(r: &Record, prev: &[u8]) -> [u8; 32] {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&r.seq.to_le_bytes());
    m.extend_from_slice(&r.time_ms.to_le_bytes());
    m.extend_from_slice(&r.pid.to_le_bytes());
    field(&mut m, r.slot_id.map(|v| v.to_le_bytes()).as_ref().map(|b| &b[..]));
    field(&mut m, r.serial.as_deref().map(str::as_bytes));
    field(&mut m, r.user.as_deref().map(str::as_bytes));
    field(&mut m, Some(r.function.as_bytes()));
    field(&mut m, r.mechanism.map(|v| v.to_le_bytes()).as_ref().map(|b| &b[..]));
    field(&mut m, r.object_uid.as_deref().map(str::as_bytes));
    field(&mut m, r.label.as_deref().map(str::as_bytes));
    m.extend_from_slice(&r.result.to_le_bytes());
    sha256(&[b"oxihsm audit v1", &m, prev])
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The newest record's number and hash, as `audit_head` holds them.
fn head(conn: &Connection) -> Result<Option<(i64, Vec<u8>)>> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Appends `e` inside the caller's write transaction.
pub fn append(conn: &Connection, e: &Event) -> Result<()> {
    let head = head(conn)?;
    let (last, prev) = head.unwrap_or((0, vec![0u8; 32]));
    let (slot_id, serial) = match (e.token, e.slot_id, &e.serial) {
        (Some(t), None, None) => conn
            .prepare_cached("SELECT slot_id, serial FROM tokens WHERE id = ?1")?
            .query_row([t], |r| Ok((Some(r.get(0)?), Some(r.get(1)?))))
            .optional()?
            .unwrap_or((None, None)),
        _ => (e.slot_id.map(|s| s as i64), e.serial.clone()),
    };
    let mut r = Record {
        seq: last + 1,
        time_ms: now_ms(),
        pid: std::process::id() as i64,
        slot_id,
        serial,
        user: e.user.map(String::from),
        function: e.function.to_string(),
        mechanism: e.mechanism.map(|m| m as i64),
        object_uid: e.object_uid.clone(),
        label: e.label.clone(),
        result: e.result as i64,
        hash: Vec::new(),
    };
    r.hash = chain_hash(&r, &prev).to_vec();
    conn.prepare_cached(
        "INSERT INTO audit(seq, time_ms, pid, slot_id, serial, user, function, mechanism, object_uid, label, result, hash) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    )?
    .execute(params![
        r.seq,
        r.time_ms,
        r.pid,
        r.slot_id,
        r.serial,
        r.user,
        r.function,
        r.mechanism,
        r.object_uid,
        r.label,
        r.result,
        r.hash
    ])?;
    conn.prepare_cached("INSERT OR REPLACE INTO audit_head(id, seq, hash) VALUES (1, ?1, ?2)")?
        .execute(params![r.seq, r.hash])?;
    Ok(())
}

/// Every record, oldest first.
pub fn records(conn: &Connection) -> Result<Vec<Record>> {
    let mut st = conn.prepare(
        "SELECT seq, time_ms, pid, slot_id, serial, user, function, mechanism, object_uid, label, result, hash \
         FROM audit ORDER BY rowid",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Record {
            seq: r.get(0)?,
            time_ms: r.get(1)?,
            pid: r.get(2)?,
            slot_id: r.get(3)?,
            serial: r.get(4)?,
            user: r.get(5)?,
            function: r.get(6)?,
            mechanism: r.get(7)?,
            object_uid: r.get(8)?,
            label: r.get(9)?,
            result: r.get(10)?,
            hash: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The outcome of [`verify`].
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The chain holds: this many records (in the store, after any archived ones).
    Intact(usize),
    /// The first record (by the number it should have, and its stored seq) that does not
    /// fit, and why.
    Broken { position: usize, seq: Option<i64>, reason: String },
}

/// A point of the chain: a record's number and hash (seq 0 and 32 zero bytes before the
/// first record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub seq: i64,
    pub hash: Vec<u8>,
}

impl Link {
    /// Where the chain starts.
    pub fn origin() -> Link {
        Link { seq: 0, hash: vec![0u8; 32] }
    }

    fn of(r: &Record) -> Link {
        Link { seq: r.seq, hash: r.hash.clone() }
    }
}

/// Checks that `recs` continue the chain after `start`; returns the link of the last one.
pub fn walk(recs: &[Record], start: &Link) -> std::result::Result<Link, Verdict> {
    let mut at = start.clone();
    for r in recs {
        let want = at.seq + 1;
        let broken =
            |reason: &str| Verdict::Broken { position: want as usize, seq: Some(r.seq), reason: reason.into() };
        if r.seq != want {
            return Err(broken(&format!("expected record {want} here (a record was deleted or moved)")));
        }
        if chain_hash(r, &at.hash)[..] != r.hash[..] {
            return Err(broken("its hash does not match its contents and the previous record (edited)"));
        }
        at = Link::of(r);
    }
    Ok(at)
}

/// Where the store's records start: after the last archived record (see [`archive_through`]),
/// or at the origin.
pub fn anchor(conn: &Connection) -> Result<Link> {
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_anchor')")?
        .query_row([], |r| r.get(0))?;
    if !exists {
        return Ok(Link::origin());
    }
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit_anchor WHERE id = 1")?
        .query_row([], |r| Ok(Link { seq: r.get(0)?, hash: r.get(1)? }))
        .optional()?
        .unwrap_or_else(Link::origin))
}

/// Walks the chain in storage order, from the anchor.
pub fn verify(conn: &Connection) -> Result<Verdict> {
    let recs = records(conn)?;
    let start = anchor(conn)?;
    let end = match walk(&recs, &start) {
        Ok(end) => end,
        Err(broken) => return Ok(broken),
    };
    match head(conn)? {
        None if recs.is_empty() && start == Link::origin() => Ok(Verdict::Intact(0)),
        Some((seq, hash)) if seq == end.seq && hash == end.hash => Ok(Verdict::Intact(recs.len())),
        _ => Ok(Verdict::Broken {
            position: end.seq as usize + 1,
            seq: None,
            reason: "the newest records are missing (the trail ends before its recorded head)".into(),
        }),
    }
}

/// Removes the records up to and including `last` from the store, inside the caller's write
/// transaction, once they are kept elsewhere: the anchor then holds `last`, and the chain
/// goes on from it. Fails when record `last.seq` is not there with `last.hash`.
pub fn archive_through(conn: &Connection, last: &Link) -> Result<()> {
    let stored: Option<Vec<u8>> =
        conn.prepare_cached("SELECT hash FROM audit WHERE seq = ?1")?.query_row([last.seq], |r| r.get(0)).optional()?;
    if stored.as_deref() != Some(&last.hash[..]) {
        return Err(Error::Corrupt(format!("audit record {} is not the one archived", last.seq)));
    }
    conn.execute_batch(ANCHOR_SCHEMA)?;
    conn.prepare_cached("DELETE FROM audit WHERE seq <= ?1")?.execute([last.seq])?;
    conn.prepare_cached("INSERT OR REPLACE INTO audit_anchor(id, seq, hash) VALUES (1, ?1, ?2)")?
        .execute(params![last.seq, last.hash])?;
    Ok(())
}
