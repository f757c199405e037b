//! Slot and token management functions (PKCS#11 3.2 §5.5).

use super::{audited, entry, out, padded, produce_array, slice};
use crate::error::Error;
use crate::token::{MAX_PIN_LEN, MIN_PIN_LEN, Pin};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Reads a PIN argument: NULL is CKR_ARGUMENTS_BAD (oxihsm has no protected path).
///
/// # Safety
/// `p` is NULL or valid for `len` bytes.
pub(crate) unsafe fn pin_arg(p: *const CK_UTF8CHAR, len: CK_ULONG) -> Result<Pin, Error> {
    // A length far past any PIN (the token's are at most 255 bytes) is a false one: refused
    // before the buffer is read, as 0xFFFFFFFF bytes behind a short PIN would not be.
    if p.is_null() || len > 16 * MAX_PIN_LEN as CK_ULONG {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: caller's contract.
    Ok(Zeroizing::new(unsafe { slice(p, len) }?.to_vec()))
}

const HW_VERSION: CK_VERSION = CK_VERSION { major: 0, minor: 1 };

/// §5.5 C_GetSlotList: every slot has a token, so tokenPresent changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotList(
    _token_present: CK_BBOOL,
    p_slot_list: *mut CK_SLOT_ID,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        if pul_count.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let slots = m.slot_list()?;
        // SAFETY: caller's buffers, per §5.5.
        unsafe { produce_array(p_slot_list, pul_count, &slots) }
    })
}

/// §5.5 C_GetSlotInfo.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSlotInfo(slot_id: CK_SLOT_ID, p_info: *mut CK_SLOT_INFO) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_SLOT_INFO.
        let info = unsafe { out(p_info) }?;
        let s = m.slot_info(slot_id)?;
        *info = CK_SLOT_INFO {
            slotDescription: padded(&s.description),
            manufacturerID: padded(&s.manufacturer),
            flags: s.flags,
            hardwareVersion: HW_VERSION,
            firmwareVersion: super::general::library_version(),
        };
        Ok(())
    })
}

/// §5.5 C_GetTokenInfo.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetTokenInfo(slot_id: CK_SLOT_ID, p_info: *mut CK_TOKEN_INFO) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_TOKEN_INFO.
        let info = unsafe { out(p_info) }?;
        let t = m.token_info(slot_id)?;
        *info = CK_TOKEN_INFO {
            label: t.label,
            manufacturerID: padded(&t.manufacturer),
            model: padded(&t.model),
            serialNumber: padded(&t.serial),
            flags: t.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: t.session_count,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: t.rw_session_count,
            ulMaxPinLen: MAX_PIN_LEN as CK_ULONG,
            ulMinPinLen: MIN_PIN_LEN as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: HW_VERSION,
            firmwareVersion: super::general::library_version(),
            utcTime: [b' '; 16],
        };
        Ok(())
    })
}

/// §5.5 C_GetMechanismList, from the registry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismList(
    slot_id: CK_SLOT_ID,
    p_list: *mut CK_MECHANISM_TYPE,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        if pul_count.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let list = m.mechanism_list(slot_id)?;
        // SAFETY: caller's buffers, per §5.5.
        unsafe { produce_array(p_list, pul_count, &list) }
    })
}

/// §5.5 C_GetMechanismInfo, from the registry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot_id: CK_SLOT_ID,
    ty: CK_MECHANISM_TYPE,
    p_info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_MECHANISM_INFO.
        let info = unsafe { out(p_info) }?;
        *info = m.mechanism_info(slot_id, ty)?;
        Ok(())
    })
}

/// §5.5 C_InitToken.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitToken(
    slot_id: CK_SLOT_ID,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_label: *mut CK_UTF8CHAR,
) -> CK_RV {
    let _call = crate::module::enter_call("C_InitToken");
    entry(|m| {
        // SAFETY: caller's PIN buffer.
        let pin = unsafe { pin_arg(p_pin, pin_len) }?;
        // SAFETY: a non-NULL label is 32 bytes (§5.5).
        let label: [u8; 32] = unsafe { slice(p_label, 32) }?.try_into().map_err(|_| Error::ArgumentsBad)?;
        m.init_token(slot_id, &pin, label)
    })
}

/// §5.5 C_InitPIN.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_InitPIN(h_session: CK_SESSION_HANDLE, p_pin: *mut CK_UTF8CHAR, pin_len: CK_ULONG) -> CK_RV {
    audited("C_InitPIN", h_session, |m| {
        // SAFETY: caller's PIN buffer.
        let pin = unsafe { pin_arg(p_pin, pin_len) }?;
        m.init_pin(h_session, &pin)
    })
}

/// §5.5 C_SetPIN.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetPIN(
    h_session: CK_SESSION_HANDLE,
    p_old: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    p_new: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> CK_RV {
    audited("C_SetPIN", h_session, |m| {
        // SAFETY: caller's PIN buffers.
        let (old, new) = unsafe { (pin_arg(p_old, old_len)?, pin_arg(p_new, new_len)?) };
        m.set_pin(h_session, &old, &new)
    })
}
