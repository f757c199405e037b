//! Slot and token management (PKCS#11 3.2 §5.5): slot and token information, C_InitToken,
//! C_InitPIN, C_SetPIN, and the PIN checks with the persistent retry counter (DESIGN §3).

pub mod objects;
pub mod session;
pub mod session_objects;

use crate::crypto::{self, SecretKey256};
use crate::error::{Error, Result};
use crate::mechanism;
use crate::module::{Module, SlotView, UserKind};
use crate::store::{NewToken, PinWrap, Sealer, TokenId, TokenRecord, Who, seal::mk_wrap_aad};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Shortest and longest PIN accepted by C_InitToken, C_InitPIN and C_SetPIN.
pub const MIN_PIN_LEN: usize = 4;
pub const MAX_PIN_LEN: usize = 255;

pub const MANUFACTURER: &str = "oxihsm project";
pub const MODEL: &str = "oxihsm";

/// A PIN, zeroized on drop.
pub type Pin = Zeroizing<Vec<u8>>;

/// What C_GetSlotInfo reports.
pub struct SlotInfo {
    pub description: String,
    pub manufacturer: String,
    pub flags: CK_FLAGS,
}

/// What C_GetTokenInfo reports.
pub struct TokenInfo {
    pub label: [u8; 32],
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: CK_FLAGS,
    pub session_count: CK_ULONG,
    pub rw_session_count: CK_ULONG,
}

fn pin_len_ok(pin: &[u8]) -> Result<()> {
    if (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) { Ok(()) } else { Err(Error::PinLenRange) }
}

pub(crate) fn wrap_mk(
    mk: &SecretKey256,
    pin: &[u8],
    t_uuid: &[u8; 16],
    kdf: crate::config::KdfParams,
    so: bool,
) -> Result<PinWrap> {
    let salt = crypto::random_vec(16)?;
    let kek = crypto::pin_kek(pin, &salt, kdf)?;
    let wrapped = crypto::seal(&kek, &mk_wrap_aad(t_uuid, so), mk.as_bytes())?;
    Ok(PinWrap { salt, wrapped })
}

fn pin_flags(failures: u32, max: u32, low: CK_FLAGS, final_try: CK_FLAGS, locked: CK_FLAGS) -> CK_FLAGS {
    if failures >= max {
        locked
    } else if failures + 1 == max {
        low | final_try
    } else if failures > 0 {
        low
    } else {
        0
    }
}

impl Module {
    /// C_GetSlotList: every slot holds a token, so `token_present` changes nothing.
    pub fn slot_list(&self) -> Result<Vec<CK_SLOT_ID>> {
        Ok(self.slot_ids()?.into_iter().map(|s| s as CK_SLOT_ID).collect())
    }

    /// C_GetSlotInfo.
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<SlotInfo> {
        self.check_slot(slot as u64)?;
        Ok(SlotInfo {
            description: format!("oxihsm slot {slot}"),
            manufacturer: MANUFACTURER.into(),
            flags: CKF_TOKEN_PRESENT | if self.config.slots_removable { CKF_REMOVABLE_DEVICE } else { 0 },
        })
    }

    /// C_GetTokenInfo.
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        let base = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_DUAL_CRYPTO_OPERATIONS;
        Ok(match self.slot(slot as u64)? {
            SlotView::Uninitialised(_) => TokenInfo {
                label: [b' '; 32],
                manufacturer: MANUFACTURER.into(),
                model: MODEL.into(),
                serial: String::new(),
                flags: base,
                session_count: 0,
                rw_session_count: 0,
            },
            SlotView::Token(t) => {
                let mut flags = base | CKF_TOKEN_INITIALIZED;
                if self.read_only() {
                    flags |= CKF_WRITE_PROTECTED;
                }
                if t.user.is_some() {
                    flags |= CKF_USER_PIN_INITIALIZED;
                }
                flags |= pin_flags(
                    t.user_failures,
                    t.max_failures,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                );
                flags |= pin_flags(
                    t.so_failures,
                    t.max_failures,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                );
                let (n, rw) =
                    self.sessions.on_token(t.id).iter().fold((0, 0), |(n, rw), (_, s)| (n + 1, rw + s.rw as CK_ULONG));
                TokenInfo {
                    label: t.label,
                    manufacturer: MANUFACTURER.into(),
                    model: MODEL.into(),
                    serial: t.serial.clone(),
                    flags,
                    session_count: n,
                    rw_session_count: rw,
                }
            }
        })
    }

    /// C_GetMechanismList.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<std::borrow::Cow<'static, [CK_MECHANISM_TYPE]>> {
        self.check_slot(slot as u64)?;
        Ok(mechanism::offered())
    }

    /// C_GetMechanismInfo.
    pub fn mechanism_info(&self, slot: CK_SLOT_ID, ty: CK_MECHANISM_TYPE) -> Result<CK_MECHANISM_INFO> {
        self.check_slot(slot as u64)?;
        mechanism::lookup(ty).map(|m| m.info).ok_or(Error::MechanismInvalid)
    }

    /// Checks `pin` for `who` against the stored wrapping, counting the attempt first so that
    /// a crash mid-check still counts it. Returns the master key.
    ///
    /// A wrong PIN is always recorded in the audit trail; a right one only when `login` (a
    /// PIN change or re-initialisation records itself).
    pub(crate) fn verify_pin(&self, t: &TokenRecord, who: Who, pin: &[u8], login: bool) -> Result<SecretKey256> {
        let (failures, wrap) = match who {
            Who::So => (t.so_failures, Some(&t.so)),
            Who::User => (t.user_failures, t.user.as_ref()),
        };
        let wrap = wrap.ok_or(Error::UserPinNotInitialized)?;
        if failures >= t.max_failures {
            return Err(Error::PinLocked);
        }
        let user = Some(if who == Who::So { UserKind::So } else { UserKind::User });
        let n = self.store().count_failure(t.id, who)?;
        if n > t.max_failures {
            self.audit(&self.audit_event(t.id, user, None, CKR_PIN_LOCKED))?;
            return Err(Error::PinLocked);
        }
        let kek = crypto::pin_kek(pin, &wrap.salt, t.kdf)?;
        match crypto::open(&kek, &mk_wrap_aad(&t.uuid, who == Who::So), &wrap.wrapped) {
            Ok(mk) => {
                let ev = login.then(|| self.audit_event(t.id, user, None, CKR_OK));
                self.store().clear_failures(t.id, who, ev.as_ref())?;
                SecretKey256::from_slice(&mk)
            }
            Err(_) => {
                self.audit(&self.audit_event(t.id, user, None, CKR_PIN_INCORRECT))?;
                Err(Error::PinIncorrect)
            }
        }
    }

    pub(crate) fn token_record(&self, id: TokenId) -> Result<TokenRecord> {
        self.store().token(id)?.ok_or(Error::TokenNotRecognized)
    }

    /// C_InitToken: creates a token in the spare slot, or wipes an initialised one after
    /// checking its SO PIN.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: [u8; 32]) -> Result<()> {
        pin_len_ok(so_pin)?;
        let view = self.slot(slot as u64)?;
        let old = match view {
            SlotView::Token(t) => Some(t),
            SlotView::Uninitialised(_) => None,
        };
        if let Some(t) = &old {
            if self.sessions.count_on(t.id) > 0 {
                return Err(Error::SessionExists);
            }
            drop(self.verify_pin(t, Who::So, so_pin, false)?);
        }
        let mk = SecretKey256::random()?;
        let mut uuid = [0u8; 16];
        crypto::random_fill(&mut uuid)?;
        let serial = match &old {
            Some(t) => t.serial.clone(),
            None => crate::hex::encode(&crypto::random_vec(8)?),
        };
        let kdf = self.config.pin_kdf;
        let so = wrap_mk(&mk, so_pin, &uuid, kdf, true)?;
        let new =
            NewToken { slot_id: slot as u64, uuid, label, serial, kdf, so, max_failures: self.config.max_pin_failures };
        let ev = crate::store::Event {
            slot_id: Some(slot as u64),
            serial: Some(new.serial.clone()),
            user: Some("so"),
            function: "C_InitToken",
            result: CKR_OK,
            ..Default::default()
        };
        self.store().put_token(&new, &ev)?;
        {
            let mut st = self.state();
            st.slot_tokens.clear();
            st.slots_listed = None;
            st.token_object_changed(None);
        }
        if let Some(t) = old {
            let mut st = self.state();
            st.end_login(t.id);
            self.sessions.set_user(t.id, false);
        }
        Ok(())
    }

    /// C_InitPIN: the SO sets the user PIN (and so unlocks the user).
    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let (token, sealer) = {
            let st = self.state_read();
            let s = self.sessions.get(h)?;
            let login = st.login(s.token).filter(|l| l.user == UserKind::So).ok_or(Error::UserNotLoggedIn)?;
            if !s.rw {
                return Err(Error::SessionReadOnly);
            }
            (s.token, login.sealer.clone())
        };
        pin_len_ok(pin)?;
        let t = self.token_record(token)?;
        let w = wrap_mk(sealer.master_key(), pin, &t.uuid, t.kdf, false)?;
        let ev = self.audit_event(token, Some(UserKind::So), None, CKR_OK);
        self.store().set_pin(token, Who::User, &w, &ev)
    }

    /// C_SetPIN: changes the PIN of the logged-in user, or the user PIN when not logged in.
    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let (token, who) = {
            let st = self.state_read();
            let s = self.sessions.get(h)?;
            if !s.rw {
                return Err(Error::SessionReadOnly);
            }
            let who = match st.login(s.token).map(|l| l.user) {
                Some(UserKind::So) => Who::So,
                _ => Who::User,
            };
            (s.token, who)
        };
        pin_len_ok(new)?;
        let t = self.token_record(token)?;
        let mk = self.verify_pin(&t, who, old, false)?;
        let w = wrap_mk(&mk, new, &t.uuid, t.kdf, who == Who::So)?;
        let user = if who == Who::So { UserKind::So } else { UserKind::User };
        let ev = self.audit_event(token, Some(user), None, CKR_OK);
        self.store().set_pin(token, who, &w, &ev)
    }

    /// Builds the in-memory sealer for a token once a PIN has opened its master key.
    pub(crate) fn sealer(t: &TokenRecord, mk: SecretKey256) -> Result<Sealer> {
        Sealer::new(mk, t.uuid)
    }
}
