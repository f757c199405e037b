//! CKM_PUB_KEY_FROM_PRIV_KEY (PKCS#11 3.2, "Public key from private key"): C_DeriveKey makes
//! the public key object of a private key. The mechanism takes no parameter and works with
//! any private key whatever its CKA_DERIVE; the new object is made as C_CreateObject would
//! make it from the caller's template, with the key's public values, the attributes the
//! specification copies from the private key (CKA_VERIFY from CKA_SIGN ...) unless the
//! template gives them, and the private key's CKA_KEY_GEN_MECHANISM.

use super::keys::{ParsedKey, der_octets};
use super::{Entry, Implementation, Mechanism, ParamShape, Registry, info, lookup};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Object, Value};
use cryptoki_sys::*;

/// The private key types whose public key can be made.
const KEY_TYPES: &[CK_KEY_TYPE] =
    &[CKK_RSA, CKK_EC, CKK_EC_EDWARDS, CKK_EC_MONTGOMERY, CKK_DSA, CKK_DH, CKK_X9_42_DH, CKK_ML_DSA, CKK_ML_KEM];

/// The attributes the public key takes from the private key, as (public, private) pairs.
const COPIED: &[(CK_ATTRIBUTE_TYPE, CK_ATTRIBUTE_TYPE)] = &[
    (CKA_ENCRYPT, CKA_DECRYPT),
    (CKA_VERIFY, CKA_SIGN),
    (CKA_VERIFY_RECOVER, CKA_SIGN_RECOVER),
    (CKA_WRAP, CKA_UNWRAP),
    (CKA_ENCAPSULATE, CKA_DECAPSULATE),
    (CKA_DERIVE, CKA_DERIVE),
    (CKA_ID, CKA_ID),
    (CKA_START_DATE, CKA_START_DATE),
    (CKA_END_DATE, CKA_END_DATE),
    (CKA_SUBJECT, CKA_SUBJECT),
    (CKA_ALLOWED_MECHANISMS, CKA_ALLOWED_MECHANISMS),
];

pub fn register(r: &mut Registry) {
    r.add(Entry {
        ty: CKM_PUB_KEY_FROM_PRIV_KEY,
        info: info(0, 0, CKF_DERIVE),
        params: ParamShape::None,
        key_types: KEY_TYPES,
        implementation: Implementation::PublicFromPrivate,
    });
}

/// Whether C_DeriveKey's mechanism is this one (it skips the usual key checks).
pub fn is_public_from_private(m: &Mechanism) -> bool {
    matches!(lookup(m.ty).map(|e| e.implementation), Some(Implementation::PublicFromPrivate))
}

fn bytes(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute::new(ty, Value::bytes(v))
}

/// The attributes that make `key`'s public key: its key type and public values.
fn public_values(obj: &Object, key: &ParsedKey) -> Result<Vec<Attribute>> {
    let copy = |ty| obj.bytes(ty).map(|v| bytes(ty, v)).ok_or(Error::KeyTypeInconsistent);
    let mut out = vec![Attribute::new(CKA_CLASS, Value::Ulong(CKO_PUBLIC_KEY))];
    let kt = obj.ulong(CKA_KEY_TYPE).ok_or(Error::KeyTypeInconsistent)?;
    out.push(Attribute::new(CKA_KEY_TYPE, Value::Ulong(kt)));
    match key {
        ParsedKey::Rsa(k) => {
            let p = k.parts();
            // A key made from its modulus and private exponent alone, whose public exponent
            // was not found, has no public key to make.
            if p.e.is_empty() {
                return Err(Error::KeyTypeInconsistent);
            }
            out.extend([bytes(CKA_MODULUS, &p.n), bytes(CKA_PUBLIC_EXPONENT, &p.e)]);
        }
        ParsedKey::Ec(k) => out.extend([copy(CKA_EC_PARAMS)?, bytes(CKA_EC_POINT, &der_octets(&k.point()))]),
        ParsedKey::Ed25519 { public, .. } | ParsedKey::X25519 { public, .. } => {
            out.extend([copy(CKA_EC_PARAMS)?, bytes(CKA_EC_POINT, &der_octets(public))]);
        }
        ParsedKey::Dsa(k) | ParsedKey::X942(k) => {
            let p = k.parts();
            out.extend([bytes(CKA_PRIME, &p.p), bytes(CKA_SUBPRIME, &p.q), bytes(CKA_BASE, &p.g)]);
            out.push(bytes(CKA_VALUE, &p.y));
        }
        ParsedKey::Dh(k) => out.extend([copy(CKA_PRIME)?, copy(CKA_BASE)?, bytes(CKA_VALUE, &k.public_value())]),
        ParsedKey::MlDsa { public, .. } | ParsedKey::MlKem { public, .. } => {
            let set = obj.ulong(CKA_PARAMETER_SET).ok_or(Error::KeyTypeInconsistent)?;
            out.extend([Attribute::new(CKA_PARAMETER_SET, Value::Ulong(set)), bytes(CKA_VALUE, public)]);
        }
    }
    Ok(out)
}

impl Module {
    /// C_DeriveKey with CKM_PUB_KEY_FROM_PRIV_KEY: the public key object of `base`.
    pub(crate) fn public_from_private(
        &self,
        h: CK_SESSION_HANDLE,
        base: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let entry: &Entry = lookup(CKM_PUB_KEY_FROM_PRIV_KEY).ok_or(Error::MechanismInvalid)?;
        let obj = self.key_object(h, base)?;
        if obj.class() != CKO_PRIVATE_KEY || !obj.ulong(CKA_KEY_TYPE).is_some_and(|t| entry.key_types.contains(&t)) {
            return Err(Error::KeyTypeInconsistent);
        }
        let key = self.parsed_key(&obj)?;
        let mut t = template.to_vec();
        for (public, private) in COPIED {
            if let Some(v) = obj.get(*private)
                && !t.iter().any(|a| a.ty == *public)
            {
                t.push(Attribute::new(*public, v.clone()));
            }
        }
        // The key's own values are not the template's to change.
        let t = policy::merge_template(&t, &public_values(&obj, &key)?)?;
        let mechanism = obj.ulong(CKA_KEY_GEN_MECHANISM).unwrap_or(CK_UNAVAILABLE_INFORMATION);
        self.create_with(h, &t, Origin::PublicFromPrivate { key_gen_mechanism: mechanism })
    }
}
