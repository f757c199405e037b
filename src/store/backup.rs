//! Token backup files (`oxihsm backup` / `oxihsm restore`).
//!
//! A backup holds one token's rows exactly as stored (the master key wrapped under the PINs,
//! private and sensitive attributes sealed under the master key, index digests), serialised
//! and then sealed with AES-256-GCM under a key derived from the token's user PIN with
//! Argon2id and a fresh salt. Without the PIN the file opens to nothing; any change to it
//! fails authentication. Restoring brings the token back with its serial, PINs and objects.
//!
//! File layout: `"OXIHSM-BACKUP\0"`, version byte ([`BACKUP_VERSION`]), Argon2id memory KiB
//! / iterations / lanes (u32 LE each), 16-byte salt, then the sealed payload (nonce ‖
//! ciphertext ‖ tag) with everything before it as associated data. Version 2 files may hold
//! version 2 object records (store schema 3), which an older oxihsm cannot read, so it
//! refuses the file; version 1 files restore as before.

use super::audit::{self, Event};
use crate::config::KdfParams;
use crate::crypto;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const MAGIC: &[u8; 14] = b"OXIHSM-BACKUP\0";

/// The version byte of the backups written now.
pub const BACKUP_VERSION: u8 = 2;

#[derive(Serialize, Deserialize)]
struct TokenRow {
    uuid: Vec<u8>,
    label: Vec<u8>,
    serial: String,
    kdf: (u32, u32, u32),
    so_salt: Vec<u8>,
    so_wrapped: Vec<u8>,
    user_salt: Option<Vec<u8>>,
    user_wrapped: Option<Vec<u8>>,
    max_failures: u32,
}

#[derive(Serialize, Deserialize)]
struct ObjectRow {
    uid: String,
    class: i64,
    private: bool,
    attrs: Vec<u8>,
    index: Vec<(i64, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct Dump {
    token: TokenRow,
    objects: Vec<ObjectRow>,
}

/// A backup of the token in `slot_id`, sealed under `pin` (which the caller has checked).
pub fn export(conn: &Connection, slot_id: u64, pin: &[u8]) -> Result<Vec<u8>> {
    let tx = conn.unchecked_transaction()?;
    let row = tx
        .query_row(
            "SELECT id, uuid, label, serial, kdf_memory, kdf_iterations, kdf_parallelism, so_salt, so_wrapped, \
             user_salt, user_wrapped, max_failures FROM tokens WHERE slot_id = ?1",
            [slot_id as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    TokenRow {
                        uuid: r.get(1)?,
                        label: r.get(2)?,
                        serial: r.get(3)?,
                        kdf: (r.get(4)?, r.get(5)?, r.get(6)?),
                        so_salt: r.get(7)?,
                        so_wrapped: r.get(8)?,
                        user_salt: r.get(9)?,
                        user_wrapped: r.get(10)?,
                        max_failures: r.get(11)?,
                    },
                ))
            },
        )
        .optional()?;
    let (id, token) = row.ok_or(Error::SlotIdInvalid)?;
    let mut objects = Vec::new();
    {
        let mut st =
            tx.prepare("SELECT id, uid, class, private, attrs FROM objects WHERE token_id = ?1 ORDER BY id")?;
        let mut ix = tx.prepare("SELECT attr, digest FROM object_index WHERE object_id = ?1")?;
        let rows = st.query_map([id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, Vec<u8>>(4)?))
        })?;
        for row in rows {
            let (oid, uid, class, private, attrs) = row?;
            let index = ix.query_map([oid], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            objects.push(ObjectRow { uid, class, private, attrs, index });
        }
    }
    drop(tx);
    let kdf = KdfParams { memory_kib: token.kdf.0, iterations: token.kdf.1, parallelism: token.kdf.2 };
    let plain =
        Zeroizing::new(serde_json::to_vec(&Dump { token, objects }).map_err(|e| Error::Internal(e.to_string()))?);
    let salt = crypto::random_vec(16)?;
    let mut header = MAGIC.to_vec();
    header.push(BACKUP_VERSION);
    for v in [kdf.memory_kib, kdf.iterations, kdf.parallelism] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&salt);
    let key = crypto::pin_kek(pin, &salt, kdf)?;
    let sealed = crypto::seal(&key, &header, &plain)?;
    header.extend_from_slice(&sealed);
    Ok(header)
}

/// What a backup file holds, once opened.
pub struct Opened {
    dump: Dump,
}

impl Opened {
    pub fn serial(&self) -> &str {
        &self.dump.token.serial
    }
    pub fn objects(&self) -> usize {
        self.dump.objects.len()
    }
}

/// Opens a backup with `pin`; a wrong PIN or any change to the file is CKR_PIN_INCORRECT
/// (they cannot be told apart, by design).
pub fn open(file: &[u8], pin: &[u8]) -> Result<Opened> {
    let head_len = MAGIC.len() + 1 + 12 + 16;
    if file.len() < head_len || &file[..MAGIC.len()] != MAGIC {
        return Err(Error::DataInvalid);
    }
    if !(1..=BACKUP_VERSION).contains(&file[MAGIC.len()]) {
        return Err(Error::DataInvalid);
    }
    let u =
        |i: usize| u32::from_le_bytes(file[MAGIC.len() + 1 + 4 * i..MAGIC.len() + 5 + 4 * i].try_into().expect("4"));
    let kdf = KdfParams { memory_kib: u(0), iterations: u(1), parallelism: u(2) };
    if kdf.memory_kib > 4 * 1024 * 1024 || kdf.iterations > 64 || kdf.parallelism > 64 {
        return Err(Error::DataInvalid);
    }
    let salt = &file[MAGIC.len() + 13..head_len];
    let key = crypto::pin_kek(pin, salt, kdf)?;
    let plain = crypto::open(&key, &file[..head_len], &file[head_len..]).map_err(|_| Error::PinIncorrect)?;
    let dump: Dump = serde_json::from_slice(&plain).map_err(|_| Error::DataInvalid)?;
    Ok(Opened { dump })
}

/// Writes an opened backup into the store at `slot_id`, replacing the token there (and
/// any token with the same serial elsewhere), in one transaction with its audit record.
pub fn restore(conn: &mut Connection, b: &Opened, slot_id: u64) -> Result<()> {
    let t = &b.dump.token;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM tokens WHERE slot_id = ?1 OR serial = ?2", params![slot_id as i64, t.serial])?;
    tx.execute(
        "INSERT INTO tokens(slot_id, uuid, label, serial, kdf_memory, kdf_iterations, kdf_parallelism, so_salt, \
         so_wrapped, user_salt, user_wrapped, max_failures) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
        params![
            slot_id as i64,
            t.uuid,
            t.label,
            t.serial,
            t.kdf.0,
            t.kdf.1,
            t.kdf.2,
            t.so_salt,
            t.so_wrapped,
            t.user_salt,
            t.user_wrapped,
            t.max_failures
        ],
    )?;
    let token_id = tx.last_insert_rowid();
    for o in &b.dump.objects {
        tx.execute(
            "INSERT INTO objects(token_id, uid, class, private, attrs) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_id, o.uid, o.class, o.private, o.attrs],
        )?;
        let oid = tx.last_insert_rowid();
        for (attr, digest) in &o.index {
            tx.execute(
                "INSERT INTO object_index(attr, digest, object_id) VALUES (?1, ?2, ?3)",
                params![attr, digest, oid],
            )?;
        }
    }
    let ev = Event {
        slot_id: Some(slot_id),
        serial: Some(t.serial.clone()),
        function: "oxihsm restore",
        result: cryptoki_sys::CKR_OK,
        ..Default::default()
    };
    audit::append(&tx, &ev)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backup file's header of `version` with the Argon2id costs `kdf` (memory KiB,
    /// iterations, lanes), a zero salt, and `sealed` bytes after it.
    fn file(version: u8, kdf: [u32; 3], sealed: usize) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.push(version);
        for v in kdf {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&[0; 16]);
        f.resize(f.len() + sealed, 0);
        f
    }

    fn opened(f: &[u8]) -> Result<()> {
        open(f, b"123456").map(|_| ())
    }

    /// What is not a backup is CKR_DATA_INVALID before any key is derived: too short a file,
    /// another magic, an unknown version, Argon2id costs past the bounds (a file could ask for
    /// terabytes); what is one gets as far as the PIN (nothing sealed here opens).
    #[test]
    fn only_backups_within_bounds_reach_the_pin() {
        let cheap = [8, 1, 1];
        for version in [1, BACKUP_VERSION] {
            assert!(matches!(opened(&file(version, cheap, 40)), Err(Error::PinIncorrect)), "version {version}");
        }
        assert!(matches!(opened(&file(2, cheap, 0)), Err(Error::PinIncorrect)), "a header alone");
        let whole = file(2, cheap, 0);
        assert!(matches!(opened(&whole[..whole.len() - 1]), Err(Error::DataInvalid)), "a header cut short");
        assert!(matches!(opened(&whole[..MAGIC.len()]), Err(Error::DataInvalid)));
        let mut other = file(2, cheap, 40);
        other[0] ^= 1;
        assert!(matches!(opened(&other), Err(Error::DataInvalid)), "another magic");
        for version in [0, BACKUP_VERSION + 1, 255] {
            assert!(matches!(opened(&file(version, cheap, 40)), Err(Error::DataInvalid)), "version {version}");
        }
        assert!(matches!(opened(&file(2, [512, 64, 64], 40)), Err(Error::PinIncorrect)), "the largest counts");
        for kdf in [[4 * 1024 * 1024 + 1, 1, 1], [8, 65, 1], [512, 1, 65], [u32::MAX; 3]] {
            assert!(matches!(opened(&file(2, kdf, 40)), Err(Error::DataInvalid)), "{kdf:?}");
        }
    }
}
