//! Message-based signing and verification (PKCS#11 3.2 §5.14, §5.16).

use super::mechanism::mechanism;
use super::{ends_operation, entry, out, slice, slice_mut};
use crate::error::{Error, Result};
use crate::mechanism::message_sign::{MessageDir, Signed};
use cryptoki_sys::*;
use std::ffi::c_void;

fn init(h: CK_SESSION_HANDLE, dir: MessageDir, p_mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
    let _call = crate::module::enter_call(match dir {
        MessageDir::Sign => "C_MessageSignInit",
        MessageDir::Verify => "C_MessageVerifyInit",
    });
    entry(|m| {
        if p_mechanism.is_null() {
            return m.end_operation(h, |s| crate::module::Module::message_mac_slot(s, dir));
        }
        // SAFETY: the caller's valid CK_MECHANISM.
        match unsafe { mechanism(p_mechanism) } {
            Ok(mech) => m.message_mac_init(h, dir, &mech, key),
            Err(e) => Err(m.session_checked(h, e)),
        }
    })
}

/// The per-message parameter: none of the token's mechanisms takes one (a bad one in a call
/// whose session is gone is CKR_SESSION_HANDLE_INVALID).
fn no_parameter(m: &crate::Module, h: CK_SESSION_HANDLE, _p: *mut c_void, len: CK_ULONG) -> Result<()> {
    if len != 0 { Err(m.session_checked(h, Error::MechanismParamInvalid)) } else { Ok(()) }
}

/// Hands out a signature by §5.2's rules.
///
/// # Safety
/// `buf` is NULL or valid for `*len` bytes.
unsafe fn give(buf: *mut CK_BYTE, len: &mut CK_ULONG, s: Signed) -> Result<()> {
    match s {
        Signed::Length(n) => {
            let short = !buf.is_null();
            *len = n as CK_ULONG;
            if short { Err(Error::BufferTooSmall) } else { Ok(()) }
        }
        Signed::Data(d) => {
            // SAFETY: the engine made the signature only for a buffer of *len >= d.len().
            unsafe { slice_mut(buf, d.len() as CK_ULONG) }?.copy_from_slice(&d);
            *len = d.len() as CK_ULONG;
            Ok(())
        }
    }
}

/// Ends the message of a failed C_*MessageNext (§5.14: not for a short buffer).
fn end_message(m: &crate::Module, h: CK_SESSION_HANDLE, dir: MessageDir, r: Result<()>) -> Result<()> {
    if let Err(e) = &r
        && ends_operation(e)
    {
        m.message_mac_abort(h, dir);
    }
    r
}

/// §5.14 C_MessageSignInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageSignInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, MessageDir::Sign, p_mechanism, key)
}

/// §5.14 C_SignMessage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessage(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    pul_signature_len: *mut CK_ULONG,
) -> CK_RV {
    // Each message makes its signature with the process's key (recorded as this call when
    // crypto operations are audited).
    let _call = crate::module::enter_call("C_SignMessage");
    entry(|m| {
        no_parameter(m, h, p_parameter, parameter_len)?;
        // SAFETY: the caller's data and length pointer.
        let (data, len) = unsafe { (slice(p_data, data_len)?, out(pul_signature_len)?) };
        let cap = super::capacity(p_signature, *len)?;
        let signed = m.sign_message(h, data, cap)?;
        // SAFETY: `p_signature` is NULL or holds *len bytes.
        unsafe { give(p_signature, len, signed) }
    })
}

fn begin(h: CK_SESSION_HANDLE, dir: MessageDir, p_parameter: *mut c_void, parameter_len: CK_ULONG) -> CK_RV {
    let _call = crate::module::enter_call(match dir {
        MessageDir::Sign => "C_SignMessageBegin",
        MessageDir::Verify => "C_VerifyMessageBegin",
    });
    entry(|m| {
        no_parameter(m, h, p_parameter, parameter_len)?;
        m.message_mac_begin(h, dir)
    })
}

/// §5.14 C_SignMessageBegin.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessageBegin(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
) -> CK_RV {
    begin(h, MessageDir::Sign, p_parameter, parameter_len)
}

/// §5.14 C_SignMessageNext: more to come when `pulSignatureLen` is NULL, else the last part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignMessageNext(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    pul_signature_len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            no_parameter(m, h, p_parameter, parameter_len)?;
            // SAFETY: the caller's part.
            let part = unsafe { slice(p_part, part_len) }?;
            // SAFETY: NULL or a valid CK_ULONG.
            let Some(len) = (unsafe { pul_signature_len.as_mut() }) else {
                return m.message_mac_update(h, MessageDir::Sign, part);
            };
            let cap = super::capacity(p_signature, *len)?;
            let signed = m.sign_message_next(h, part, cap)?;
            // SAFETY: `p_signature` is NULL or holds *len bytes.
            unsafe { give(p_signature, len, signed) }
        })();
        end_message(m, h, MessageDir::Sign, r)
    })
}

/// §5.14 C_MessageSignFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageSignFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.message_mac_final(h, MessageDir::Sign))
}

/// §5.16 C_MessageVerifyInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageVerifyInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, MessageDir::Verify, p_mechanism, key)
}

/// §5.16 C_VerifyMessage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessage(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    let _call = crate::module::enter_call("C_VerifyMessage");
    entry(|m| {
        no_parameter(m, h, p_parameter, parameter_len)?;
        // SAFETY: the caller's data and signature.
        let (data, sig) = unsafe { (slice(p_data, data_len)?, slice(p_signature, signature_len)?) };
        m.verify_message(h, data, sig)
    })
}

/// §5.16 C_VerifyMessageBegin.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessageBegin(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
) -> CK_RV {
    begin(h, MessageDir::Verify, p_parameter, parameter_len)
}

/// §5.16 C_VerifyMessageNext: more to come when `pSignature` is NULL, else the last part and
/// the signature to check.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyMessageNext(
    h: CK_SESSION_HANDLE,
    p_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            no_parameter(m, h, p_parameter, parameter_len)?;
            // SAFETY: the caller's part.
            let part = unsafe { slice(p_part, part_len) }?;
            if p_signature.is_null() {
                return m.message_mac_update(h, MessageDir::Verify, part);
            }
            // SAFETY: the caller's signature.
            let sig = unsafe { slice(p_signature, signature_len) }?;
            m.verify_message_next(h, part, sig)
        })();
        end_message(m, h, MessageDir::Verify, r)
    })
}

/// §5.16 C_MessageVerifyFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageVerifyFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.message_mac_final(h, MessageDir::Verify))
}
