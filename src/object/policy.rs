//! The object policy: what a template may say on creation and copy, what C_SetAttributeValue
//! may change, and what may be revealed (PKCS#11 3.2 §4.1 footnotes, §5.7; DESIGN §4).
//!
//! Every function here is pure: it takes an object and a template and returns the new object
//! or the precise error. Storage and sessions are the caller's business.

use super::attr::{self, Fill, Schema, rule::*};
use super::{Attribute, Object, Value};
use crate::error::{Error, Result};
use cryptoki_sys::*;

/// Who is acting and under which configuration.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    /// The SO is logged in (may set CKA_TRUSTED).
    pub so: bool,
    /// Configuration allows CKA_EXTRACTABLE=TRUE.
    pub allow_extractable: bool,
}

/// The outcome of asking for one attribute of an object.
#[derive(Debug)]
pub enum Reveal<'a> {
    Value(&'a Value),
    /// Footnote 7 applies: CKR_ATTRIBUTE_SENSITIVE.
    Sensitive,
    /// The object has no such attribute: CKR_ATTRIBUTE_TYPE_INVALID.
    Invalid,
}

fn schema_of(obj: &Object) -> &'static Schema {
    let class = obj.class();
    let sub = attr::subtype_attr(class).and_then(|a| obj.ulong(a));
    attr::schema(class, sub).unwrap_or(&attr::NO_SCHEMA)
}

/// Rejects a template that names one attribute twice with different values.
fn check_duplicates(template: &[Attribute]) -> Result<()> {
    for (i, a) in template.iter().enumerate() {
        if template[..i].iter().any(|b| b.ty == a.ty && b.value != a.value) {
            return Err(Error::TemplateInconsistent);
        }
    }
    Ok(())
}

fn template_ulong(template: &[Attribute], ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    template.iter().find(|a| a.ty == ty).and_then(|a| match a.value {
        Value::Ulong(u) => Some(u),
        _ => None,
    })
}

/// How an object comes to be: the spec's footnotes differ for each.
#[derive(Clone, Debug)]
pub enum Origin {
    /// C_CreateObject.
    Create,
    /// C_GenerateKey / C_GenerateKeyPair with `mechanism`, making a key of
    /// `class`/`key_type` whose generated attributes are `material`.
    Generate { class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE, mechanism: CK_MECHANISM_TYPE, material: Vec<Attribute> },
    /// C_UnwrapKey: the template names class and key type; `material` came out of the
    /// wrapping (CKA_VALUE of a secret key, or a private key's components).
    Unwrap { material: Vec<Attribute> },
    /// C_DeriveKey from a base key with these flags; class and key type default to a
    /// generic secret.
    Derive { value: super::Bytes, base_always_sensitive: bool, base_never_extractable: bool },
    /// C_DeriveKey with CKM_PUB_KEY_FROM_PRIV_KEY: built as C_CreateObject builds (the template
    /// holds the public values), with the private key's CKA_KEY_GEN_MECHANISM.
    PublicFromPrivate { key_gen_mechanism: CK_MECHANISM_TYPE },
}

/// Builds the object that C_CreateObject makes from `template`, with `unique_id`.
pub fn create(template: &[Attribute], actor: Actor, unique_id: &str) -> Result<Object> {
    build(template, actor, unique_id, Origin::Create)
}

/// Builds a new object from `template` for `origin`.
pub fn build(template: &[Attribute], actor: Actor, unique_id: &str, origin: Origin) -> Result<Object> {
    let obj = assemble(template, actor, unique_id, origin)?;
    validate(&obj, actor)?;
    Ok(obj)
}

/// As [`build`], without the checks of the values the origin brings (a secret key's length):
/// what can be checked of a template before generating them.
pub fn assemble(template: &[Attribute], actor: Actor, unique_id: &str, origin: Origin) -> Result<Object> {
    check_duplicates(template)?;
    let (forbidden, required) = match origin {
        Origin::Create | Origin::PublicFromPrivate { .. } => (NO_CREATE, REQ_CREATE),
        Origin::Generate { .. } => (NO_GENERATE, REQ_GENERATE),
        Origin::Unwrap { .. } => (NO_UNWRAP, REQ_UNWRAP),
        Origin::Derive { .. } => (NO_GENERATE, 0),
    };
    let fixed = |ty: CK_ATTRIBUTE_TYPE, want: CK_ULONG| -> Result<CK_ULONG> {
        match template_ulong(template, ty) {
            Some(v) if v != want => Err(Error::TemplateInconsistent),
            _ => Ok(want),
        }
    };
    let (class, sub) = match &origin {
        Origin::Create | Origin::PublicFromPrivate { .. } => {
            let class = template_ulong(template, CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
            let sub = match attr::subtype_attr(class) {
                Some(a) => Some(template_ulong(template, a).ok_or(Error::TemplateIncomplete)?),
                None => None,
            };
            (class, sub)
        }
        Origin::Generate { class, key_type, .. } => (fixed(CKA_CLASS, *class)?, Some(fixed(CKA_KEY_TYPE, *key_type)?)),
        Origin::Unwrap { .. } => (
            template_ulong(template, CKA_CLASS).ok_or(Error::TemplateIncomplete)?,
            Some(template_ulong(template, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?),
        ),
        Origin::Derive { .. } => {
            let class = template_ulong(template, CKA_CLASS).unwrap_or(CKO_SECRET_KEY);
            match class {
                CKO_SECRET_KEY => (class, Some(template_ulong(template, CKA_KEY_TYPE).unwrap_or(CKK_GENERIC_SECRET))),
                CKO_DATA => (class, None),
                _ => return Err(Error::TemplateInconsistent),
            }
        }
    };
    let schema = attr::schema(class, sub).ok_or(Error::AttributeValueInvalid)?;
    let mut obj = Object::default();
    obj.set(CKA_CLASS, Value::Ulong(class));
    if let (Some(a), Some(v)) = (attr::subtype_attr(class), sub) {
        obj.set(a, Value::Ulong(v));
    }
    for a in template {
        let rule = schema.rule(a.ty).ok_or(Error::AttributeTypeInvalid)?;
        if rule.flags & forbidden != 0 {
            return Err(Error::AttributeReadOnly);
        }
        if rule.flags & SO_ONLY_TRUE != 0 && a.value == Value::Bool(true) && !actor.so {
            return Err(Error::AttributeReadOnly);
        }
        obj.set(a.ty, a.value.clone());
    }
    if let Origin::Generate { material, .. } | Origin::Unwrap { material } = &origin {
        for a in material {
            if obj.get(a.ty).is_some_and(|v| *v != a.value) {
                return Err(Error::TemplateInconsistent);
            }
            obj.set(a.ty, a.value.clone());
        }
    }
    let value_len_ok = |v: &[u8]| obj.ulong(CKA_VALUE_LEN).is_none_or(|n| n as usize == v.len());
    if let Some(v) = obj.bytes(CKA_VALUE)
        && matches!(origin, Origin::Generate { .. } | Origin::Unwrap { .. })
        && !value_len_ok(v)
    {
        return Err(Error::TemplateInconsistent);
    }
    match &origin {
        Origin::Derive { value, .. } => {
            if let Some(n) = obj.ulong(CKA_VALUE_LEN)
                && n as usize != value.len()
            {
                return Err(Error::TemplateInconsistent);
            }
            obj.set(CKA_VALUE, Value::Bytes(value.clone()));
        }
        Origin::Create | Origin::Generate { .. } | Origin::Unwrap { .. } | Origin::PublicFromPrivate { .. } => {}
    }
    // Absent attributes get their defaults, or computed values; the schema's ascending order
    // gives them in order, to be merged in at once.
    let is_key = matches!(class, CKO_SECRET_KEY | CKO_PRIVATE_KEY);
    let local = matches!(origin, Origin::Generate { .. });
    if schema.rules().iter().any(|r| r.flags & required != 0 && obj.get(r.ty).is_none()) {
        return Err(Error::TemplateIncomplete);
    }
    // A key's CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE: imported and unwrapped material
    // was known outside the token; generated material never was; derived material inherits
    // what its base key guarantees. Each also needs the key's own flag, as given or by
    // default (both come before them in the schema's order, so they are filled with them).
    let (always, never) = match &origin {
        Origin::Create | Origin::Unwrap { .. } | Origin::PublicFromPrivate { .. } => (false, false),
        Origin::Generate { .. } => (true, true),
        Origin::Derive { base_always_sensitive, base_never_extractable, .. } => {
            (*base_always_sensitive, *base_never_extractable)
        }
    };
    let flag_or_default = |ty| match obj.get(ty) {
        Some(v) => *v == Value::Bool(true),
        None => matches!(schema.rule(ty).map(|r| r.default), Some(Fill::Bool(true))),
    };
    let always_sensitive = is_key && always && flag_or_default(CKA_SENSITIVE);
    let never_extractable = is_key && never && !flag_or_default(CKA_EXTRACTABLE);
    // Computed attributes filled here; the others are set by `finish`.
    let computed_here = |ty| {
        matches!(ty, CKA_PRIVATE | CKA_UNIQUE_ID | CKA_LOCAL | CKA_KEY_GEN_MECHANISM)
            || (is_key && matches!(ty, CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE))
    };
    let fills = |rule: &attr::Rule| match rule.default {
        Fill::None => false,
        Fill::Computed => computed_here(rule.ty),
        _ => true,
    };
    obj.fill_absent(schema.rules(), fills, |rule| match (rule.default, rule.ty) {
        (Fill::Computed, CKA_PRIVATE) => Value::Bool(is_key),
        (Fill::Computed, CKA_UNIQUE_ID) => Value::bytes(unique_id.as_bytes()),
        (Fill::Computed, CKA_LOCAL) => Value::Bool(local),
        (Fill::Computed, CKA_KEY_GEN_MECHANISM) => Value::Ulong(match &origin {
            Origin::Generate { mechanism, .. } => *mechanism,
            Origin::PublicFromPrivate { key_gen_mechanism } => *key_gen_mechanism,
            _ => CK_UNAVAILABLE_INFORMATION,
        }),
        (Fill::Computed, CKA_ALWAYS_SENSITIVE) => Value::Bool(always_sensitive),
        (Fill::Computed, CKA_NEVER_EXTRACTABLE) => Value::Bool(never_extractable),
        (d, _) => d.value().expect("`fills` admits constant defaults and the computed ones above"),
    });
    Ok(obj)
}

/// The CKA_VALUE length, in bytes, of a secret key type that has only one (DES, Triple DES,
/// ChaCha20, Poly1305).
pub fn fixed_value_len(key_type: CK_KEY_TYPE) -> Option<usize> {
    match key_type {
        CKK_DES => Some(8),
        CKK_DES2 => Some(16),
        CKK_DES3 => Some(24),
        CKK_CHACHA20 | CKK_POLY1305 => Some(32),
        _ => None,
    }
}

/// Whether a secret key of `key_type` may have a CKA_VALUE of `len` bytes: AES 16, 24 or 32,
/// a type with one length ([`fixed_value_len`]) that one, any other at least one byte.
pub fn value_len_ok(key_type: CK_KEY_TYPE, len: usize) -> bool {
    match key_type {
        CKK_AES => matches!(len, 16 | 24 | 32),
        CKK_AES_XTS => matches!(len, 32 | 64),
        kt => fixed_value_len(kt).map_or(len >= 1, |n| len == n),
    }
}

/// Class-specific value checks shared by creation, modification and copy.
fn validate(obj: &Object, actor: Actor) -> Result<()> {
    if obj.flag(CKA_EXTRACTABLE) && !actor.allow_extractable {
        return Err(Error::AttributeValueInvalid);
    }
    match (obj.class(), obj.ulong(CKA_KEY_TYPE)) {
        (CKO_SECRET_KEY, Some(kt)) => {
            let value = obj.bytes(CKA_VALUE).unwrap_or_default();
            if !value_len_ok(kt, value.len()) {
                return Err(Error::AttributeValueInvalid);
            }
            // An XTS key of two equal AES keys: SP 800-38E (and FIPS 140-3) forbid it.
            if kt == CKK_AES_XTS {
                let (k1, k2) = value.split_at(value.len() / 2);
                if bool::from(subtle::ConstantTimeEq::ct_eq(k1, k2)) {
                    return Err(Error::AttributeValueInvalid);
                }
            }
        }
        (CKO_CERTIFICATE, _) if obj.ulong(CKA_CERTIFICATE_CATEGORY).is_some_and(|c| c > 3) => {
            return Err(Error::AttributeValueInvalid);
        }
        (CKO_TRUST, _) => validate_trust(obj)?,
        // CKA_ALWAYS_AUTHENTICATE "may only be set to CK_TRUE when CKA_PRIVATE is also
        // CK_TRUE" (private key objects).
        (CKO_PRIVATE_KEY, _) if obj.flag(CKA_ALWAYS_AUTHENTICATE) && !obj.flag(CKA_PRIVATE) => {
            return Err(Error::TemplateInconsistent);
        }
        _ => {}
    }
    Ok(())
}

/// A trust object's values: each a CK_TRUST, and the certificate's hash given whenever a
/// usage is trusted (or must be verified): only CKT_TRUST_UNKNOWN and CKT_NOT_TRUSTED may go
/// without one (§4.7, note 2). Without it creation is CKR_TEMPLATE_INCOMPLETE, a change
/// CKR_TEMPLATE_INCONSISTENT.
fn validate_trust(obj: &Object) -> Result<()> {
    let mut needs_hash = false;
    for ty in attr::TRUST_USAGES {
        match obj.ulong(ty).map(|v| v as u32) {
            None | Some(CKT_TRUST_UNKNOWN | CKT_NOT_TRUSTED) => {}
            Some(CKT_TRUSTED | CKT_TRUST_ANCHOR | CKT_TRUST_MUST_VERIFY_TRUST) => needs_hash = true,
            Some(_) => return Err(Error::AttributeValueInvalid),
        }
    }
    let hashed = obj.bytes(CKA_HASH_OF_CERTIFICATE).is_some_and(|h| !h.is_empty());
    if needs_hash && !hashed {
        return Err(Error::TemplateIncomplete);
    }
    Ok(())
}

/// [`validate`] after a change: what a change lacks is an inconsistency (C_SetAttributeValue
/// and C_CopyObject have no CKR_TEMPLATE_INCOMPLETE).
fn validate_change(obj: &Object, actor: Actor) -> Result<()> {
    validate(obj, actor).map_err(|e| match e {
        Error::TemplateIncomplete => Error::TemplateInconsistent,
        e => e,
    })
}

/// Fills attributes derived from others after a change (CKA_VALUE_LEN).
fn recompute(obj: &mut Object) {
    if obj.class() == CKO_SECRET_KEY
        && let Some(n) = obj.bytes(CKA_VALUE).map(|v| v.len())
    {
        obj.set(CKA_VALUE_LEN, Value::Ulong(n as CK_ULONG));
    }
}

/// Finishes an object built by [`create`] (or by a mechanism): computed lengths.
pub fn finish(mut obj: Object) -> Object {
    recompute(&mut obj);
    obj
}

/// Checks one attribute change against the rules; `copy` relaxes the storage flags that
/// C_CopyObject may set.
fn check_change(obj: &Object, a: &Attribute, actor: Actor, copy: bool) -> Result<()> {
    let rule = schema_of(obj).rule(a.ty).ok_or(Error::AttributeTypeInvalid)?;
    let cur = obj.get(a.ty);
    let copy_flag = copy && matches!(a.ty, CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_DESTROYABLE | CKA_COPYABLE);
    if !copy_flag && rule.flags & MODIFIABLE == 0 {
        return Err(Error::AttributeReadOnly);
    }
    if copy && a.ty == CKA_MODIFIABLE && a.value == Value::Bool(true) && !obj.flag(CKA_MODIFIABLE) {
        return Err(Error::AttributeReadOnly);
    }
    // Nor may a copy make a private object public: its copy would outlive the login and
    // serve anyone (the token may restrict copies so, §4.1.3; SoftHSMv2 does too).
    if copy && a.ty == CKA_PRIVATE && a.value == Value::Bool(false) && obj.flag(CKA_PRIVATE) {
        return Err(Error::AttributeReadOnly);
    }
    if rule.flags & STICKY_TRUE != 0 && cur == Some(&Value::Bool(true)) && a.value != Value::Bool(true) {
        return Err(Error::AttributeReadOnly);
    }
    if rule.flags & STICKY_FALSE != 0 && cur == Some(&Value::Bool(false)) && a.value != Value::Bool(false) {
        return Err(Error::AttributeReadOnly);
    }
    if rule.flags & SO_ONLY_TRUE != 0 && a.value == Value::Bool(true) && !actor.so {
        return Err(Error::AttributeReadOnly);
    }
    Ok(())
}

/// The object after C_SetAttributeValue with `template`; all or nothing.
pub fn set_attributes(obj: &Object, template: &[Attribute], actor: Actor) -> Result<Object> {
    if !obj.flag(CKA_MODIFIABLE) {
        return Err(Error::ActionProhibited);
    }
    check_duplicates(template)?;
    let mut new = obj.clone();
    for a in template {
        check_change(obj, a, actor, false)?;
        new.set(a.ty, a.value.clone());
    }
    recompute(&mut new);
    validate_change(&new, actor)?;
    Ok(new)
}

/// The object C_CopyObject makes from `obj` with `template`, under a new `unique_id`.
pub fn copy(obj: &Object, template: &[Attribute], actor: Actor, unique_id: &str) -> Result<Object> {
    if !obj.flag(CKA_COPYABLE) {
        return Err(Error::ActionProhibited);
    }
    check_duplicates(template)?;
    let mut new = obj.clone();
    for a in template {
        let storage_flag = matches!(a.ty, CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_DESTROYABLE | CKA_COPYABLE);
        if !storage_flag && !obj.flag(CKA_MODIFIABLE) {
            return Err(Error::AttributeReadOnly);
        }
        check_change(obj, a, actor, true)?;
        new.set(a.ty, a.value.clone());
    }
    new.set(CKA_UNIQUE_ID, Value::bytes(unique_id.as_bytes()));
    recompute(&mut new);
    validate_change(&new, actor)?;
    Ok(new)
}

/// Whether attribute `ty` of `obj` may be revealed (footnote 7).
pub fn reveal(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Reveal<'_> {
    let Some(v) = obj.get(ty) else {
        // Key material left out for want of a login cannot be revealed now.
        return if obj.withheld() && is_key_material(obj, ty) { Reveal::Sensitive } else { Reveal::Invalid };
    };
    if is_sensitive(obj, ty) {
        return Reveal::Sensitive;
    }
    Reveal::Value(v)
}

/// Attribute `ty` of `obj` is currently unrevealable.
pub fn is_sensitive(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> bool {
    is_key_material(obj, ty) && (obj.flag(CKA_SENSITIVE) || !obj.flag(CKA_EXTRACTABLE))
}

/// Attribute `ty` of `obj` holds key material (footnote 7), whatever the flags say now: the
/// store seals it even in a public object.
pub fn is_key_material(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> bool {
    schema_of(obj).rule(ty).is_some_and(|r| r.flags & SENSITIVE != 0)
}

/// Whether `obj` has every attribute of `template` with the same value, sensitive ones
/// included (CKA_WRAP_TEMPLATE checks, made inside the token).
pub fn has_all(obj: &Object, template: &[Attribute]) -> bool {
    template.iter().all(|a| obj.get(a.ty) == Some(&a.value))
}

/// Merges a key's CKA_UNWRAP_TEMPLATE or CKA_DERIVE_TEMPLATE into a caller's template:
/// a conflicting value is CKR_TEMPLATE_INCONSISTENT; missing attributes are added.
pub fn merge_template(template: &[Attribute], imposed: &[Attribute]) -> Result<Vec<Attribute>> {
    let mut out = template.to_vec();
    for a in imposed {
        match template.iter().find(|t| t.ty == a.ty) {
            Some(t) if t.value != a.value => return Err(Error::TemplateInconsistent),
            Some(_) => {}
            None => out.push(a.clone()),
        }
    }
    Ok(out)
}

/// C_FindObjects matching: every template attribute is present, revealable and equal.
/// A sensitive attribute never matches, so a search cannot probe key values.
pub fn matches(obj: &Object, template: &[Attribute]) -> bool {
    template.iter().all(|a| matches!(reveal(obj, a.ty), Reveal::Value(v) if *v == a.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Actor = Actor { so: false, allow_extractable: true };

    fn aes(extra: &[Attribute]) -> Result<Object> {
        let mut t = vec![
            Attribute::new(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY)),
            Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_AES)),
            Attribute::new(CKA_VALUE, Value::bytes(vec![7u8; 16])),
        ];
        t.extend_from_slice(extra);
        create(&t, USER, "uid").map(finish)
    }

    #[test]
    fn secret_key_defaults() {
        let k = aes(&[]).unwrap();
        assert!(k.flag(CKA_SENSITIVE) && !k.flag(CKA_EXTRACTABLE) && k.is_private());
        assert!(!k.flag(CKA_ALWAYS_SENSITIVE) && !k.flag(CKA_NEVER_EXTRACTABLE));
        assert!(k.flag(CKA_ENCRYPT) && k.flag(CKA_SIGN) && k.flag(CKA_DERIVE));
        assert_eq!(k.ulong(CKA_VALUE_LEN), Some(16));
        assert!(matches!(reveal(&k, CKA_VALUE), Reveal::Sensitive));
        assert!(matches!(reveal(&k, CKA_MODULUS), Reveal::Invalid));
    }

    /// A key stored before its kind gained an attribute (RSA keys' CKA_ENCAPSULATE, added in
    /// the session of 2026-12-02) is read back without it, and C_SetAttributeValue gives it.
    #[test]
    fn attributes_a_stored_key_predates_can_be_set() {
        let bytes = |ty, v: &[u8]| Attribute::new(ty, Value::bytes(v.to_vec()));
        let t = [
            Attribute::new(CKA_CLASS, Value::Ulong(CKO_PUBLIC_KEY)),
            Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_RSA)),
            bytes(CKA_MODULUS, &[0xc5; 128]),
            bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
        ];
        let made = create(&t, USER, "uid").map(finish).unwrap();
        assert!(made.flag(CKA_ENCAPSULATE));
        let old: Object =
            made.iter().filter(|(ty, _)| **ty != CKA_ENCAPSULATE).map(|(ty, v)| (*ty, v.clone())).collect();
        assert_eq!(old.get(CKA_ENCAPSULATE), None);
        let set = set_attributes(&old, &[Attribute::new(CKA_ENCAPSULATE, Value::Bool(true))], USER).unwrap();
        assert!(set.flag(CKA_ENCAPSULATE));
    }

    /// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE of a generated key follow its own
    /// flags, given or by default; an imported key has neither.
    #[test]
    fn generated_keys_always_sensitive_and_never_extractable() {
        let generated = |extra: &[Attribute]| {
            let origin = Origin::Generate {
                class: CKO_SECRET_KEY,
                key_type: CKK_AES,
                mechanism: CKM_AES_KEY_GEN,
                material: vec![Attribute::new(CKA_VALUE, Value::bytes(vec![7u8; 16]))],
            };
            let mut t = vec![Attribute::new(CKA_VALUE_LEN, Value::Ulong(16))];
            t.extend_from_slice(extra);
            let k = build(&t, USER, "uid", origin).map(finish).unwrap();
            (k.flag(CKA_ALWAYS_SENSITIVE), k.flag(CKA_NEVER_EXTRACTABLE), k.get(CKA_ALWAYS_SENSITIVE).is_some())
        };
        let b = |ty, v| Attribute::new(ty, Value::Bool(v));
        assert_eq!(generated(&[]), (true, true, true));
        assert_eq!(generated(&[b(CKA_SENSITIVE, false)]), (false, true, true));
        assert_eq!(generated(&[b(CKA_EXTRACTABLE, true)]), (true, false, true));
        assert_eq!(generated(&[b(CKA_SENSITIVE, false), b(CKA_EXTRACTABLE, true)]), (false, false, true));
        let imported = aes(&[]).unwrap();
        assert_eq!(imported.get(CKA_ALWAYS_SENSITIVE), Some(&Value::Bool(false)));
        assert_eq!(imported.get(CKA_NEVER_EXTRACTABLE), Some(&Value::Bool(false)));
    }

    #[test]
    fn create_errors() {
        assert!(matches!(aes(&[Attribute::new(CKA_VALUE_LEN, Value::Ulong(16))]), Err(Error::AttributeReadOnly)));
        assert!(matches!(aes(&[Attribute::new(CKA_LOCAL, Value::Bool(true))]), Err(Error::AttributeReadOnly)));
        assert!(matches!(aes(&[Attribute::new(CKA_MODULUS, Value::bytes(vec![1]))]), Err(Error::AttributeTypeInvalid)));
        assert!(matches!(aes(&[Attribute::new(CKA_TRUSTED, Value::Bool(true))]), Err(Error::AttributeReadOnly)));
        assert!(matches!(
            aes(&[Attribute::new(CKA_SENSITIVE, Value::Bool(true)), Attribute::new(CKA_SENSITIVE, Value::Bool(false))]),
            Err(Error::TemplateInconsistent)
        ));
        let short = [
            Attribute::new(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY)),
            Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_AES)),
            Attribute::new(CKA_VALUE, Value::bytes(vec![7u8; 15])),
        ];
        assert!(matches!(create(&short, USER, "u"), Err(Error::AttributeValueInvalid)));
        assert!(matches!(create(&short[..2], USER, "u"), Err(Error::TemplateIncomplete)));
        assert!(matches!(create(&short[1..], USER, "u"), Err(Error::TemplateIncomplete)));
        let no_ext = Actor { so: false, allow_extractable: false };
        let ext = [
            &short[..2],
            &[Attribute::new(CKA_VALUE, Value::bytes(vec![1; 16])), Attribute::new(CKA_EXTRACTABLE, Value::Bool(true))],
        ]
        .concat();
        assert!(matches!(create(&ext, no_ext, "u"), Err(Error::AttributeValueInvalid)));
    }

    #[test]
    fn one_way_transitions() {
        let k = aes(&[
            Attribute::new(CKA_SENSITIVE, Value::Bool(false)),
            Attribute::new(CKA_EXTRACTABLE, Value::Bool(true)),
        ])
        .unwrap();
        assert!(matches!(reveal(&k, CKA_VALUE), Reveal::Value(_)));
        let k2 = set_attributes(&k, &[Attribute::new(CKA_SENSITIVE, Value::Bool(true))], USER).unwrap();
        assert!(matches!(
            set_attributes(&k2, &[Attribute::new(CKA_SENSITIVE, Value::Bool(false))], USER),
            Err(Error::AttributeReadOnly)
        ));
        assert!(!k2.flag(CKA_ALWAYS_SENSITIVE));
        let k3 = set_attributes(&k, &[Attribute::new(CKA_EXTRACTABLE, Value::Bool(false))], USER).unwrap();
        assert!(matches!(
            set_attributes(&k3, &[Attribute::new(CKA_EXTRACTABLE, Value::Bool(true))], USER),
            Err(Error::AttributeReadOnly)
        ));
        assert!(matches!(reveal(&k3, CKA_VALUE), Reveal::Sensitive));
        assert!(matches!(
            set_attributes(&k, &[Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_AES))], USER),
            Err(Error::AttributeReadOnly)
        ));
        let ro = aes(&[Attribute::new(CKA_MODIFIABLE, Value::Bool(false))]).unwrap();
        assert!(matches!(
            set_attributes(&ro, &[Attribute::new(CKA_LABEL, Value::bytes(b"x".to_vec()))], USER),
            Err(Error::ActionProhibited)
        ));
    }

    #[test]
    fn copy_rules() {
        let k = aes(&[]).unwrap();
        let c = copy(&k, &[Attribute::new(CKA_TOKEN, Value::Bool(true))], USER, "u2").unwrap();
        assert!(c.is_token());
        assert_eq!(c.unique_id(), "u2");
        assert!(matches!(
            copy(&k, &[Attribute::new(CKA_EXTRACTABLE, Value::Bool(true))], USER, "u3"),
            Err(Error::AttributeReadOnly)
        ));
        let nc = aes(&[Attribute::new(CKA_COPYABLE, Value::Bool(false))]).unwrap();
        assert!(matches!(copy(&nc, &[], USER, "u4"), Err(Error::ActionProhibited)));
    }

    #[test]
    fn sensitive_values_never_match() {
        let k = aes(&[]).unwrap();
        assert!(!matches(&k, &[Attribute::new(CKA_VALUE, Value::bytes(vec![7u8; 16]))]));
        assert!(matches(&k, &[Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_AES))]));
    }
}
