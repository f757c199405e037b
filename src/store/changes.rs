//! The change marker: a small file beside the database (`oxihsm.db-changes`) whose first
//! eight bytes every connection rewrites with a fresh random value after it commits a change
//! to the token objects. Each process maps it shared (`ffi::shared::SharedWord`). A
//! process caches the token objects it uses; before it trusts its cache it reads the marker
//! (one memory load, no lock, no system call), and only when the marker differs from the one
//! it saw when it last checked the store does it ask SQLite (`PRAGMA data_version`: a read
//! transaction, with two `fcntl` locks on the WAL index, under the store's mutex). Reading
//! SQLite's own WAL index instead would need a descriptor on its `-shm` file, and closing
//! any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
//! included; this file is the module's own.
//!
//! As with SQLite's `-shm` file, which SQLite maps the same way, cutting the file short
//! while a process has it mapped makes that process's next read fault.
//!
//! A writer that dies between its commit and the marker update, or a writer that does not
//! know the marker (an older oxihsm), leaves the marker as it was: caches are therefore also
//! checked against the store at least once every [`TRUST`], whatever the marker says.

use crate::ffi::shared::SharedWord;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest a cache is trusted on the marker alone.
pub const TRUST: Duration = Duration::from_secs(1);

/// The marker file of the store `db` (the database file's path).
pub fn marker_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-changes");
    PathBuf::from(p)
}

/// An open change marker.
#[derive(Debug)]
pub struct ChangeMarker {
    word: SharedWord,
}

impl ChangeMarker {
    /// Opens (creating it with `mode` if needed) and maps the marker of the store `db`.
    /// `None` when it can be neither opened nor made: every check then goes to the store.
    pub fn open(db: &Path, mode: u32) -> Option<ChangeMarker> {
        let path = marker_path(db);
        let rw = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(mode).open(&path);
        let (file, writable) = match rw {
            Ok(f) => (f, true),
            Err(_) => (File::open(&path).ok()?, false),
        };
        if file.metadata().ok()?.len() < 8 {
            // New: give it a first value, so that there are eight bytes to map.
            file.write_all_at(&random_word().ok()?.to_ne_bytes(), 0).ok()?;
        }
        Some(ChangeMarker { word: SharedWord::map(&file, writable).ok()? })
    }

    /// The current marker.
    pub fn read(&self) -> u64 {
        self.word.load()
    }

    /// Marks a change: called after each commit that changes token objects.
    pub fn bump(&self) {
        match random_word() {
            Ok(v) => {
                self.word.store(v);
            }
            // The commit stands; other processes see it within TRUST.
            Err(e) => crate::ffi::warn(&format!("could not update the store's change marker: {e}")),
        }
    }
}

fn random_word() -> crate::error::Result<u64> {
    let mut b = [0u8; 8];
    crate::crypto::random_fill(&mut b)?;
    Ok(u64::from_ne_bytes(b))
}

/// Marks a change to the store `db` made outside a [`super::Store`] (a restore, a token
/// deleted by `softhsm2-util`).
pub fn note_change(db: &Path) {
    if let Some(m) = ChangeMarker::open(db, 0o600) {
        m.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_gives_a_new_marker_seen_by_other_openers() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("oxihsm.db");
        let a = ChangeMarker::open(&db, 0o600).unwrap();
        let b = ChangeMarker::open(&db, 0o600).unwrap();
        let first = a.read();
        assert_eq!(b.read(), first, "a second opener keeps the value");
        a.bump();
        let second = b.read();
        assert_ne!(second, first, "one mapping sees the other's store");
        note_change(&db);
        assert_ne!(a.read(), second);
        assert_eq!(std::fs::read(marker_path(&db)).unwrap(), a.read().to_ne_bytes(), "the value is in the file");
        assert_eq!(marker_path(&db), dir.path().join("oxihsm.db-changes"));
    }
}
