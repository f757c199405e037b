//! `oxihsm audit show|verify|export`: the store's hash-chained audit trail (DESIGN §8).

use crate::Result;
use crate::token::{Ctx, emit};
use oxihsm::store::audit::{self, Verdict};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Print the records (the newest --last N).
    Show {
        #[arg(long)]
        last: Option<usize>,
    },
    /// Check the hash chain; fails naming the first bad record.
    Verify,
    /// Write every record as JSON lines (to a file, or standard output).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The store, opened read-only.
fn store() -> Result<rusqlite::Connection> {
    let c = oxihsm::config::Config::from_env().map_err(|e| e.to_string())?;
    let path = c.token_dir.join("oxihsm.db");
    if !path.exists() {
        return Err(format!("no store at {}", path.display()));
    }
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
            emit(ctx, json!(recs), || {
                recs.iter()
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
                    .collect()
            });
            Ok(())
        }
        Action::Verify => match audit::verify(&db).map_err(|e| e.to_string())? {
            Verdict::Intact(n) => {
                emit(ctx, json!({"intact": true, "records": n}), || format!("audit trail intact: {n} records\n"));
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
