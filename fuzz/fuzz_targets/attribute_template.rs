//! Attribute-template decoding and the object policy behind C_CreateObject,
//! C_FindObjectsInit and C_SetAttributeValue: templates with arbitrary types, lengths,
//! values and nesting decode to attributes or to the specification's error, and an object
//! built from them obeys the sensitivity rules.
#![no_main]

use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use oxihsm::ffi::attributes::template;
use oxihsm::object::policy::{self, Actor};
use oxihsm_fuzz::{Input, Template};

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let t = Template::build(&mut inp, 2);
    // The pointer is NULL exactly when the template is empty, as a caller would pass it.
    let ptr = if t.attrs.is_empty() { std::ptr::null() } else { t.attrs.as_ptr() };
    // SAFETY: every pointer in `t` refers to a live buffer of at least its declared length.
    let decoded = unsafe { template(ptr, t.attrs.len() as CK_ULONG) };
    let Ok(attrs) = decoded else { return };
    let actor = Actor { so: inp.u8() % 2 == 0, allow_extractable: inp.u8() % 2 == 0 };
    if let Ok(obj) = policy::create(&attrs, actor, "fuzz-uid") {
        // A sensitive or non-extractable key never reveals its key material.
        if obj.flag(CKA_SENSITIVE) || (obj.get(CKA_EXTRACTABLE).is_some() && !obj.flag(CKA_EXTRACTABLE)) {
            for ty in [CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2] {
                if policy::is_key_material(&obj, ty) {
                    assert!(!matches!(policy::reveal(&obj, ty), policy::Reveal::Value(_)), "{ty:#x} revealed");
                }
            }
        }
        let _ = policy::matches(&obj, &attrs);
        let t2 = Template::build(&mut inp, 1);
        let ptr = if t2.attrs.is_empty() { std::ptr::null() } else { t2.attrs.as_ptr() };
        // SAFETY: as above.
        if let Ok(update) = unsafe { template(ptr, t2.attrs.len() as CK_ULONG) } {
            let _ = policy::set_attributes(&obj, &update, actor);
            let _ = policy::copy(&obj, &update, actor, "fuzz-copy");
        }
    }
});
