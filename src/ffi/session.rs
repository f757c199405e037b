//! Session management (PKCS#11 3.2 §5.6), login, C_SessionCancel and random number
//! generation (§5.19).

use super::slot::pin_arg;
use super::{audited, entry, out, slice, slice_mut};
use cryptoki_sys::*;
use std::ffi::c_void;

/// §5.6 C_OpenSession. The notification callback is accepted and never called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_OpenSession(
    slot_id: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut c_void,
    _notify: CK_NOTIFY,
    ph_session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid handle pointer.
        let h = unsafe { out(ph_session) }?;
        *h = m.open_session(slot_id, flags)?;
        Ok(())
    })
}

/// §5.6 C_CloseSession.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseSession(h_session: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.close_session(h_session))
}

/// §5.6 C_CloseAllSessions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CloseAllSessions(slot_id: CK_SLOT_ID) -> CK_RV {
    entry(|m| m.close_all_sessions(slot_id))
}

/// §5.6 C_GetSessionInfo.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionInfo(h_session: CK_SESSION_HANDLE, p_info: *mut CK_SESSION_INFO) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_SESSION_INFO.
        let info = unsafe { out(p_info) }?;
        let s = m.session_info(h_session)?;
        *info = CK_SESSION_INFO { slotID: s.slot, state: s.state, flags: s.flags, ulDeviceError: 0 };
        Ok(())
    })
}

/// §5.6 C_GetSessionValidationFlags (PKCS#11 3.2): oxihsm claims no validation (it has no
/// validation objects), so the last operation met none: the flags are 0. A type other than
/// CKS_LAST_VALIDATION_OK has no flags either: the function's return values name no error
/// for it (not CKR_ARGUMENTS_BAD), and clients pass 0 (pkcs11-check).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetSessionValidationFlags(
    h_session: CK_SESSION_HANDLE,
    _ty: CK_SESSION_VALIDATION_FLAGS_TYPE,
    p_flags: *mut CK_FLAGS,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_FLAGS.
        let flags = unsafe { out(p_flags) }?;
        m.session_info(h_session)?;
        *flags = 0;
        Ok(())
    })
}

/// §5.6 C_Login.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Login(
    h_session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    audited("C_Login", h_session, |m| {
        // SAFETY: caller's PIN buffer.
        let pin = unsafe { pin_arg(p_pin, pin_len) }?;
        m.login(h_session, user, &pin)
    })
}

/// §5.6 C_LoginUser: oxihsm tokens have no named users, so the name is checked for
/// well-formedness and otherwise it is C_Login.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_LoginUser(
    h_session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_username: *mut CK_UTF8CHAR,
    username_len: CK_ULONG,
) -> CK_RV {
    audited("C_LoginUser", h_session, |m| {
        // SAFETY: caller's buffers.
        let (pin, _name) = unsafe { (pin_arg(p_pin, pin_len)?, slice(p_username, username_len)?) };
        m.login(h_session, user, &pin)
    })
}

/// §5.6 C_Logout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Logout(h_session: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.logout(h_session))
}

/// §5.6 C_SessionCancel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SessionCancel(h_session: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    entry(|m| m.session_cancel(h_session, flags))
}

/// §5.19 C_SeedRandom: any seed length is accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SeedRandom(h_session: CK_SESSION_HANDLE, p_seed: *mut CK_BYTE, seed_len: CK_ULONG) -> CK_RV {
    entry(|m| {
        // SAFETY: caller's buffer.
        let seed = unsafe { slice(p_seed, seed_len) }?;
        m.seed_random(h_session, seed)
    })
}

/// §5.19 C_GenerateRandom.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateRandom(h_session: CK_SESSION_HANDLE, p_out: *mut CK_BYTE, len: CK_ULONG) -> CK_RV {
    entry(|m| {
        // SAFETY: caller's buffer of `len` bytes.
        let buf = unsafe { slice_mut(p_out, len) }?;
        m.generate_random(h_session, buf)
    })
}

/// §5.6 C_GetOperationState: SHA-1/SHA-2 digests and HMACs (see mechanism::state).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetOperationState(
    h_session: CK_SESSION_HANDLE,
    p_state: *mut CK_BYTE,
    pul_len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_ULONG.
        let len = unsafe { out(pul_len) }?;
        let state = m.get_operation_state(h_session)?;
        if p_state.is_null() {
            *len = state.len() as CK_ULONG;
            return Ok(());
        }
        if (*len as usize) < state.len() {
            *len = state.len() as CK_ULONG;
            return Err(crate::Error::BufferTooSmall);
        }
        // SAFETY: the caller's buffer holds *len >= state.len() bytes.
        unsafe { slice_mut(p_state, state.len() as CK_ULONG) }?.copy_from_slice(&state);
        *len = state.len() as CK_ULONG;
        Ok(())
    })
}

/// §5.6 C_SetOperationState.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetOperationState(
    h_session: CK_SESSION_HANDLE,
    p_state: *mut CK_BYTE,
    len: CK_ULONG,
    h_encryption_key: CK_OBJECT_HANDLE,
    h_authentication_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    entry(|m| {
        // SAFETY: the caller's buffer of `len` bytes.
        let state = unsafe { slice(p_state, len) }?;
        if state.is_empty() {
            return Err(crate::Error::ArgumentsBad);
        }
        m.set_operation_state(h_session, state, h_encryption_key, h_authentication_key)
    })
}
