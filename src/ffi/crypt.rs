//! Encryption and decryption (PKCS#11 3.2 §5.8, §5.9), and RSA signatures with data
//! recovery (§5.13, §5.15).

use super::mechanism::mechanism;
use super::{capacity, ends_operation, entry, out, slice, slice_mut, write_output};
use crate::mechanism::ops::{Dir, Step};
use crate::module::Module;
use cryptoki_sys::*;

fn init(h: CK_SESSION_HANDLE, dir: Dir, p_mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
    let _call = crate::module::enter_call(match dir {
        Dir::Encrypt => "C_EncryptInit",
        Dir::Decrypt => "C_DecryptInit",
        Dir::SignRecover => "C_SignRecoverInit",
        Dir::VerifyRecover => "C_VerifyRecoverInit",
    });
    entry(|m| {
        if p_mechanism.is_null() {
            return m.end_operation(h, |s| Module::cipher_slot(s, dir));
        }
        // SAFETY: the caller's valid CK_MECHANISM.
        let mut decoded = unsafe { mechanism(p_mechanism) };
        // Used in place: moving it out of the Result (`?`) reloads what the decoder just
        // stored, a store-forwarding stall.
        match &mut decoded {
            Ok(mech) => m.crypt_init(h, dir, mech, key),
            Err(_) => {
                // SAFETY: non-NULL (checked above), the caller's CK_MECHANISM.
                let ty = unsafe { (*p_mechanism).mechanism };
                decoded.map(drop).map_err(|e| m.init_refused(h, e, ty, key, dir.flag_and_usage()))
            }
        }
    })
}

/// Whether `out` (`cap` bytes) and `input` share any byte.
pub(super) fn overlaps(input: &[u8], out: *mut CK_BYTE, cap: usize) -> bool {
    let (a0, a1) = (input.as_ptr() as usize, input.as_ptr() as usize + input.len());
    let (b0, b1) = (out as usize, (out as usize).saturating_add(cap));
    a0 < b1 && b0 < a1
}

/// One producing call; `input` is (pointer, length) for C_Encrypt/C_*Update, None for Final.
fn call(
    h: CK_SESSION_HANDLE,
    dir: Dir,
    input: Option<(*const CK_BYTE, CK_ULONG)>,
    single: bool,
    buf: *mut CK_BYTE,
    len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            let data = input
                .map(|(p, n)| {
                    // SAFETY: the caller's buffer, valid for `n` bytes (§5.8).
                    unsafe { slice(p, n) }
                })
                .transpose()?;
            // SAFETY: NULL or a valid CK_ULONG.
            let len = unsafe { out(len) }?;
            let cap = capacity(buf, *len)?;
            let step = match (data, single) {
                (Some(d), true) => Step::Single(d),
                (Some(d), false) => Step::Update(d),
                (None, _) => Step::Final,
            };
            // Single-part output may go straight into the caller's buffer, unless it overlaps
            // the input (PKCS#11 allows in-place calls; Rust must not alias them).
            let direct = match (&step, cap) {
                (Step::Single(d), Some(c)) if c > 0 && !overlaps(d, buf, c) => {
                    // SAFETY: the caller's output buffer, valid for `c` bytes (§5.2), and not
                    // overlapping the input slice (checked).
                    Some(unsafe { slice_mut(buf, c as CK_ULONG) }?)
                }
                _ => None,
            };
            let o = m.crypt(h, dir, step, cap, direct)?;
            // SAFETY: `buf` holds `cap` bytes when non-NULL.
            unsafe { write_output(buf, len, o) }
        })();
        if let Err(e) = &r
            && ends_operation(e)
        {
            m.abort_crypt(h, dir);
        }
        r
    })
}

/// §5.8 C_EncryptInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::Encrypt, p_mechanism, key)
}

/// §5.8 C_Encrypt.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Encrypt(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::Encrypt, Some((p_data, data_len)), true, p_out, pul_out)
}

/// §5.8 C_EncryptUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptUpdate(
    h: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::Encrypt, Some((p_part, part_len)), false, p_out, pul_out)
}

/// §5.8 C_EncryptFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptFinal(h: CK_SESSION_HANDLE, p_out: *mut CK_BYTE, pul_out: *mut CK_ULONG) -> CK_RV {
    call(h, Dir::Encrypt, None, false, p_out, pul_out)
}

/// §5.9 C_DecryptInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::Decrypt, p_mechanism, key)
}

/// §5.9 C_Decrypt.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Decrypt(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::Decrypt, Some((p_data, data_len)), true, p_out, pul_out)
}

/// §5.9 C_DecryptUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptUpdate(
    h: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::Decrypt, Some((p_part, part_len)), false, p_out, pul_out)
}

/// §5.9 C_DecryptFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptFinal(h: CK_SESSION_HANDLE, p_out: *mut CK_BYTE, pul_out: *mut CK_ULONG) -> CK_RV {
    call(h, Dir::Decrypt, None, false, p_out, pul_out)
}

/// §5.13 C_SignRecoverInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecoverInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::SignRecover, p_mechanism, key)
}

/// §5.13 C_SignRecover.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignRecover(
    h: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_sig: *mut CK_BYTE,
    pul_sig: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::SignRecover, Some((p_data, data_len)), true, p_sig, pul_sig)
}

/// §5.15 C_VerifyRecoverInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::VerifyRecover, p_mechanism, key)
}

/// §5.15 C_VerifyRecover.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_VerifyRecover(
    h: CK_SESSION_HANDLE,
    p_sig: *mut CK_BYTE,
    sig_len: CK_ULONG,
    p_data: *mut CK_BYTE,
    pul_data: *mut CK_ULONG,
) -> CK_RV {
    call(h, Dir::VerifyRecover, Some((p_sig, sig_len)), true, p_data, pul_data)
}
