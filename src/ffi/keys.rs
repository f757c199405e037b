//! Key management functions (PKCS#11 3.2 §5.14): C_GenerateKey, C_WrapKey, C_UnwrapKey,
//! C_DeriveKey, and 3.2's C_EncapsulateKey and C_DecapsulateKey.

use super::attributes::template;
use super::mechanism::{additional_key_outputs, session_mechanism, tls_outputs};
use super::message::{Param, param, wrap_param};
use super::{audited, out, slice};
use crate::error::Error;
use crate::mechanism::Params;
use crate::mechanism::message::MessageOutput;
use crate::mechanism::ops::Dir;
use crate::mechanism::pqc::Encapsulation;
use cryptoki_sys::*;

/// §5.14 C_GenerateKey.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_GenerateKey", h, |m| {
        // SAFETY: NULL or valid out-pointer.
        let key = unsafe { out(ph_key) }?;
        // SAFETY: the caller's mechanism and template.
        let (mech, t) = unsafe { (session_mechanism(m, h, p_mechanism)?, template(p_template, count)?) };
        let (handle, iv) = m.generate_key(h, &mech, &t)?;
        *key = handle;
        // The PKCS #12 PBE mechanisms' IV, with the key.
        if let Some(iv) = iv {
            // SAFETY: the mechanism decoded as a CK_PBE_PARAMS whose pInitVector is not NULL
            // and, as the mechanism's section has it, points at 8 bytes of the caller's.
            unsafe {
                let p = std::ptr::read_unaligned((*p_mechanism).pParameter.cast::<CK_PBE_PARAMS>());
                std::ptr::copy_nonoverlapping(iv.as_ptr(), p.pInitVector, iv.len());
            }
        }
        Ok(())
    })
}

/// §5.14 C_WrapKey: a size query (NULL buffer) reports the wrapped length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    p_wrapped: *mut CK_BYTE,
    pul_wrapped_len: *mut CK_ULONG,
) -> CK_RV {
    audited("C_WrapKey", h, |m| {
        // SAFETY: NULL or a valid CK_ULONG.
        let len = unsafe { out(pul_wrapped_len) }?;
        // SAFETY: the caller's mechanism.
        if let Some(w) = unsafe { wrap_param(p_mechanism) } {
            // 3.2's CK_GCM_WRAP_PARAMS / CK_CCM_WRAP_PARAMS: the IV (nonce) may be the
            // token's, and is written back; the tag (MAC) is appended.
            let (ty, p, aad) = w.map_err(|e| m.session_checked(h, e))?;
            let o = m.wrap_key_authenticated(h, ty, &p.params, wrapping_key, key, &aad)?;
            let wrapped = [&o.data[..], &o.tag[..]].concat();
            // SAFETY: `p_wrapped` is NULL or the caller's buffer of *len bytes.
            if unsafe { give_wrapped(p_wrapped, len, &wrapped) }? {
                let iv_only = MessageOutput { data: Vec::new(), iv: o.iv, tag: Vec::new() };
                // SAFETY: the parameter's IV buffer is as decoded.
                unsafe { p.write_back(&iv_only, Dir::Encrypt) }?;
                m.audit_wrapped(h, key)?;
            }
            return Ok(());
        }
        // SAFETY: the caller's mechanism.
        let mech = unsafe { session_mechanism(m, h, p_mechanism) }?;
        let wrapped = m.wrap_key(h, &mech, wrapping_key, key)?;
        // SAFETY: `p_wrapped` is NULL or the caller's buffer of *len bytes.
        if unsafe { give_wrapped(p_wrapped, len, &wrapped) }? {
            // Key material left the token (wrapped): always recorded, naming the wrapped key.
            m.audit_wrapped(h, key)?;
        }
        Ok(())
    })
}

/// Hands a wrapped key out by §5.2's rules; whether it was written (not a size query).
///
/// # Safety
/// `buf` is NULL or valid for `*len` bytes.
unsafe fn give_wrapped(buf: *mut CK_BYTE, len: &mut CK_ULONG, wrapped: &[u8]) -> crate::error::Result<bool> {
    if buf.is_null() {
        *len = wrapped.len() as CK_ULONG;
        return Ok(false);
    }
    if (*len as usize) < wrapped.len() {
        *len = wrapped.len() as CK_ULONG;
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: the caller's buffer holds *len >= wrapped.len() bytes.
    unsafe { super::slice_mut(buf, wrapped.len() as CK_ULONG) }?.copy_from_slice(wrapped);
    *len = wrapped.len() as CK_ULONG;
    Ok(true)
}

/// The mechanism of C_WrapKeyAuthenticated / C_UnwrapKeyAuthenticated and its per-message
/// parameter (CK_GCM_MESSAGE_PARAMS or CK_CCM_MESSAGE_PARAMS). A bad mechanism in a call
/// whose session is gone is CKR_SESSION_HANDLE_INVALID.
///
/// # Safety
/// `p` is NULL or the caller's valid CK_MECHANISM, its parameter valid as §5.18 says.
unsafe fn authenticated_mechanism(
    m: &crate::module::Module,
    h: CK_SESSION_HANDLE,
    p: *mut CK_MECHANISM,
    dir: Dir,
) -> crate::error::Result<(CK_MECHANISM_TYPE, Param)> {
    // SAFETY: NULL or the caller's CK_MECHANISM.
    let mech = unsafe { p.as_ref() };
    if let Some(mech) = mech {
        crate::module::set_call_mechanism(mech.mechanism);
    }
    let decoded = match mech {
        None => Err(Error::ArgumentsBad),
        // Only the AEADs wrap with authentication: another mechanism is told as such before
        // its parameter is read as theirs.
        Some(mech) if !matches!(mech.mechanism, CKM_AES_GCM | CKM_AES_CCM) => Err(Error::MechanismInvalid),
        Some(mech) if mech.pParameter.is_null() => Err(Error::MechanismParamInvalid),
        // SAFETY: the parameter and its buffers are valid for the lengths they give.
        Some(mech) => unsafe { param(mech.pParameter, mech.ulParameterLen, dir) }.map(|p| (mech.mechanism, p)),
    };
    decoded.map_err(|e| m.session_checked(h, e))
}

/// §5.18 C_WrapKeyAuthenticated: `hKey` wrapped with AES-GCM or AES-CCM; the IV used and the
/// tag are written into the mechanism's parameter, the wrapped key holds the ciphertext only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WrapKeyAuthenticated(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    p_associated_data: *mut CK_BYTE,
    associated_data_len: CK_ULONG,
    p_wrapped: *mut CK_BYTE,
    pul_wrapped_len: *mut CK_ULONG,
) -> CK_RV {
    audited("C_WrapKeyAuthenticated", h, |m| {
        // SAFETY: NULL or a valid CK_ULONG; the caller's mechanism and associated data.
        let (len, (ty, p), aad) = unsafe {
            (
                out(pul_wrapped_len)?,
                authenticated_mechanism(m, h, p_mechanism, Dir::Encrypt)?,
                slice(p_associated_data, associated_data_len)?,
            )
        };
        let o = m.wrap_key_authenticated(h, ty, &p.params, wrapping_key, key, aad)?;
        // SAFETY: `p_wrapped` is NULL or the caller's buffer of *len bytes.
        if unsafe { give_wrapped(p_wrapped, len, &o.data) }? {
            // SAFETY: the parameter's IV and tag buffers are as decoded.
            unsafe { p.write_back(&o, Dir::Encrypt) }?;
            m.audit_wrapped(h, key)?;
        }
        Ok(())
    })
}

/// §5.18 C_UnwrapKeyAuthenticated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKeyAuthenticated(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    unwrapping_key: CK_OBJECT_HANDLE,
    p_wrapped: *mut CK_BYTE,
    wrapped_len: CK_ULONG,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    p_associated_data: *mut CK_BYTE,
    associated_data_len: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_UnwrapKeyAuthenticated", h, |m| {
        // SAFETY: NULL or a valid out-pointer; the caller's mechanism, buffers and template.
        let (key, (ty, p), wrapped, t, aad) = unsafe {
            (
                out(ph_key)?,
                authenticated_mechanism(m, h, p_mechanism, Dir::Decrypt)?,
                slice(p_wrapped, wrapped_len)?,
                template(p_template, count)?,
                slice(p_associated_data, associated_data_len)?,
            )
        };
        if wrapped.is_empty() {
            return Err(Error::WrappedKeyLenRange);
        }
        *key = m.unwrap_key_authenticated(h, ty, &p.params, unwrapping_key, wrapped, &t, aad)?;
        Ok(())
    })
}

/// §5.14 C_UnwrapKey.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_UnwrapKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    unwrapping_key: CK_OBJECT_HANDLE,
    p_wrapped: *mut CK_BYTE,
    wrapped_len: CK_ULONG,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_UnwrapKey", h, |m| {
        // SAFETY: NULL or a valid out-pointer.
        let key = unsafe { out(ph_key) }?;
        // SAFETY: the caller's mechanism.
        if let Some(w) = unsafe { wrap_param(p_mechanism) } {
            // 3.2's CK_GCM_WRAP_PARAMS / CK_CCM_WRAP_PARAMS: the tag is at the end of the
            // wrapped key.
            let (ty, mut p, aad) = w.map_err(|e| m.session_checked(h, e))?;
            // SAFETY: the caller's wrapped key and template.
            let (wrapped, t) = unsafe { (slice(p_wrapped, wrapped_len)?, template(p_template, count)?) };
            let body =
                wrapped.len().checked_sub(p.params.tag_len).filter(|n| *n > 0).ok_or(Error::WrappedKeyLenRange)?;
            p.params.tag = wrapped[body..].to_vec();
            *key = m.unwrap_key_authenticated(h, ty, &p.params, unwrapping_key, &wrapped[..body], &t, &aad)?;
            return Ok(());
        }
        // SAFETY: the caller's mechanism, wrapped key and template.
        let (mech, wrapped, t) = unsafe {
            (session_mechanism(m, h, p_mechanism)?, slice(p_wrapped, wrapped_len)?, template(p_template, count)?)
        };
        if wrapped.is_empty() {
            return Err(Error::WrappedKeyLenRange);
        }
        *key = m.unwrap_key(h, &mech, unwrapping_key, wrapped, &t)?;
        Ok(())
    })
}

/// §5.14 C_DeriveKey.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DeriveKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    base_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_DeriveKey", h, |m| {
        // Key material (TLS) is returned in the parameter, and phKey "should be a NULL_PTR".
        // SAFETY: NULL or the caller's CK_MECHANISM.
        let key_material = unsafe { p_mechanism.as_ref() }
            .is_some_and(|pm| matches!(pm.mechanism, CKM_TLS12_KEY_AND_MAC_DERIVE | CKM_TLS12_KEY_SAFE_DERIVE));
        let mut no_key = CK_INVALID_HANDLE;
        let key = if ph_key.is_null() && key_material {
            &mut no_key
        } else {
            // SAFETY: NULL or a valid out-pointer.
            unsafe { out(ph_key) }?
        };
        // SAFETY: the caller's mechanism.
        let mech = match unsafe { session_mechanism(m, h, p_mechanism) } {
            Ok(mech) => mech,
            // A base key the derivation could not use is told before a refused parameter,
            // as by the C_*Init functions (CKM_PUB_KEY_FROM_PRIV_KEY takes any private key).
            // SAFETY: NULL or the caller's CK_MECHANISM.
            Err(e) => match unsafe { p_mechanism.as_ref() } {
                Some(pm) if pm.mechanism != CKM_PUB_KEY_FROM_PRIV_KEY => {
                    return Err(m.init_refused(h, e, pm.mechanism, base_key, (CKF_DERIVE, CKA_DERIVE)));
                }
                _ => return Err(e),
            },
        };
        // SAFETY: the caller's template.
        let t = unsafe { template(p_template, count) }?;
        if let Params::Kbkdf(_) = mech.params {
            let (first, more) = m.derive_kbkdf(h, &mech, base_key, &t)?;
            // SAFETY: the mechanism was decoded above; each phKey was checked non-NULL.
            for (dst, handle) in unsafe { additional_key_outputs(p_mechanism) }.into_iter().zip(more) {
                // SAFETY: a non-NULL CK_OBJECT_HANDLE pointer of the caller's CK_DERIVED_KEY.
                unsafe { *dst = handle };
            }
            *key = first;
            return Ok(());
        }
        if let Params::TlsMaster { .. } | Params::TlsKeyMaterial { .. } | Params::TlsKdf { .. } = mech.params {
            let d = m.derive_tls(h, &mech, base_key, &t)?;
            // SAFETY: the mechanism was decoded above; its output pointers are the caller's.
            let outs = unsafe { tls_outputs(p_mechanism) };
            if let (Some((major, minor)), false) = (d.version, outs.version.is_null()) {
                // SAFETY: a non-NULL CK_VERSION pointer of the caller's parameter.
                unsafe { *outs.version = CK_VERSION { major, minor } };
            }
            // SAFETY: non-NULL (checked when the parameter was decoded) and the caller's.
            if let Some(o) = unsafe { outs.material.as_mut() } {
                [o.hClientMacSecret, o.hServerMacSecret, o.hClientKey, o.hServerKey] = d.material;
                let (client, server) = &d.ivs;
                if !client.is_empty() {
                    // SAFETY: IVs asked for: the IV buffers were checked non-NULL when the
                    // parameter was decoded; the caller's contract makes them as long as the
                    // IVs asked.
                    unsafe {
                        std::ptr::copy_nonoverlapping(client.as_ptr(), o.pIVClient, client.len());
                        std::ptr::copy_nonoverlapping(server.as_ptr(), o.pIVServer, server.len());
                    }
                }
            }
            *key = d.key;
            return Ok(());
        }
        *key = m.derive_key(h, &mech, base_key, &t)?;
        Ok(())
    })
}

/// §5.14 C_GenerateKeyPair.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GenerateKeyPair(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    p_public: *mut CK_ATTRIBUTE,
    public_count: CK_ULONG,
    p_private: *mut CK_ATTRIBUTE,
    private_count: CK_ULONG,
    ph_public: *mut CK_OBJECT_HANDLE,
    ph_private: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_GenerateKeyPair", h, |m| {
        // SAFETY: NULL or valid out-pointers.
        let (pub_h, priv_h) = unsafe { (out(ph_public)?, out(ph_private)?) };
        // SAFETY: the caller's mechanism and templates.
        let (mech, pt, st) = unsafe {
            (
                session_mechanism(m, h, p_mechanism)?,
                template(p_public, public_count)?,
                template(p_private, private_count)?,
            )
        };
        let (a, b) = m.generate_key_pair(h, &mech, &pt, &st)?;
        *pub_h = a;
        *priv_h = b;
        Ok(())
    })
}

/// §5.18 C_EncapsulateKey (PKCS#11 3.2): a new shared-secret key from `p_template` and its
/// ciphertext for the public key. A NULL `p_ciphertext` asks for the ciphertext's length
/// only, and a short buffer gets CKR_BUFFER_TOO_SMALL: neither makes a key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncapsulateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    public_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    p_ciphertext: *mut CK_BYTE,
    pul_ciphertext_len: *mut CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_EncapsulateKey", h, |m| {
        // SAFETY: NULL or a valid CK_ULONG.
        let len = unsafe { out(pul_ciphertext_len) }?;
        // SAFETY: the caller's mechanism and template.
        let (mech, t) = unsafe { (session_mechanism(m, h, p_mechanism)?, template(p_template, count)?) };
        let room = (!p_ciphertext.is_null()).then_some(*len as usize);
        // SAFETY: NULL or a valid out-pointer; checked before a key can be made.
        let ph = if room.is_some() { Some(unsafe { out(ph_key) }?) } else { None };
        match m.encapsulate_key(h, &mech, public_key, &t, room)? {
            // Made only when the ciphertext fits the caller's buffer (so `ph` was checked).
            Encapsulation::Made { ciphertext, key } => {
                // SAFETY: the caller's buffer holds *len >= ciphertext.len() bytes.
                unsafe { super::slice_mut(p_ciphertext, ciphertext.len() as CK_ULONG) }?.copy_from_slice(&ciphertext);
                *len = ciphertext.len() as CK_ULONG;
                if let Some(ph) = ph {
                    *ph = key;
                }
                Ok(())
            }
            Encapsulation::Length(n) => {
                *len = n as CK_ULONG;
                if room.is_some() { Err(Error::BufferTooSmall) } else { Ok(()) }
            }
        }
    })
}

/// §5.18 C_DecapsulateKey (PKCS#11 3.2): the shared-secret key of a ciphertext under the
/// private key, made from `p_template`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecapsulateKey(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    private_key: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    p_ciphertext: *mut CK_BYTE,
    ciphertext_len: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_DecapsulateKey", h, |m| {
        // SAFETY: NULL or a valid out-pointer.
        let key = unsafe { out(ph_key) }?;
        // SAFETY: the caller's mechanism, ciphertext and template.
        let (mech, ct, t) = unsafe {
            (session_mechanism(m, h, p_mechanism)?, slice(p_ciphertext, ciphertext_len)?, template(p_template, count)?)
        };
        *key = m.decapsulate_key(h, &mech, private_key, ct, &t)?;
        Ok(())
    })
}
