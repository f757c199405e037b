//! `oxihsm backup` / `oxihsm restore` (the file format is in `oxihsm::store::backup`).

use crate::output::Output;
use crate::token::{Ctx, emit, login_with, open};
use crate::{PinArgs, Result, TokenSel, pin};
use oxihsm::store::{audit, backup};
use serde_json::json;
use std::path::Path;

fn store_path() -> Result<std::path::PathBuf> {
    let c = oxihsm::config::Config::from_env().map_err(|e| e.to_string())?;
    Ok(c.token_dir.join("oxihsm.db"))
}

/// `oxihsm backup`.
pub fn backup(ctx: &Ctx, sel: &TokenSel, out: &Path, pin_args: &PinArgs) -> Result<()> {
    let pin = pin::read(pin_args.pin_source.as_deref(), "User PIN: ")?;
    // The PIN is checked (and counted, and audited) by the module, as for any login.
    let p = open(ctx)?;
    let (s, info) = login_with(&p, sel, &pin)?;
    let slot = s.get_session_info().map_err(|e| e.to_string())?.slot_id().id();
    let mut db = rusqlite::Connection::open(store_path()?).map_err(|e| e.to_string())?;
    db.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let file = backup::export(&db, slot, pin.bytes()).map_err(|e| format!("backup: {e}"))?;
    // Into place only when complete: a backup that fails or is killed half way leaves an
    // earlier backup at `out` whole.
    let mut f = Output::create(out, 0o600)?;
    f.write(&file)?;
    f.finish()?;
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
    let ev = audit::Event {
        slot_id: Some(slot),
        serial: Some(info.serial_number().to_string()),
        user: Some("user"),
        function: "oxihsm backup",
        result: cryptoki_sys::CKR_OK,
        ..Default::default()
    };
    audit::append(&tx, &ev).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    emit(ctx, json!({"slot": slot, "serial": info.serial_number(), "file": out}), || {
        format!("Token {} (serial {}) backed up to {}.\n", info.label(), info.serial_number(), out.display())
    });
    Ok(())
}

/// `oxihsm restore`.
pub fn restore(ctx: &Ctx, file: &Path, slot: Option<u64>, pin_args: &PinArgs) -> Result<()> {
    let data = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let pin = pin::read(pin_args.pin_source.as_deref(), "User PIN of the backed-up token: ")?;
    let opened = backup::open(&data, pin.bytes()).map_err(|e| match e {
        oxihsm::Error::PinIncorrect => format!("{}: wrong PIN, or the file was changed", file.display()),
        other => format!("{}: not an oxihsm backup ({other})", file.display()),
    })?;
    let path = store_path()?;
    let mut db = rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    db.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let slot = match slot {
        Some(s) => s,
        None => {
            let existing: Option<i64> =
                db.query_row("SELECT slot_id FROM tokens WHERE serial = ?1", [opened.serial()], |r| r.get(0)).ok();
            match existing {
                Some(s) => s as u64,
                None => db
                    .query_row("SELECT COALESCE(MAX(slot_id) + 1, 0) FROM tokens", [], |r| r.get::<_, i64>(0))
                    .map_err(|e| e.to_string())? as u64,
            }
        }
    };
    backup::restore(&mut db, &opened, slot).map_err(|e| format!("restore: {e}"))?;
    drop(db);
    // Processes with the store open drop what they cached of the token restored over.
    oxihsm::store::changes::note_change(&path);
    // The restored token opens with the PIN, through the module.
    let p = open(ctx)?;
    let (_s, info) = login_with(&p, &TokenSel { slot: Some(slot), ..Default::default() }, &pin)?;
    emit(ctx, json!({"slot": slot, "serial": info.serial_number(), "objects": opened.objects()}), || {
        format!(
            "Token {} (serial {}) restored into slot {slot} with {} objects.\n",
            info.label(),
            info.serial_number(),
            opened.objects()
        )
    });
    Ok(())
}
