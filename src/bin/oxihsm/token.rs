//! Reaching tokens through the module: loading it, choosing a token, logging in, and turning
//! PKCS#11 errors into messages that name the CKR code and say what to do.

use crate::pin::{self, Pin};
use crate::{PinArgs, Result, TokenSel};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use std::path::PathBuf;

/// Global options.
pub struct Ctx {
    pub module: Option<PathBuf>,
    pub json: bool,
}

/// What to do about a PKCS#11 error.
fn advice(rv: RvError) -> &'static str {
    match rv {
        RvError::PinIncorrect => "the PIN is wrong; each failure counts towards locking it",
        RvError::PinLocked => "the PIN is locked after too many failures: the SO can reset it with `oxihsm init-pin`",
        RvError::PinLenRange => "PINs are 4 to 255 bytes",
        RvError::UserPinNotInitialized => "the token has no user PIN yet: set one with `oxihsm init-pin`",
        RvError::TokenWriteProtected => "the store is read-only (directory or file system)",
        RvError::DeviceMemory => "the store's file system is full",
        RvError::DeviceError => "the store failed; the module logged the reason on standard error",
        RvError::KeyUnextractable | RvError::AttributeSensitive => "the key is sensitive or not extractable",
        RvError::SessionExists => "close the applications that have sessions on this token first",
        RvError::TemplateInconsistent | RvError::AttributeValueInvalid => {
            "the requested attributes contradict each other or the key"
        }
        RvError::MechanismInvalid => "the module or key does not support this mechanism",
        RvError::KeyFunctionNotPermitted => "the key's attributes do not allow this use",
        RvError::UserNotLoggedIn => "log in (give a PIN) to use private objects",
        _ => "see the PKCS#11 specification for this code",
    }
}

pub use crate::p11::ckr_name;

/// `what: CKR_X: advice`.
pub fn ck<T>(what: &str, r: cryptoki::error::Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        CkError::Pkcs11(rv, _) => format!("{what}: {}: {}", ckr_name(rv), advice(rv)),
        other => format!("{what}: {other}"),
    })
}

/// The module to load: --module, else liboxihsm.so beside this program.
pub fn module_path(ctx: &Ctx) -> Result<PathBuf> {
    if let Some(m) = &ctx.module {
        return Ok(m.clone());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let lib = exe.with_file_name("liboxihsm.so");
    if !lib.exists() {
        return Err(format!("{} not found: build with `cargo build --release`, or pass --module", lib.display()));
    }
    Ok(lib)
}

/// The initialised module.
pub fn open(ctx: &Ctx) -> Result<Pkcs11> {
    let path = module_path(ctx)?;
    let p = ck(&format!("load {}", path.display()), Pkcs11::new(&path))?;
    ck("C_Initialize", p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)))?;
    Ok(p)
}

/// The token `sel` names (exactly one), with its info.
pub fn find(p: &Pkcs11, sel: &TokenSel) -> Result<(Slot, TokenInfo)> {
    let mut found = Vec::new();
    for s in ck("C_GetSlotList", p.get_slots_with_initialized_token())? {
        let info = ck("C_GetTokenInfo", p.get_token_info(s))?;
        let ok = sel.slot.is_none_or(|n| n == s.id())
            && sel.token.as_deref().is_none_or(|l| l == info.label())
            && sel.serial.as_deref().is_none_or(|n| n == info.serial_number());
        if ok {
            found.push((s, info));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("no initialised token matches: see `oxihsm slots`".into()),
        n => Err(format!("{n} tokens match: name one with --token, --slot or --serial")),
    }
}

/// A read-write session on the token `sel` names, logged in as the user.
pub fn user_session(p: &Pkcs11, sel: &TokenSel, pin: &PinArgs) -> Result<(Session, TokenInfo)> {
    let (slot, info) = find(p, sel)?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    let pin: Pin = pin::read(pin.pin_source.as_deref(), &format!("User PIN for {}: ", info.label()))?;
    ck("C_Login", s.login(UserType::User, Some(&pin.auth())))?;
    Ok((s, info))
}

/// As [`user_session`], with a PIN already read.
pub fn login_with(p: &Pkcs11, sel: &TokenSel, pin: &Pin) -> Result<(Session, TokenInfo)> {
    let (slot, info) = find(p, sel)?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    ck("C_Login", s.login(UserType::User, Some(&pin.auth())))?;
    Ok((s, info))
}

/// A read-write session without login.
pub fn public_session(p: &Pkcs11, sel: &TokenSel) -> Result<(Session, TokenInfo)> {
    let (slot, info) = find(p, sel)?;
    Ok((ck("C_OpenSession", p.open_rw_session(slot))?, info))
}

/// Prints `value` as JSON, or `text` otherwise.
pub fn emit(ctx: &Ctx, value: serde_json::Value, text: impl FnOnce() -> String) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
    } else {
        print!("{}", text());
    }
}
