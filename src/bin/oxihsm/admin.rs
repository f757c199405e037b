//! Slots, token initialisation, PINs and the configuration.

use crate::token::{Ctx, ck, emit, find, open};
use crate::{PinArgs, Result, TokenSel, pin};
use cryptoki::session::UserType;
use serde_json::json;

/// `oxihsm slots`.
pub fn slots(ctx: &Ctx) -> Result<()> {
    let p = open(ctx)?;
    let mut list = Vec::new();
    let mut text = String::new();
    for s in ck("C_GetSlotList", p.get_all_slots())? {
        let t = ck("C_GetTokenInfo", p.get_token_info(s))?;
        let init = t.token_initialized();
        list.push(json!({
            "slot": s.id(),
            "initialized": init,
            "label": if init { Some(t.label()) } else { None },
            "serial": if init { Some(t.serial_number()) } else { None },
            "user_pin_initialized": t.user_pin_initialized(),
            "user_pin_locked": t.user_pin_locked(),
            "so_pin_locked": t.so_pin_locked(),
            "write_protected": t.write_protected(),
        }));
        if init {
            text.push_str(&format!(
                "Slot {}\n    Token label:   {}\n    Serial number: {}\n    User PIN:      {}\n",
                s.id(),
                t.label(),
                t.serial_number(),
                if !t.user_pin_initialized() {
                    "not set"
                } else if t.user_pin_locked() {
                    "locked"
                } else {
                    "set"
                }
            ));
        } else {
            text.push_str(&format!("Slot {}\n    Token:         not initialised (free)\n", s.id()));
        }
    }
    emit(ctx, json!(list), || text);
    Ok(())
}

/// `oxihsm init-token`.
pub fn init_token(
    ctx: &Ctx,
    sel: &TokenSel,
    free: bool,
    label: &str,
    so_source: Option<&str>,
    pin: &PinArgs,
) -> Result<()> {
    if label.is_empty() || label.len() > 32 {
        return Err("the label must be 1 to 32 bytes".into());
    }
    let p = open(ctx)?;
    let slot = if free || (sel.slot.is_none() && sel.token.is_none() && sel.serial.is_none()) {
        *ck("C_GetSlotList", p.get_all_slots())?.last().ok_or("no slots")?
    } else if let (Some(n), None, None) = (sel.slot, &sel.token, &sel.serial) {
        ck("C_GetSlotList", p.get_all_slots())?
            .into_iter()
            .find(|s| s.id() == n)
            .ok_or_else(|| format!("slot {n} does not exist: see `oxihsm slots`"))?
    } else {
        find(&p, sel)?.0
    };
    let so = pin::read(so_source, "SO PIN: ")?;
    let user = pin::read(pin.pin_source.as_deref(), "User PIN: ")?;
    ck("C_InitToken", p.init_token(slot, &so.auth(), label))?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    ck("C_Login (SO)", s.login(UserType::So, Some(&so.auth())))?;
    ck("C_InitPIN", s.init_pin(&user.auth()))?;
    ck("C_Logout", s.logout())?;
    let t = ck("C_GetTokenInfo", p.get_token_info(slot))?;
    emit(ctx, json!({"slot": slot.id(), "label": t.label(), "serial": t.serial_number()}), || {
        format!("The token has been initialized in slot {} (serial {}).\n", slot.id(), t.serial_number())
    });
    Ok(())
}

/// `oxihsm init-pin`.
pub fn init_pin(ctx: &Ctx, sel: &TokenSel, so_source: Option<&str>, pin: &PinArgs) -> Result<()> {
    let p = open(ctx)?;
    let (slot, info) = find(&p, sel)?;
    let so = pin::read(so_source, &format!("SO PIN for {}: ", info.label()))?;
    let user = pin::read(pin.pin_source.as_deref(), "New user PIN: ")?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    ck("C_Login (SO)", s.login(UserType::So, Some(&so.auth())))?;
    ck("C_InitPIN", s.init_pin(&user.auth()))?;
    emit(ctx, json!({"slot": slot.id(), "user_pin": "set"}), || format!("User PIN set on {}.\n", info.label()));
    Ok(())
}

/// `oxihsm set-pin`.
pub fn set_pin(ctx: &Ctx, sel: &TokenSel, so: bool, pin: &PinArgs, new_source: Option<&str>) -> Result<()> {
    let p = open(ctx)?;
    let (slot, info) = find(&p, sel)?;
    let who = if so { "SO" } else { "user" };
    let old = pin::read(pin.pin_source.as_deref(), &format!("Current {who} PIN for {}: ", info.label()))?;
    let new = pin::read(new_source, &format!("New {who} PIN: "))?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    if so {
        ck("C_Login (SO)", s.login(UserType::So, Some(&old.auth())))?;
    }
    ck("C_SetPIN", s.set_pin(&old.auth(), &new.auth()))?;
    emit(ctx, json!({"slot": slot.id(), "changed": who}), || {
        format!("The {who} PIN of {} was changed.\n", info.label())
    });
    Ok(())
}

/// `oxihsm config show`.
pub fn config_show(ctx: &Ctx) -> Result<()> {
    let c = oxihsm::config::Config::from_env().map_err(|e| e.to_string())?;
    let v = json!({
        "source": c.source,
        "token_dir": c.token_dir,
        "store": c.token_dir.join("oxihsm.db"),
        "max_pin_failures": c.max_pin_failures,
        "allow_extractable": c.allow_extractable,
        "busy_timeout_ms": c.busy_timeout_ms,
        "audit_crypto_operations": c.audit_crypto_operations,
        "audit_session_objects": c.audit_session_objects,
        "pin_kdf": {"memory_kib": c.pin_kdf.memory_kib, "iterations": c.pin_kdf.iterations, "parallelism": c.pin_kdf.parallelism},
        "warnings": c.warnings,
    });
    emit(ctx, v, || {
        let mut s = format!(
            "source:             {}\ntoken_dir:          {}\nmax_pin_failures:   {}\nallow_extractable:  {}\nbusy_timeout_ms:    {}\naudit crypto ops:   {}\naudit session objs: {}\npin_kdf:            Argon2id {} KiB, {} passes, {} lanes\n",
            c.source,
            c.token_dir.display(),
            c.max_pin_failures,
            c.allow_extractable,
            c.busy_timeout_ms,
            c.audit_crypto_operations,
            c.audit_session_objects,
            c.pin_kdf.memory_kib,
            c.pin_kdf.iterations,
            c.pin_kdf.parallelism
        );
        for w in &c.warnings {
            s.push_str(&format!("warning:            {w}\n"));
        }
        s
    });
    Ok(())
}

/// `oxihsm migrate --from-softhsm TOKENDIR`.
pub fn migrate(
    ctx: &Ctx,
    from: &std::path::Path,
    only: Option<&str>,
    so_source: Option<&str>,
    pin: &PinArgs,
) -> Result<()> {
    let config = oxihsm::config::Config::from_env().map_err(|e| e.to_string())?;
    let dirs: Vec<std::path::PathBuf> = if from.join("token.object").exists() {
        vec![from.to_path_buf()]
    } else {
        let mut v: Vec<_> = std::fs::read_dir(from)
            .map_err(|e| format!("{}: {e}", from.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("token.object").exists())
            .collect();
        v.sort();
        v
    };
    if dirs.is_empty() {
        return Err(format!("{}: no SoftHSMv2 tokens (no token.object)", from.display()));
    }
    let so = pin::read(so_source, "SO PIN of the SoftHSMv2 token: ")?;
    let user = pin::read(pin.pin_source.as_deref(), "User PIN of the SoftHSMv2 token: ")?;
    let mut done = Vec::new();
    for d in dirs {
        if let Some(label) = only {
            let token = std::fs::read(d.join("token.object")).unwrap_or_default();
            if !token.windows(label.len()).any(|w| w == label.as_bytes()) {
                continue;
            }
        }
        let m = oxihsm::migrate::from_softhsm(&d, &config, so.bytes(), user.bytes())
            .map_err(|e| format!("{}: {e}", d.display()))?;
        done.push(m);
    }
    if done.is_empty() {
        return Err("no SoftHSMv2 token matches --token".into());
    }
    let v: Vec<_> = done
        .iter()
        .map(|m| json!({"label": m.label, "serial": m.serial, "slot": m.slot_id, "objects": m.objects}))
        .collect();
    emit(ctx, json!(v), || {
        done.iter()
            .map(|m| {
                format!(
                    "Migrated token {} (serial {}) into slot {} with {} objects.\n",
                    m.label, m.serial, m.slot_id, m.objects
                )
            })
            .collect()
    });
    Ok(())
}
