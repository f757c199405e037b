//! The IKE key derivations (the specification's "IKE Mechanisms" section): CKM_IKE_PRF_DERIVE
//! (SKEYSEED or SKEYID: RFC 7296 and RFC 2409), CKM_IKE1_PRF_DERIVE (IKEv1's SKEYID_d, _a and
//! _e), CKM_IKE2_PRF_PLUS_DERIVE (IKEv2's prf+) and CKM_IKE1_EXTENDED_DERIVE (RFC 2409
//! appendix B's longer keys). The PRF is the MAC mechanism the parameter names: HMAC over
//! SHA-1, SHA-2 or SHA-3, AES-XCBC-MAC (RFC 4434's AES-XCBC-PRF-128, which takes a key of
//! any length) or AES-CMAC (RFC 4615's AES-CMAC-PRF-128, likewise).

use super::mac::MacKind;
use super::{Implementation, Mechanism, Params, lookup};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::{Attribute, Object, Value};
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The most PRF outputs prf+ and the extended derivation chain (the sections' 255 times the
/// PRF's length).
const MAX_BLOCKS: usize = 255;

/// A PRF: the MAC mechanism's kind and the key types it takes.
struct Prf {
    ty: CK_MECHANISM_TYPE,
    kind: MacKind,
    key_types: &'static [CK_KEY_TYPE],
}

impl Prf {
    /// The PRF `ty` names: an HMAC (not its _GENERAL variant), AES-XCBC-MAC or AES-CMAC.
    fn new(ty: CK_MECHANISM_TYPE) -> Result<Prf> {
        let entry = lookup(ty).ok_or(Error::MechanismParamInvalid)?;
        match entry.implementation {
            Implementation::Mac(
                kind @ (MacKind::Hmac { general: false, .. }
                | MacKind::Xcbc { len: 16 }
                | MacKind::Cmac { general: false, des3: false }),
            ) => Ok(Prf { ty, kind, key_types: entry.key_types }),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    /// Bytes of output.
    fn len(&self) -> usize {
        match self.kind {
            MacKind::Hmac { hash, .. } => hash.output_len(),
            _ => 16,
        }
    }

    /// The key type of the PRF's keys, for a key made by CKM_IKE_PRF_DERIVE without one in
    /// its template.
    fn key_type(&self) -> CK_KEY_TYPE {
        match self.kind {
            MacKind::Hmac { hash, .. } => super::keygen::hmac_key_type(hash).unwrap_or(CKK_GENERIC_SECRET),
            _ => CKK_AES,
        }
    }

    /// A base key of `obj`'s type keys this PRF.
    fn check_key(&self, obj: &Object) -> Result<()> {
        match obj.ulong(CKA_KEY_TYPE) {
            Some(kt) if self.key_types.contains(&kt) => Ok(()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The PRF of `key` over the concatenation of `parts`.
    fn run(&self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
        // RFC 4434 and RFC 4615: a key of another length than 16 bytes is first made one
        // (XCBC: zero-padded when shorter, its MAC under a zero key when longer; CMAC: its
        // MAC under a zero key).
        let adjusted = match self.kind {
            MacKind::Xcbc { .. } if key.len() < 16 => {
                let mut k = Zeroizing::new(key.to_vec());
                k.resize(16, 0);
                Some(k)
            }
            MacKind::Xcbc { .. } | MacKind::Cmac { .. } if key.len() != 16 => Some(self.mac(&[0; 16], &[key])?),
            _ => None,
        };
        self.mac(adjusted.as_deref().map_or(key, |k| &k[..]), parts)
    }

    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
        let m = Mechanism { ty: self.ty, params: Params::None };
        let mut mac = super::mac::mac(self.kind, &m, key, b"")?;
        for p in parts {
            mac.update(p);
        }
        Ok(Zeroizing::new(mac.try_finish()?.to_vec()))
    }
}

/// The template's CKA_KEY_TYPE, `default` added when it has none.
fn default_key_type(template: &mut Vec<Attribute>, default: CK_KEY_TYPE) {
    if !template.iter().any(|a| a.ty == CKA_KEY_TYPE) {
        template.push(Attribute::new(CKA_KEY_TYPE, Value::Ulong(default)));
    }
}

/// The length CKA_VALUE_LEN asks of prf+ or the extended derivation: required, at most 255
/// outputs of the PRF (CKR_KEY_SIZE_RANGE beyond).
fn chained_len(template: &[Attribute], prf: &Prf) -> Result<usize> {
    match super::kdf::value_len(template) {
        None => Err(Error::TemplateIncomplete),
        Some(0) => Err(Error::AttributeValueInvalid),
        Some(n) if n > MAX_BLOCKS * prf.len() => Err(Error::KeySizeRange),
        Some(n) => Ok(n),
    }
}

/// A derived value and the keys (besides the base key) whose values went into it.
type Derived = (Zeroizing<Vec<u8>>, Vec<Arc<Object>>);

/// The value of the key an IKE derivation makes from `base` (value `bv`) with `params`, the
/// other keys whose values went into it; fills the template's key type where the sections
/// give a default.
pub(super) fn derive(
    module: &Module,
    h: CK_SESSION_HANDLE,
    params: &Params,
    base: &Object,
    bv: &[u8],
    template: &mut Vec<Attribute>,
) -> Result<Derived> {
    // A secret key the parameter names (of any type, or a generic secret).
    let secret = |handle: CK_OBJECT_HANDLE, generic: bool| -> Result<Arc<Object>> {
        let o = module.key_object(h, handle)?;
        let kt = o.ulong(CKA_KEY_TYPE);
        if o.class() != CKO_SECRET_KEY || o.bytes(CKA_VALUE).is_none() || generic && kt != Some(CKK_GENERIC_SECRET) {
            return Err(Error::KeyTypeInconsistent);
        }
        Ok(o)
    };
    let value = |o: &Arc<Object>| o.bytes(CKA_VALUE).map(<[u8]>::to_vec).unwrap_or_default();
    Ok(match params {
        Params::IkePrf { prf, data_as_key, rekey, nonces, new_key } => {
            let prf = Prf::new(*prf)?;
            // The section's own code for the one combination it forbids.
            if *data_as_key && *rekey {
                return Err(Error::ArgumentsBad);
            }
            let mut others = Vec::new();
            let v = if *data_as_key {
                // g^ir as the data, Ni | Nr as the key: SKEYSEED (RFC 7296), SKEYID (RFC 2409).
                if base.ulong(CKA_KEY_TYPE) != Some(CKK_GENERIC_SECRET) {
                    return Err(Error::KeyTypeInconsistent);
                }
                prf.run(nonces, &[bv])?
            } else {
                prf.check_key(base)?;
                if *rekey {
                    let g = secret(*new_key, true)?;
                    let v = prf.run(bv, &[&value(&g), nonces])?;
                    others.push(g);
                    v
                } else {
                    prf.run(bv, &[nonces])?
                }
            };
            if super::kdf::value_len(template).is_some_and(|n| n != v.len()) {
                return Err(Error::KeySizeRange);
            }
            default_key_type(template, prf.key_type());
            (v, others)
        }
        Params::Ike1Prf { prf, gxy, previous, cookies, key_number } => {
            let prf = Prf::new(*prf)?;
            prf.check_key(base)?;
            if !template.iter().any(|a| a.ty == CKA_KEY_TYPE) {
                return Err(Error::TemplateIncomplete);
            }
            let g = secret(*gxy, true)?;
            let p = previous.map(|k| secret(k, false)).transpose()?;
            let prev = p.as_ref().map(value).unwrap_or_default();
            let mut v = prf.run(bv, &[&prev, &value(&g), cookies, &[*key_number]])?;
            // CKA_VALUE_LEN, else the key type's one length, else the PRF's; no more than the
            // PRF's.
            let fixed = crate::object::policy::fixed_value_len(super::kdf::key_type(template));
            let n = super::kdf::value_len(template).or(fixed).unwrap_or(v.len());
            if n > v.len() {
                return Err(Error::KeySizeRange);
            }
            v.truncate(n);
            (v, [Some(g), p].into_iter().flatten().collect())
        }
        Params::Ike2PrfPlus { prf, seed_key, seed } => {
            let prf = Prf::new(*prf)?;
            prf.check_key(base)?;
            let n = chained_len(template, &prf)?;
            let k = seed_key.map(|k| secret(k, false)).transpose()?;
            let mut s = Zeroizing::new(k.as_ref().map(value).unwrap_or_default());
            s.extend_from_slice(seed);
            // T1 = prf(K, S | 0x01), Ti = prf(K, T(i-1) | S | i) (RFC 7296 §2.13).
            let mut out = Zeroizing::new(Vec::with_capacity(n + prf.len()));
            let mut t = Zeroizing::new(Vec::new());
            for i in 1..=MAX_BLOCKS {
                if out.len() >= n {
                    break;
                }
                t = prf.run(bv, &[&t, &s, &[i as u8]])?;
                out.extend_from_slice(&t);
            }
            out.truncate(n);
            default_key_type(template, CKK_GENERIC_SECRET);
            (out, k.into_iter().collect())
        }
        Params::Ike1Extended { prf, gxy, extra } => {
            let prf = Prf::new(*prf)?;
            prf.check_key(base)?;
            let n = chained_len(template, &prf)?;
            let g = gxy.map(|k| secret(k, true)).transpose()?;
            default_key_type(template, CKK_GENERIC_SECRET);
            if n <= prf.len() && g.is_none() {
                // RFC 2409 appendix B: a key no longer than the PRF's output is the base
                // key's first bytes.
                let v = bv.get(..n).ok_or(Error::KeySizeRange)?;
                return Ok((Zeroizing::new(v.to_vec()), Vec::new()));
            }
            let mut suffix = Zeroizing::new(g.as_ref().map(value).unwrap_or_default());
            suffix.extend_from_slice(extra);
            // K1 = prf(K, g^xy | extra), or prf(K, 0x00) when both are empty;
            // Ki = prf(K, K(i-1) | g^xy | extra).
            let mut out = Zeroizing::new(Vec::with_capacity(n + prf.len()));
            let mut k = prf.run(bv, &[if suffix.is_empty() { &[0u8][..] } else { &suffix }])?;
            loop {
                out.extend_from_slice(&k);
                if out.len() >= n {
                    break;
                }
                k = prf.run(bv, &[&k, &suffix])?;
            }
            out.truncate(n);
            (out, g.into_iter().collect())
        }
        _ => return Err(Error::MechanismParamInvalid),
    })
}
