//! Object management functions (PKCS#11 3.2 §5.7).

use super::attributes::{fill, search_template, template, types};
use super::{audited, entry, out, slice_mut};
use crate::error::Error;
use cryptoki_sys::*;

/// §5.7 C_CreateObject.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CreateObject(
    h_session: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_CreateObject", h_session, |m| {
        // SAFETY: NULL or a valid handle pointer.
        let h = unsafe { out(ph_object) }?;
        // SAFETY: caller's template.
        let t = unsafe { template(p_template, count) }?;
        *h = m.create_object(h_session, &t)?;
        Ok(())
    })
}

/// §5.7 C_CopyObject.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CopyObject(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_new: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    audited("C_CopyObject", h_session, |m| {
        // SAFETY: NULL or a valid handle pointer.
        let h = unsafe { out(ph_new) }?;
        // SAFETY: caller's template.
        let t = unsafe { template(p_template, count) }?;
        *h = m.copy_object(h_session, h_object, &t)?;
        Ok(())
    })
}

/// §5.7 C_DestroyObject.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DestroyObject(h_session: CK_SESSION_HANDLE, h_object: CK_OBJECT_HANDLE) -> CK_RV {
    audited("C_DestroyObject", h_session, |m| m.destroy_object(h_session, h_object))
}

/// §5.7 C_GetObjectSize.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetObjectSize(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    pul_size: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_ULONG.
        let size = unsafe { out(pul_size) }?;
        *size = m.object_size(h_session, h_object)?;
        Ok(())
    })
}

/// §5.7 C_GetAttributeValue: every attribute is answered; the first failing one decides
/// the return value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetAttributeValue(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: caller's template.
        let tys = unsafe { types(p_template, count) }?;
        let results = m.get_attributes(h_session, h_object, &tys)?;
        // SAFETY: the same template, `count` attributes.
        unsafe { fill(p_template, &results) }
    })
}

/// §5.7 C_SetAttributeValue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_SetAttributeValue(
    h_session: CK_SESSION_HANDLE,
    h_object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    audited("C_SetAttributeValue", h_session, |m| {
        // SAFETY: caller's template.
        let t = unsafe { template(p_template, count) }?;
        m.set_attributes(h_session, h_object, &t)
    })
}

/// §5.7 C_FindObjectsInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsInit(
    h_session: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: caller's template.
        let t = unsafe { search_template(p_template, count) }?;
        m.find_init(h_session, &t)
    })
}

/// §5.7 C_FindObjects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjects(
    h_session: CK_SESSION_HANDLE,
    ph_object: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    pul_count: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        // SAFETY: NULL or a valid CK_ULONG.
        let count = unsafe { out(pul_count) }?;
        if ph_object.is_null() && max > 0 {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: caller's array of `max` handles.
        let dst = unsafe { slice_mut(ph_object, max) }?;
        let found = m.find_next(h_session, dst.len())?;
        dst[..found.len()].copy_from_slice(&found);
        *count = found.len() as CK_ULONG;
        Ok(())
    })
}

/// §5.7 C_FindObjectsFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_FindObjectsFinal(h_session: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.find_final(h_session))
}
