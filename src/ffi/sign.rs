//! Signing and MACing, and verification (PKCS#11 3.2 §5.11, §5.13), also with the
//! signature given first (3.2's C_VerifySignature*).

use super::crypt::overlaps;
use super::mechanism::mechanism;
use super::{capacity, ends_operation, entry, out, slice, slice_mut, write_output};
use crate::mechanism::ops::MacDir;
use crate::module::Module;
use cryptoki_sys::*;

fn init(
    h: CK_SESSION_HANDLE,
    dir: MacDir,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    sig: Option<(*const CK_BYTE, CK_ULONG)>,
) -> CK_RV {
    let _call = crate::module::enter_call(match dir {
        MacDir::Sign => "C_SignInit",
        MacDir::Verify => "C_VerifyInit",
        MacDir::VerifySignature => "C_VerifySignatureInit",
    });
    entry(|m| {
        if p_mechanism.is_null() {
            return m.end_operation(h, |s| Module::mac_slot(s, dir));
        }
        // SAFETY: the caller's valid CK_MECHANISM.
        let decoded = unsafe { mechanism(p_mechanism) };
        // SAFETY: the caller's signature, valid for its length.
        let signature = unsafe { data_of(sig) }?.unwrap_or_default();
        // Used in place, as in C_EncryptInit.
        match &decoded {
            Ok(mech) => m.mac_init(h, dir, mech, key, signature),
            Err(_) => {
                // SAFETY: non-NULL (checked above), the caller's CK_MECHANISM.
                let ty = unsafe { (*p_mechanism).mechanism };
                decoded.map(drop).map_err(|e| m.init_refused(h, e, ty, key, dir.flag_and_usage()))
            }
        }
    })
}

fn with_abort(m: &crate::Module, h: CK_SESSION_HANDLE, dir: MacDir, r: crate::Result<()>) -> crate::Result<()> {
    if let Err(e) = &r
        && ends_operation(e)
    {
        m.abort_mac(h, dir);
    }
    r
}

/// The caller's data, when the call has any.
///
/// # Safety
/// The pointer is valid for its length (or NULL with a length of 0).
unsafe fn data_of<'a>(data: Option<(*const CK_BYTE, CK_ULONG)>) -> crate::Result<Option<&'a [u8]>> {
    // SAFETY: the caller's contract.
    data.map(|(p, n)| unsafe { slice(p, n) }).transpose()
}

fn sign(
    h: CK_SESSION_HANDLE,
    data: Option<(*const CK_BYTE, CK_ULONG)>,
    sig: *mut CK_BYTE,
    len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            // SAFETY: the caller's buffer, valid for its length.
            let d = unsafe { data_of(data) }?;
            // SAFETY: NULL or a valid CK_ULONG.
            let len = unsafe { out(len) }?;
            let cap = capacity(sig, *len)?;
            // The signature may go straight into the caller's buffer, unless it overlaps
            // the data.
            let direct = match cap {
                Some(c) if c > 0 && !d.is_some_and(|d| overlaps(d, sig, c)) => {
                    // SAFETY: `sig` holds `c` bytes and no input is read through them.
                    Some(unsafe { slice_mut(sig, c as CK_ULONG) }?)
                }
                _ => None,
            };
            let o = m.sign(h, d, cap, direct)?;
            // SAFETY: `sig` holds `cap` bytes when non-NULL.
            unsafe { write_output(sig, len, o) }
        })();
        with_abort(m, h, MacDir::Sign, r)
    })
}

/// C_Verify/C_VerifyFinal with the signature `sig`, or C_VerifySignature/..Final without
/// (the signature came with the operation's start).
fn verify(
    h: CK_SESSION_HANDLE,
    data: Option<(*const CK_BYTE, CK_ULONG)>,
    sig: Option<(*const CK_BYTE, CK_ULONG)>,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            // SAFETY: the caller's buffer, valid for its length.
            let d = unsafe { data_of(data) }?;
            match sig {
                Some((p, n)) => {
                    // SAFETY: as above.
                    let s = unsafe { slice(p, n) }?;
                    m.verify(h, d, s)
                }
                None => m.verify_signature(h, d),
            }
        })();
        with_abort(m, h, if sig.is_some() { MacDir::Verify } else { MacDir::VerifySignature }, r)
    })
}

fn update(h: CK_SESSION_HANDLE, dir: MacDir, p: *const CK_BYTE, n: CK_ULONG) -> CK_RV {
    entry(|m| {
        // SAFETY: the caller's buffer, valid for `n` bytes.
        let r = unsafe { slice(p, n) }.and_then(|d| m.mac_update(h, dir, d));
        with_abort(m, h, dir, r)
    })
}

/// §5.11 C_SignInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, MacDir::Sign, p_mechanism, key, None)
}

/// §5.11 C_Sign.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Sign(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_sig: *mut CK_BYTE,
    pul_sig: *mut CK_ULONG,
) -> CK_RV {
    sign(h, Some((p_data, data_len)), p_sig, pul_sig)
}

/// §5.11 C_SignUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignUpdate(h: CK_SESSION_HANDLE, p_part: *mut CK_BYTE, part_len: CK_ULONG) -> CK_RV {
    update(h, MacDir::Sign, p_part, part_len)
}

/// §5.11 C_SignFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignFinal(h: CK_SESSION_HANDLE, p_sig: *mut CK_BYTE, pul_sig: *mut CK_ULONG) -> CK_RV {
    sign(h, None, p_sig, pul_sig)
}

/// §5.13 C_VerifyInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, MacDir::Verify, p_mechanism, key, None)
}

/// §5.13 C_Verify.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Verify(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_sig: *mut CK_BYTE,
    sig_len: CK_ULONG,
) -> CK_RV {
    verify(h, Some((p_data, data_len)), Some((p_sig, sig_len)))
}

/// §5.13 C_VerifyUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyUpdate(h: CK_SESSION_HANDLE, p_part: *mut CK_BYTE, part_len: CK_ULONG) -> CK_RV {
    update(h, MacDir::Verify, p_part, part_len)
}

/// §5.13 C_VerifyFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyFinal(h: CK_SESSION_HANDLE, p_sig: *mut CK_BYTE, sig_len: CK_ULONG) -> CK_RV {
    verify(h, None, Some((p_sig, sig_len)))
}

/// §5.15 C_VerifySignatureInit (PKCS#11 3.2): a verification of `p_sig`, whose data follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    p_sig: *mut CK_BYTE,
    sig_len: CK_ULONG,
) -> CK_RV {
    init(h, MacDir::VerifySignature, p_mechanism, key, Some((p_sig, sig_len)))
}

/// §5.15 C_VerifySignature: the data in one part.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignature(h: CK_SESSION_HANDLE, p_data: *mut CK_BYTE, data_len: CK_ULONG) -> CK_RV {
    verify(h, Some((p_data, data_len)), None)
}

/// §5.15 C_VerifySignatureUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureUpdate(
    h: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    update(h, MacDir::VerifySignature, p_part, part_len)
}

/// §5.15 C_VerifySignatureFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifySignatureFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    verify(h, None, None)
}
