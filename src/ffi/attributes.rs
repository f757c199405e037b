//! Decoding of CK_ATTRIBUTE arrays and CK_MECHANISM into owned, typed values, and the
//! per-attribute output rules of C_GetAttributeValue (PKCS#11 3.2 §5.7.5).

use super::{slice, slice_mut};
use crate::error::{Error, Result};
use crate::object::attr::{Kind, is_standard_unmodelled, kind_of};
use crate::object::{Attribute, Value};
use crate::token::objects::AttrResult;
use cryptoki_sys::*;

const ULONG: usize = size_of::<CK_ULONG>();

/// The most attributes a template may have (there are a few hundred attribute types): a
/// count beyond it is a false one, refused before the array is read.
const MAX_TEMPLATE_LEN: CK_ULONG = 1 << 16;

/// The longest attribute value the token takes (256 MiB): a longer length, 0xFFFFFFFF say,
/// is refused (CKR_ATTRIBUTE_VALUE_INVALID) before the buffer it claims is read.
const MAX_VALUE_LEN: CK_ULONG = 256 << 20;

/// Decodes a template. Unknown types are CKR_ATTRIBUTE_TYPE_INVALID; values of the wrong
/// size for their type are CKR_ATTRIBUTE_VALUE_INVALID.
///
/// # Safety
/// `p` is NULL or valid for `n` attributes whose pValue/ulValueLen are valid.
pub unsafe fn template(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<Attribute>> {
    // SAFETY: caller's contract.
    unsafe { decode(p, n, true, false) }
}

/// Decodes a C_FindObjectsInit template: as [`template`], except that an attribute the
/// specification defines but no oxihsm object carries (CKA_HW_FEATURE_TYPE ...) is taken as
/// bytes, so that it matches nothing instead of failing the search.
///
/// # Safety
/// As [`template`].
pub unsafe fn search_template(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<Attribute>> {
    // SAFETY: caller's contract.
    unsafe { decode(p, n, true, true) }
}

/// # Safety
/// As [`template`].
unsafe fn decode(p: *const CK_ATTRIBUTE, n: CK_ULONG, nested_ok: bool, search: bool) -> Result<Vec<Attribute>> {
    // SAFETY: caller's contract.
    let attrs = unsafe { attribute_array(p, n) }?;
    // Room for a usual template only: the count is the caller's word, and an allocation sized
    // by a false one would fail (and abort) before the first attribute is looked at.
    let mut out = Vec::with_capacity(attrs.len().min(64));
    for a in attrs {
        let kind = match kind_of(a.type_) {
            Some(k) => k,
            None if search && is_standard_unmodelled(a.type_) => Kind::Bytes,
            None => return Err(Error::AttributeTypeInvalid),
        };
        let value = if kind == Kind::Template {
            if !nested_ok
                || !(a.ulValueLen as usize).is_multiple_of(size_of::<CK_ATTRIBUTE>())
                || a.ulValueLen / size_of::<CK_ATTRIBUTE>() as CK_ULONG > MAX_TEMPLATE_LEN
            {
                return Err(Error::AttributeValueInvalid);
            }
            let count = a.ulValueLen as usize / size_of::<CK_ATTRIBUTE>();
            // SAFETY: pValue of a template attribute is an array of CK_ATTRIBUTE of
            // ulValueLen bytes (§4.1.3), under the caller's contract.
            Value::Template(unsafe { decode(a.pValue.cast(), count as CK_ULONG, false, search) }?)
        } else {
            // A length the type cannot have is the value's fault, told before anything is
            // read: a length left at CK_UNAVAILABLE_INFORMATION by a failed
            // C_GetAttributeValue is CKR_ATTRIBUTE_VALUE_INVALID (a NULL pValue with a
            // length stays CKR_ARGUMENTS_BAD, below).
            if !a.pValue.is_null() && !length_fits(kind, a.ulValueLen) {
                return Err(Error::AttributeValueInvalid);
            }
            // SAFETY: pValue is NULL or valid for ulValueLen bytes.
            let bytes = unsafe { slice(a.pValue.cast::<u8>(), a.ulValueLen) }?;
            decode_value(kind, bytes)?
        };
        out.push(Attribute::new(a.type_, value));
    }
    Ok(out)
}

/// Whether a value of `len` bytes can be of `kind` (byte strings any length the token
/// takes).
fn length_fits(kind: Kind, len: CK_ULONG) -> bool {
    len <= MAX_VALUE_LEN
        && match kind {
            Kind::Bool => len == 1,
            Kind::Ulong => len == ULONG as CK_ULONG,
            Kind::Date => len == 0 || len == 8,
            Kind::MechList => len.is_multiple_of(ULONG as CK_ULONG),
            Kind::Bytes | Kind::Template => true,
        }
}

fn decode_value(kind: Kind, b: &[u8]) -> Result<Value> {
    Ok(match kind {
        Kind::Bool => match b {
            [x] => Value::Bool(*x != 0),
            _ => return Err(Error::AttributeValueInvalid),
        },
        Kind::Ulong => Value::Ulong(CK_ULONG::from_ne_bytes(b.try_into().map_err(|_| Error::AttributeValueInvalid)?)),
        Kind::Bytes => Value::bytes(b),
        Kind::Date => {
            if !(b.is_empty() || b.len() == 8 && b.iter().all(u8::is_ascii_digit)) {
                return Err(Error::AttributeValueInvalid);
            }
            Value::bytes(b)
        }
        Kind::MechList => {
            if !b.len().is_multiple_of(ULONG) {
                return Err(Error::AttributeValueInvalid);
            }
            Value::MechList(
                b.chunks_exact(ULONG).map(|c| CK_ULONG::from_ne_bytes(c.try_into().expect("ULONG"))).collect(),
            )
        }
        Kind::Template => return Err(Error::AttributeValueInvalid),
    })
}

/// The C representation of a non-template value.
fn native(v: &Value) -> Vec<u8> {
    match v {
        Value::Bool(b) => vec![*b as u8],
        Value::Ulong(u) => u.to_ne_bytes().to_vec(),
        Value::Bytes(b) => b.to_vec(),
        Value::MechList(m) => m.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        Value::Template(_) => Vec::new(),
    }
}

/// Reads the types out of a C_GetAttributeValue template.
///
/// # Safety
/// As [`template`].
pub unsafe fn types(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<Vec<CK_ATTRIBUTE_TYPE>> {
    // SAFETY: caller's contract.
    Ok(unsafe { attribute_array(p, n) }?.iter().map(|a| a.type_).collect())
}

/// The caller's array of `n` attributes, a count past [`MAX_TEMPLATE_LEN`] refused first.
///
/// # Safety
/// As [`template`].
unsafe fn attribute_array<'a>(p: *const CK_ATTRIBUTE, n: CK_ULONG) -> Result<&'a [CK_ATTRIBUTE]> {
    if n > MAX_TEMPLATE_LEN {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: caller's contract.
    unsafe { slice(p, n) }
}

/// Writes one value by the rules of §5.7.5; returns the error code this attribute gives.
///
/// # Safety
/// `a.pValue` is NULL or valid for `a.ulValueLen` bytes.
unsafe fn fill_one(a: &mut CK_ATTRIBUTE, v: &Value) -> Option<Error> {
    if let Value::Template(t) = v {
        let needed = t.len() * size_of::<CK_ATTRIBUTE>();
        if a.pValue.is_null() {
            a.ulValueLen = needed as CK_ULONG;
            return None;
        }
        if (a.ulValueLen as usize) < needed {
            a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return Some(Error::BufferTooSmall);
        }
        // SAFETY: pValue holds at least t.len() CK_ATTRIBUTEs (checked above).
        let Ok(inner) = (unsafe { slice_mut(a.pValue.cast::<CK_ATTRIBUTE>(), t.len() as CK_ULONG) }) else {
            return Some(Error::ArgumentsBad);
        };
        let mut err = None;
        for (slot, attr) in inner.iter_mut().zip(t) {
            slot.type_ = attr.ty;
            // SAFETY: the caller prepared each element's pValue/ulValueLen.
            err = err.or(unsafe { fill_one(slot, &attr.value) });
        }
        a.ulValueLen = needed as CK_ULONG;
        return err;
    }
    let bytes = native(v);
    if a.pValue.is_null() {
        a.ulValueLen = bytes.len() as CK_ULONG;
        return None;
    }
    if (a.ulValueLen as usize) < bytes.len() {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return Some(Error::BufferTooSmall);
    }
    // SAFETY: pValue is valid for ulValueLen >= bytes.len() bytes.
    match unsafe { slice_mut(a.pValue.cast::<u8>(), bytes.len() as CK_ULONG) } {
        Ok(dst) => dst.copy_from_slice(&bytes),
        Err(e) => return Some(e),
    }
    a.ulValueLen = bytes.len() as CK_ULONG;
    None
}

/// Fills a C_GetAttributeValue template from the engine's results. Every attribute is
/// processed; the first error (sensitive, invalid type, too small) is returned.
///
/// # Safety
/// `p` is valid for `results.len()` attributes as the caller passed them.
pub unsafe fn fill(p: *mut CK_ATTRIBUTE, results: &[AttrResult]) -> Result<()> {
    // SAFETY: caller's contract; `results` has one entry per attribute.
    let attrs = unsafe { slice_mut(p, results.len() as CK_ULONG) }?;
    let mut first = None;
    for (a, r) in attrs.iter_mut().zip(results) {
        let e = match r {
            AttrResult::Sensitive => {
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                Some(Error::AttributeSensitive)
            }
            AttrResult::Invalid => {
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                Some(Error::AttributeTypeInvalid)
            }
            // SAFETY: the attribute's buffer is the caller's, per §5.7.5.
            AttrResult::Value(v) => unsafe { fill_one(a, v) },
        };
        first = first.or(e);
    }
    first.map_or(Ok(()), Err)
}
