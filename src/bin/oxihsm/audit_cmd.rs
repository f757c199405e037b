//! `oxihsm audit show|verify|export|archive`: the store's hash-chained audit trail (DESIGN §8).
//!
//! `archive` moves the older records into a file that carries its own start of the chain, so
//! the store stops growing with the trail while the whole chain stays checkable: `verify
//! --archive` walks the files, oldest first, and the store after them.

use crate::Result;
use crate::token::{Ctx, emit};
use oxihsm::store::audit::{self, Link, Record, Verdict};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Print the records (the newest --last N).
    Show {
        #[arg(long)]
        last: Option<usize>,
    },
    /// Check the hash chain; fails naming the first bad record.
    Verify {
        /// Archive files (from `audit archive`), oldest first, to check with the store's
        /// records: each must continue the one before, and the store the last.
        #[arg(long)]
        archive: Vec<PathBuf>,
    },
    /// Write every record as JSON lines (to a file, or standard output).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Move the older records out of the store into a new file (JSON lines after a line
    /// naming the record they follow); the store keeps the newest --keep records and the
    /// link the chain goes on from. Refuses a broken trail.
    Archive {
        #[arg(long)]
        out: PathBuf,
        /// How many of the newest records stay in the store.
        #[arg(long, default_value_t = 0)]
        keep: usize,
    },
}

/// The first line of an archive file.
#[derive(serde::Serialize, serde::Deserialize)]
struct ArchiveHeader {
    oxihsm_audit_archive: u32,
    /// The record the archived ones follow (0 and zeros: the start of the chain).
    after_seq: i64,
    after_hash: String,
}

use oxihsm::hex::encode as hex;

/// An archive file's starting link and records.
fn read_archive(path: &Path) -> Result<(Link, Vec<Record>)> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let bad = |what: &str| format!("{}: not an oxihsm audit archive ({what})", path.display());
    let header: ArchiveHeader =
        serde_json::from_str(lines.next().unwrap_or_default()).map_err(|e| bad(&format!("first line: {e}")))?;
    let hash = crate::p11::unhex(&header.after_hash).ok_or_else(|| bad("after_hash"))?;
    if header.oxihsm_audit_archive != 1 {
        return Err(bad(&format!("version {}", header.oxihsm_audit_archive)));
    }
    let recs = lines
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| bad(&format!("line {}: {e}", i + 2))))
        .collect::<Result<Vec<Record>>>()?;
    Ok((Link { seq: header.after_seq, hash }, recs))
}

/// Checks the archive files in order; returns where the last one ends and how many records
/// they hold.
fn verify_archives(files: &[PathBuf]) -> Result<Option<(Link, usize)>> {
    let mut end: Option<(Link, usize)> = None;
    for f in files {
        let (start, recs) = read_archive(f)?;
        if let Some((prev, _)) = &end
            && *prev != start
        {
            return Err(format!(
                "{} does not continue the archive before it (it follows record {}, that one ends at record {})",
                f.display(),
                start.seq,
                prev.seq
            ));
        }
        let last = audit::walk(&recs, &start).map_err(|v| match v {
            Verdict::Broken { position, reason, .. } => {
                format!("audit archive {} broken at record {position}: {reason}", f.display())
            }
            Verdict::Intact(_) => unreachable!("walk reports only breaks"),
        })?;
        end = Some((last, end.map_or(0, |(_, n)| n) + recs.len()));
    }
    Ok(end)
}

/// Writes `data` to a new file and makes it durable before the records leave the store.
fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::output::sync_dir_of(path)
}

fn archive(ctx: &Ctx, out: &Path, keep: usize) -> Result<()> {
    let path = store_path()?;
    let mut db = rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    db.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    // Records are only ever appended: what is read here stays as it is while others append.
    if let Verdict::Broken { position, reason, .. } = audit::verify(&db).map_err(|e| e.to_string())? {
        return Err(format!("audit trail broken at record {position}: {reason}; not archived"));
    }
    let start = audit::anchor(&db).map_err(|e| e.to_string())?;
    let mut recs = audit::records(&db).map_err(|e| e.to_string())?;
    recs.truncate(recs.len().saturating_sub(keep));
    let Some(last) = recs.last().map(|r| Link { seq: r.seq, hash: r.hash.clone() }) else {
        emit(ctx, json!({"archived": 0}), || "Nothing to archive.\n".to_string());
        return Ok(());
    };
    let header = ArchiveHeader { oxihsm_audit_archive: 1, after_seq: start.seq, after_hash: hex(&start.hash) };
    let mut text = serde_json::to_string(&header).expect("JSON") + "\n";
    for r in &recs {
        text += &(serde_json::to_string(r).expect("JSON") + "\n");
    }
    write_new(out, text.as_bytes())?;
    let first = start.seq + 1;
    let moved = (|| {
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
        // Another archive that ran meanwhile moved the anchor: this file would repeat its
        // records.
        if audit::anchor(&tx).map_err(|e| e.to_string())? != start {
            return Err("another archive ran meanwhile; nothing was archived, run it again".to_string());
        }
        audit::archive_through(&tx, &last).map_err(|e| e.to_string())?;
        let ev = audit::Event {
            function: "oxihsm audit archive",
            label: Some(format!("records {first}-{}", last.seq)),
            result: cryptoki_sys::CKR_OK,
            ..Default::default()
        };
        audit::append(&tx, &ev).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    })();
    if let Err(e) = moved {
        // The records stay in the store: the file is not an archive of anything.
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    emit(ctx, json!({"archived": recs.len(), "first": first, "last": last.seq, "file": out}), || {
        format!("Audit records {first}-{} moved to {}.\n", last.seq, out.display())
    });
    Ok(())
}

/// The configured store's database file, which must exist.
fn store_path() -> Result<PathBuf> {
    let c = oxihsm::config::Config::from_env().map_err(|e| e.to_string())?;
    let path = c.token_dir.join("oxihsm.db");
    if !path.exists() {
        return Err(format!("no store at {}", path.display()));
    }
    Ok(path)
}

/// The store, opened read-only.
fn store() -> Result<rusqlite::Connection> {
    let path = store_path()?;
    rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms.rem_euclid(1000))
}

fn rv_name(rv: i64) -> String {
    match cryptoki::error::Rv::from(rv as cryptoki_sys::CK_RV) {
        cryptoki::error::Rv::Ok => "CKR_OK".into(),
        cryptoki::error::Rv::Error(e) => crate::token::ckr_name(e),
    }
}

pub fn run(ctx: &Ctx, action: Action) -> Result<()> {
    let db = store()?;
    match action {
        Action::Show { last } => {
            let mut recs = audit::records(&db).map_err(|e| e.to_string())?;
            if let Some(n) = last {
                recs.drain(..recs.len().saturating_sub(n));
            }
            let archived = audit::anchor(&db).map_err(|e| e.to_string())?.seq;
            emit(ctx, json!(recs), || {
                let note = if archived > 0 { format!("(records 1-{archived} archived)\n") } else { String::new() };
                note + &recs
                    .iter()
                    .map(|r| {
                        format!(
                            "{:>6} {} pid {:<7} slot {:<3} {:<5} {:<20} {:<22} {}{}{}\n",
                            r.seq,
                            time(r.time_ms),
                            r.pid,
                            r.slot_id.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                            r.user.as_deref().unwrap_or("-"),
                            r.function,
                            rv_name(r.result),
                            r.mechanism.map(|m| format!("mech 0x{m:x} ")).unwrap_or_default(),
                            r.object_uid.as_deref().map(|u| format!("object {u} ")).unwrap_or_default(),
                            r.label.as_deref().map(|l| format!("'{l}'")).unwrap_or_default(),
                        )
                    })
                    .collect::<String>()
            });
            Ok(())
        }
        Action::Verify { archive } => match audit::verify(&db).map_err(|e| e.to_string())? {
            Verdict::Intact(n) => {
                let anchor = audit::anchor(&db).map_err(|e| e.to_string())?;
                let archived = verify_archives(&archive)?;
                if let Some((end, _)) = &archived
                    && *end != anchor
                {
                    return Err(format!(
                        "the store's records do not continue the last archive (they follow record {}, it ends at record {})",
                        anchor.seq, end.seq
                    ));
                }
                let in_files = archived.map_or(0, |(_, k)| k);
                emit(
                    ctx,
                    json!({"intact": true, "records": n, "archived": anchor.seq, "archived_checked": in_files}),
                    || match (anchor.seq, in_files) {
                        (0, _) => format!("audit trail intact: {n} records\n"),
                        (a, 0) => {
                            format!("audit trail intact: {n} records after {a} archived (archives not checked)\n")
                        }
                        (a, k) => format!(
                            "audit trail intact: {n} records after {a} archived ({k} checked in the archives)\n"
                        ),
                    },
                );
                Ok(())
            }
            Verdict::Broken { position, seq, reason } => {
                if ctx.json {
                    println!(
                        "{}",
                        json!({"intact": false, "first_bad_record": position, "seq": seq, "reason": reason})
                    );
                }
                Err(format!("audit trail broken at record {position}: {reason}"))
            }
        },
        Action::Archive { out, keep } => {
            drop(db);
            archive(ctx, &out, keep)
        }
        Action::Export { out } => {
            let recs = audit::records(&db).map_err(|e| e.to_string())?;
            let text: String = recs.iter().map(|r| format!("{}\n", serde_json::to_string(r).expect("JSON"))).collect();
            match out {
                Some(p) => std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?,
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// Record times in UTC, as Python's datetime gives them for the same milliseconds, century
    /// and 400-year boundaries included.
    #[test]
    fn record_times() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_827_696_789, "2000-02-29T12:34:56.789Z"),
            (1_796_215_045_001, "2026-12-02T12:37:25.001Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            // Century and 400-year boundaries of the calendar.
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (13_574_563_200_000, "2400-02-29T00:00:00.000Z"),
            (13_574_649_600_000, "2400-03-01T00:00:00.000Z"),
            (-2_203_891_200_000, "1900-03-01T00:00:00.000Z"),
            (4_102_401_600_000, "2099-12-31T12:00:00.000Z"),
        ] {
            assert_eq!(super::time(ms), want);
        }
    }
}
