//! Objects: typed attribute values, the attribute table (`attr`), and the creation,
//! modification, copy and disclosure rules (`policy`) of PKCS#11 §4 and DESIGN §4.

pub mod attr;
pub mod policy;

use crate::error::{Error, Result};
use cryptoki_sys::*;
use std::any::Any;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// Byte strings in attributes are zeroized when dropped: any of them may be key material.
pub use crate::secret::Bytes;

/// A typed attribute value. The shape of each attribute type comes from [`attr::kind_of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Ulong(CK_ULONG),
    Bytes(Bytes),
    /// An array of mechanism types (CKA_ALLOWED_MECHANISMS).
    MechList(Vec<CK_MECHANISM_TYPE>),
    /// An attribute array (CKA_WRAP_TEMPLATE and friends).
    Template(Vec<Attribute>),
}

impl Value {
    /// A byte-string value.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(Bytes::new(b.into()))
    }
}

/// One attribute: type and typed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub value: Value,
}

impl Attribute {
    pub fn new(ty: CK_ATTRIBUTE_TYPE, value: Value) -> Attribute {
        Attribute { ty, value }
    }
}

/// An object: its attributes, keyed by type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    /// Sorted by type, each type once. An object has a few dozen attributes: a sorted vector
    /// is one allocation to build, clone and drop, where a B-tree is one per node.
    attrs: Vec<(CK_ATTRIBUTE_TYPE, Value)>,
    prepared: Prepared,
    /// Key material the store seals even in a public object was left out: the object was
    /// loaded without the token's master key (nobody logged in). It can be found and read
    /// but not used, copied or changed.
    withheld: bool,
}

/// How many kinds of prepared key an object can hold (see [`Object::prepared`]).
pub const PREPARED_SLOTS: usize = 8;

/// The object's key in forms made ready for use (an expanded AES key, HMAC pads already
/// hashed) and the summary of its usage attributes, made on first use and dropped with the
/// object. Never copied, compared or stored: a clone starts empty, and any change empties it.
#[derive(Default)]
struct Prepared {
    slots: [OnceLock<Box<dyn Any + Send + Sync>>; PREPARED_SLOTS],
    key_use: OnceLock<KeyUse>,
}

/// What the checks of every C_*Init read of a key object, gathered on first use (an object
/// behind an `Arc` never changes; a changed copy starts afresh).
#[derive(Clone, Copy, Debug)]
pub struct KeyUse {
    pub class: CK_OBJECT_CLASS,
    pub key_type: Option<CK_KEY_TYPE>,
    /// One bit per attribute of [`USAGE_ATTRS`].
    usage: u16,
    pub always_authenticate: bool,
    /// Length of CKA_VALUE (0 when absent).
    pub value_len: usize,
    /// A CKA_ALLOWED_MECHANISMS (an empty one too) limits the key's mechanisms.
    pub restricted: bool,
    /// CKA_PRIVATE (for the visibility check of every C_*Init).
    pub private: bool,
}

/// The usage attributes [`KeyUse`] keeps as bits.
const USAGE_ATTRS: [CK_ATTRIBUTE_TYPE; 9] = [
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_SIGN_RECOVER,
    CKA_VERIFY_RECOVER,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
];

impl KeyUse {
    fn of(obj: &Object) -> KeyUse {
        let usage = USAGE_ATTRS.iter().enumerate().fold(0u16, |m, (i, &a)| m | (u16::from(obj.flag(a)) << i));
        KeyUse {
            class: obj.class(),
            key_type: obj.ulong(CKA_KEY_TYPE),
            usage,
            always_authenticate: obj.flag(CKA_ALWAYS_AUTHENTICATE),
            value_len: obj.bytes(CKA_VALUE).map_or(0, <[u8]>::len),
            restricted: obj.get(CKA_ALLOWED_MECHANISMS).is_some(),
            private: obj.is_private(),
        }
    }

    /// Whether the boolean attribute `usage` (one of the usage attributes) is true.
    pub fn allows(&self, usage: CK_ATTRIBUTE_TYPE) -> Option<bool> {
        USAGE_ATTRS.iter().position(|&a| a == usage).map(|i| self.usage & (1 << i) != 0)
    }
}

impl Clone for Prepared {
    fn clone(&self) -> Prepared {
        Prepared::default()
    }
}

impl PartialEq for Prepared {
    fn eq(&self, _: &Prepared) -> bool {
        true
    }
}

impl Eq for Prepared {}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared")
    }
}

impl Prepared {
    /// Drops every prepared form (without making a new, empty set).
    fn clear(&mut self) {
        for s in &mut self.slots {
            s.take();
        }
        self.key_use.take();
    }
}

impl Object {
    fn find(&self, ty: CK_ATTRIBUTE_TYPE) -> std::result::Result<usize, usize> {
        self.attrs.binary_search_by_key(&ty, |(t, _)| *t)
    }

    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
        self.find(ty).ok().map(|i| &self.attrs[i].1)
    }

    /// Whether sealed key material was left out when the object was loaded (see the field).
    pub fn withheld(&self) -> bool {
        self.withheld
    }

    /// Marks the object as loaded without its sealed key material.
    pub fn mark_withheld(&mut self) {
        self.withheld = true;
    }

    /// CKR_USER_NOT_LOGGED_IN when the object's key material was left out: using, copying or
    /// changing it needs the master key, which only a login unlocks.
    pub fn material(&self) -> crate::error::Result<()> {
        if self.withheld { Err(crate::error::Error::UserNotLoggedIn) } else { Ok(()) }
    }

    pub fn set(&mut self, ty: CK_ATTRIBUTE_TYPE, v: Value) {
        self.prepared.clear();
        match self.find(ty) {
            Ok(i) => self.attrs[i].1 = v,
            Err(i) => self.attrs.insert(i, (ty, v)),
        }
    }

    /// Adds, in one pass, a value for each rule's attribute the object lacks and `fills`
    /// (the others stay absent): what `value_of` gives for the rule. `rules` ascend by type.
    pub fn fill_absent(
        &mut self,
        rules: &[attr::Rule],
        fills: impl Fn(&attr::Rule) -> bool,
        mut value_of: impl FnMut(&attr::Rule) -> Value,
    ) {
        self.prepared.clear();
        let mut merged = Vec::with_capacity(self.attrs.len() + rules.len());
        let mut given = std::mem::take(&mut self.attrs).into_iter();
        // Every pair is written where it goes, never through a temporary: the given ones
        // are looked at in place (`as_slice`) and moved by `extend` (which reserves, then
        // moves each straight in), the defaults made by the closure `extend` calls once
        // room is known. A pair built or moved on the stack and then copied in is a wide
        // reload of narrow stores, which stalls on store forwarding (~30 cycles per
        // attribute here: a third of building a key, before).
        for rule in rules {
            let before = given.as_slice().iter().take_while(|(t, _)| *t < rule.ty).count();
            merged.extend(given.by_ref().take(before));
            if given.as_slice().first().is_some_and(|(t, _)| *t == rule.ty) {
                merged.extend(given.by_ref().take(1));
            } else if fills(rule) {
                merged.extend(std::iter::once_with(|| (rule.ty, value_of(rule))));
            }
        }
        merged.extend(given);
        self.attrs = merged;
    }

    /// The attributes every C_*Init checks, gathered once.
    pub fn key_use(&self) -> KeyUse {
        *self.prepared.key_use.get_or_init(|| KeyUse::of(self))
    }

    /// The key prepared for use as `T` in `slot` (each slot holds one type), made by `make`
    /// on first use and kept with the object; `None` when `make` cannot prepare it.
    pub fn prepared<T: Any + Send + Sync>(&self, slot: usize, make: impl FnOnce() -> Option<T>) -> Option<&T> {
        let cell = self.prepared.slots.get(slot)?;
        if cell.get().is_none() {
            // A racing thread may store its own first: either is good, the stored one is used.
            let _ = cell.set(Box::new(make()?));
        }
        cell.get()?.downcast_ref::<T>()
    }

    /// The attributes in ascending order of type.
    pub fn iter(&self) -> impl Iterator<Item = (&CK_ATTRIBUTE_TYPE, &Value)> {
        self.attrs.iter().map(|(t, v)| (t, v))
    }

    /// A boolean attribute; absent or non-boolean is `false`.
    pub fn flag(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        matches!(self.get(ty), Some(Value::Bool(true)))
    }

    pub fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
        match self.get(ty) {
            Some(Value::Ulong(u)) => Some(*u),
            _ => None,
        }
    }

    pub fn bytes(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        match self.get(ty) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    pub fn class(&self) -> CK_OBJECT_CLASS {
        self.ulong(CKA_CLASS).unwrap_or(CK_UNAVAILABLE_INFORMATION)
    }

    pub fn is_token(&self) -> bool {
        self.flag(CKA_TOKEN)
    }

    pub fn is_private(&self) -> bool {
        self.flag(CKA_PRIVATE)
    }

    pub fn unique_id(&self) -> &str {
        self.bytes(CKA_UNIQUE_ID).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.attrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// Approximate size in bytes (C_GetObjectSize).
    pub fn size(&self) -> usize {
        self.attrs.iter().map(|(_, v)| 16 + encode_value(v).len()).sum()
    }
}

/// Of repeated types, the last value counts (as with [`Object::set`]).
impl FromIterator<(CK_ATTRIBUTE_TYPE, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (CK_ATTRIBUTE_TYPE, Value)>>(it: I) -> Self {
        let mut attrs: Vec<_> = it.into_iter().collect();
        // Reversed, then a stable sort: of equal types the last given comes first, and stays.
        attrs.reverse();
        attrs.sort_by_key(|(t, _)| *t);
        attrs.dedup_by_key(|(t, _)| *t);
        Object { attrs, prepared: Prepared::default(), withheld: false }
    }
}

// ---- canonical encoding (store records and index digests) ----
//
// value := tag(u8) payload
//   0 Bool: one byte 0/1;  1 Ulong: u64 LE;  2 Bytes: raw;  3 MechList: u64 LE each;
//   4 Template: sequence of (u64 LE type, u32 LE length, value)

const TAG_BOOL: u8 = 0;
const TAG_ULONG: u8 = 1;
const TAG_BYTES: u8 = 2;
const TAG_MECHS: u8 = 3;
const TAG_TEMPLATE: u8 = 4;

/// Encodes a value canonically; equal values give equal bytes.
pub fn encode_value(v: &Value) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    match v {
        Value::Bool(b) => out.extend_from_slice(&[TAG_BOOL, *b as u8]),
        Value::Ulong(u) => {
            out.push(TAG_ULONG);
            out.extend_from_slice(&(*u as u64).to_le_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            out.extend_from_slice(b);
        }
        Value::MechList(m) => {
            out.push(TAG_MECHS);
            for x in m {
                out.extend_from_slice(&(*x as u64).to_le_bytes());
            }
        }
        Value::Template(t) => {
            out.push(TAG_TEMPLATE);
            for a in t {
                let e = encode_value(&a.value);
                out.extend_from_slice(&(a.ty as u64).to_le_bytes());
                out.extend_from_slice(&(e.len() as u32).to_le_bytes());
                out.extend_from_slice(&e);
            }
        }
    }
    out
}

/// Decodes what [`encode_value`] made.
pub fn decode_value(b: &[u8]) -> Result<Value> {
    decode_nested(b, 0)
}

/// Templates nest one level in PKCS#11 (CKA_WRAP_TEMPLATE and friends); a record claiming
/// more is corrupt, and must not exhaust the stack.
const MAX_TEMPLATE_DEPTH: u32 = 4;

fn decode_nested(b: &[u8], depth: u32) -> Result<Value> {
    let bad = || Error::Corrupt("attribute encoding".into());
    let (&tag, rest) = b.split_first().ok_or_else(bad)?;
    Ok(match tag {
        TAG_BOOL => match rest {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            _ => return Err(bad()),
        },
        TAG_ULONG => Value::Ulong(u64::from_le_bytes(rest.try_into().map_err(|_| bad())?) as CK_ULONG),
        TAG_BYTES => Value::bytes(rest),
        TAG_MECHS => {
            if rest.len() % 8 != 0 {
                return Err(bad());
            }
            Value::MechList(
                rest.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as CK_ULONG).collect(),
            )
        }
        TAG_TEMPLATE => {
            let mut t = Vec::new();
            let mut r = rest;
            while !r.is_empty() {
                if r.len() < 12 {
                    return Err(bad());
                }
                let ty = u64::from_le_bytes(r[..8].try_into().expect("8 bytes")) as CK_ULONG;
                let n = u32::from_le_bytes(r[8..12].try_into().expect("4 bytes")) as usize;
                let v = r.get(12..12 + n).ok_or_else(bad)?;
                if depth >= MAX_TEMPLATE_DEPTH {
                    return Err(bad());
                }
                t.push(Attribute::new(ty, decode_nested(v, depth + 1)?));
                r = &r[12 + n..];
            }
            Value::Template(t)
        }
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_roundtrip() {
        let vals = [
            Value::Bool(true),
            Value::Ulong(0xdead_beef),
            Value::bytes(b"abc".to_vec()),
            Value::bytes(Vec::new()),
            Value::MechList(vec![CKM_AES_GCM, CKM_SHA256]),
            Value::Template(vec![
                Attribute::new(CKA_ENCRYPT, Value::Bool(false)),
                Attribute::new(CKA_LABEL, Value::bytes(b"x".to_vec())),
            ]),
        ];
        for v in vals {
            assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
        }
        assert!(decode_value(&[]).is_err());
        assert!(decode_value(&[TAG_BOOL, 7]).is_err());
        assert!(decode_value(&[TAG_TEMPLATE, 1, 2]).is_err());
    }

    #[test]
    fn attributes_stay_sorted_and_unique() {
        let mut o = Object::default();
        for (ty, v) in [(CKA_LABEL, 1u8), (CKA_CLASS, 2), (CKA_VALUE, 3), (CKA_LABEL, 4), (CKA_TOKEN, 5)] {
            o.set(ty, Value::bytes(vec![v]));
        }
        let got: Vec<_> = o.iter().map(|(t, v)| (*t, v.clone())).collect();
        let want = [(CKA_CLASS, 2u8), (CKA_TOKEN, 5), (CKA_LABEL, 4), (CKA_VALUE, 3)];
        assert_eq!(got, want.map(|(t, v)| (t, Value::bytes(vec![v]))));
        assert_eq!(o.len(), 4);
        assert_eq!(o.get(CKA_ID), None);
        // Collected: in any order, of repeated types the last given wins.
        let c: Object =
            [(CKA_VALUE, 1u8), (CKA_LABEL, 9), (CKA_VALUE, 3), (CKA_CLASS, 2), (CKA_LABEL, 4), (CKA_TOKEN, 5)]
                .map(|(t, v)| (t, Value::bytes(vec![v])))
                .into_iter()
                .collect();
        assert_eq!(c, o);
        // Set one by one: in order (replacing one), and out of order.
        for (t, v) in [
            (CKA_PRIVATE, 6u8),
            (CKA_VALUE, 7),
            (CKA_ID, 8),
            (CKA_SUBJECT, 9),
            (CKA_APPLICATION, 10),
            (CKA_SUBJECT, 11),
        ] {
            o.set(t, Value::bytes(vec![v]));
        }
        let got: Vec<_> = o.iter().map(|(t, v)| (*t, v.clone())).collect();
        let want = [
            (CKA_CLASS, 2u8),
            (CKA_TOKEN, 5),
            (CKA_PRIVATE, 6),
            (CKA_LABEL, 4),
            (CKA_APPLICATION, 10),
            (CKA_VALUE, 7),
            (CKA_SUBJECT, 11),
            (CKA_ID, 8),
        ];
        assert_eq!(got, want.map(|(t, v)| (t, Value::bytes(vec![v]))));
    }

    #[test]
    fn fill_absent_keeps_what_is_there() {
        use attr::{Fill, Rule};
        let mut o = Object::default();
        o.set(CKA_TOKEN, Value::Bool(true));
        o.set(CKA_ID, Value::bytes(b"i".to_vec()));
        let rules = [CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_ID, CKA_START_DATE].map(|ty| Rule {
            ty,
            flags: 0,
            default: Fill::None,
        });
        let mut asked = Vec::new();
        o.fill_absent(
            &rules,
            |r| r.ty != CKA_VALUE,
            |r| {
                asked.push(r.ty);
                Value::Ulong(r.ty)
            },
        );
        assert_eq!(asked, [CKA_CLASS, CKA_LABEL, CKA_START_DATE]);
        let got: Vec<_> = o.iter().map(|(t, v)| (*t, v.clone())).collect();
        assert_eq!(
            got,
            [
                (CKA_CLASS, Value::Ulong(CKA_CLASS)),
                (CKA_TOKEN, Value::Bool(true)),
                (CKA_LABEL, Value::Ulong(CKA_LABEL)),
                (CKA_ID, Value::bytes(b"i".to_vec())),
                (CKA_START_DATE, Value::Ulong(CKA_START_DATE)),
            ]
        );
    }

    #[test]
    fn a_change_drops_prepared_forms() {
        let mut o = Object::default();
        o.set(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY));
        o.set(CKA_ENCRYPT, Value::Bool(false));
        assert_eq!(o.prepared(0, || Some(7u32)), Some(&7));
        assert_eq!(o.key_use().allows(CKA_ENCRYPT), Some(false));
        o.set(CKA_ENCRYPT, Value::Bool(true));
        assert_eq!(o.prepared(0, || Some(8u32)), Some(&8));
        assert_eq!(o.key_use().allows(CKA_ENCRYPT), Some(true));
        assert!(!o.key_use().private);
        o.set(CKA_PRIVATE, Value::Bool(true));
        assert!(o.key_use().private);
    }
}
