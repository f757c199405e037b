//! Message digesting (PKCS#11 3.2 §5.12).

use super::mechanism::session_mechanism;
use super::{entry, produce, slice};
use cryptoki_sys::*;

/// §5.12 C_DigestInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestInit(h_session: CK_SESSION_HANDLE, p_mechanism: *mut CK_MECHANISM) -> CK_RV {
    entry(|m| {
        if p_mechanism.is_null() {
            return m.end_operation(h_session, |s| &mut s.digest);
        }
        // SAFETY: a valid CK_MECHANISM.
        let mech = unsafe { session_mechanism(m, h_session, p_mechanism) }?;
        m.digest_init(h_session, &mech)
    })
}

/// §5.12 C_Digest. A size query or short buffer keeps the operation; other errors end it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Digest(
    h_session: CK_SESSION_HANDLE,
    p_data: *mut CK_BYTE,
    data_len: CK_ULONG,
    p_digest: *mut CK_BYTE,
    pul_digest_len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = (|| {
            // SAFETY: caller's buffers.
            let data = unsafe { slice(p_data, data_len) }?;
            let n = m.digest_len(h_session, true)?;
            // SAFETY: caller's output buffer and length.
            unsafe { produce(p_digest, pul_digest_len, n, || m.digest(h_session, data)) }
        })();
        end_on_error(m, h_session, r)
    })
}

/// §5.12 C_DigestUpdate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestUpdate(
    h_session: CK_SESSION_HANDLE,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: caller's buffer.
        let r = unsafe { slice(p_part, part_len) }.and_then(|d| m.digest_update(h_session, d));
        end_on_error(m, h_session, r)
    })
}

/// §5.12 C_DigestFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestFinal(
    h_session: CK_SESSION_HANDLE,
    p_digest: *mut CK_BYTE,
    pul_digest_len: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        let r = m.digest_len(h_session, false).and_then(|n| {
            // SAFETY: caller's output buffer and length.
            unsafe { produce(p_digest, pul_digest_len, n, || m.digest_final(h_session)) }
        });
        end_on_error(m, h_session, r)
    })
}

/// Ends the digest after any error but a size problem or a wrong call order (§5.2).
fn end_on_error(m: &crate::Module, h: CK_SESSION_HANDLE, r: crate::Result<()>) -> crate::Result<()> {
    if let Err(e) = &r
        && super::ends_operation(e)
    {
        m.digest_abort(h);
    }
    r
}

/// §5.12 C_DigestKey.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DigestKey(h_session: CK_SESSION_HANDLE, h_key: CK_OBJECT_HANDLE) -> CK_RV {
    entry(|m| {
        let r = m.digest_key(h_session, h_key);
        end_on_error(m, h_session, r)
    })
}
