//! Dual-function cryptographic functions (PKCS#11 3.2 §5.17).

use super::{ends_operation, entry, out, slice, write_output};
use crate::mechanism::dual::Companion;
use crate::mechanism::ops::Dir;
use cryptoki_sys::*;

/// One dual-function call. An error that ends an operation (§5.2) ends both of the call's.
fn dual(
    h: CK_SESSION_HANDLE,
    dir: Dir,
    with: Companion,
    p_part: *const CK_BYTE,
    part_len: CK_ULONG,
    buf: *mut CK_BYTE,
    len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            // SAFETY: the caller's buffer, valid for `part_len` bytes (§5.17).
            let data = unsafe { slice(p_part, part_len) }?;
            // SAFETY: NULL or a valid CK_ULONG.
            let len = unsafe { out(len) }?;
            let cap = super::capacity(buf, *len)?;
            let o = m.dual_update(h, dir, with, data, cap)?;
            // SAFETY: `buf` holds `cap` bytes when non-NULL.
            unsafe { write_output(buf, len, o) }
        })();
        if let Err(e) = &r
            && ends_operation(e)
        {
            m.abort_crypt(h, dir);
            m.abort_companion(h, with);
        }
        r
    })
}

/// §5.17 C_DigestEncryptUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    h: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_encrypted_part: *mut CK_BYTE,
    pul_encrypted_part_len: *mut CK_ULONG,
) -> CK_RV {
    dual(h, Dir::Encrypt, Companion::Digest, p_part, part_len, p_encrypted_part, pul_encrypted_part_len)
}

/// §5.17 C_DecryptDigestUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    h: CK_SESSION_HANDLE,
    p_encrypted_part: *mut CK_BYTE,
    encrypted_part_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    pul_part_len: *mut CK_ULONG,
) -> CK_RV {
    dual(h, Dir::Decrypt, Companion::Digest, p_encrypted_part, encrypted_part_len, p_part, pul_part_len)
}

/// §5.17 C_SignEncryptUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    h: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_encrypted_part: *mut CK_BYTE,
    pul_encrypted_part_len: *mut CK_ULONG,
) -> CK_RV {
    dual(h, Dir::Encrypt, Companion::Sign, p_part, part_len, p_encrypted_part, pul_encrypted_part_len)
}

/// §5.17 C_DecryptVerifyUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    h: CK_SESSION_HANDLE,
    p_encrypted_part: *mut CK_BYTE,
    encrypted_part_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    pul_part_len: *mut CK_ULONG,
) -> CK_RV {
    dual(h, Dir::Decrypt, Companion::Verify, p_encrypted_part, encrypted_part_len, p_part, pul_part_len)
}
