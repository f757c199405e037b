//! NIST SP 800-108 key-based KDFs (PKCS#11 3.2 §6.x CKM_SP800_108_COUNTER_KDF,
//! _FEEDBACK_KDF, _DOUBLE_PIPELINE_KDF) over HMAC or AES-CMAC, with the PKCS#11 data
//! parameters (iteration variable, optional counter, DKM length, byte arrays, key values)
//! and additional derived keys.

use super::mac::HMACS;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::{CmacCtx, HmacCtx};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::Attribute;
use crate::object::attr::VALUE_KEY_TYPES;
use crate::object::policy::Origin;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The three modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KbkdfMode {
    Counter,
    Feedback,
    DoublePipeline,
}

/// An integer encoding: width in bits (8, 16, 24 or 32) and byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub little_endian: bool,
    pub bits: u32,
}

/// One PKCS#11 data parameter (CK_PRF_DATA_PARAM), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrfData {
    /// Counter mode: the counter with its format; other modes: where K(i-1) or A(i) goes.
    Iteration(Option<Format>),
    OptionalCounter(Format),
    /// The total length, of all keys or of all PRF output segments.
    DkmLength {
        sum_of_segments: bool,
        format: Format,
    },
    Bytes(Vec<u8>),
    /// The value of another key.
    Key(CK_OBJECT_HANDLE),
}

/// Decoded SP 800-108 parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KbkdfParams {
    pub prf: CK_MECHANISM_TYPE,
    pub data: Vec<PrfData>,
    pub iv: Vec<u8>,
    /// Templates of the additional keys, in order.
    pub additional: Vec<Vec<Attribute>>,
}

pub fn register(r: &mut Registry) {
    for (ty, mode) in [
        (CKM_SP800_108_COUNTER_KDF, KbkdfMode::Counter),
        (CKM_SP800_108_FEEDBACK_KDF, KbkdfMode::Feedback),
        (CKM_SP800_108_DOUBLE_PIPELINE_KDF, KbkdfMode::DoublePipeline),
    ] {
        r.add(Entry {
            ty,
            info: info(0, 0, CKF_DERIVE),
            params: if mode == KbkdfMode::Feedback { ParamShape::Sp800Feedback } else { ParamShape::Sp800 },
            key_types: VALUE_KEY_TYPES,
            implementation: Implementation::Kbkdf(mode),
        });
    }
}

fn encode(n: u64, f: Format) -> Result<Vec<u8>> {
    if !matches!(f.bits, 8 | 16 | 24 | 32) || (f.bits < 64 && n >> f.bits != 0) {
        return Err(Error::MechanismParamInvalid);
    }
    let bytes = (f.bits / 8) as usize;
    let be = n.to_be_bytes();
    let mut v = be[8 - bytes..].to_vec();
    if f.little_endian {
        v.reverse();
    }
    Ok(v)
}

/// The PRF keyed with the base key.
enum Prf {
    Hmac(crate::crypto::evp::Hash),
    Cmac,
}

impl Prf {
    fn of(ty: CK_MECHANISM_TYPE) -> Result<Prf> {
        if ty == CKM_AES_CMAC {
            return Ok(Prf::Cmac);
        }
        HMACS.iter().find(|(m, _, _)| *m == ty).map(|(_, _, h)| Prf::Hmac(*h)).ok_or(Error::MechanismParamInvalid)
    }

    fn len(&self) -> usize {
        match self {
            Prf::Hmac(h) => h.output_len(),
            Prf::Cmac => 16,
        }
    }

    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            Prf::Hmac(h) => {
                let mut c = HmacCtx::new(*h, key)?;
                parts.iter().for_each(|p| c.update(p));
                Ok(c.finish())
            }
            Prf::Cmac => {
                let mut c = CmacCtx::new(key).map_err(|_| Error::KeySizeRange)?;
                parts.iter().for_each(|p| c.update(p));
                Ok(c.finish())
            }
        }
    }
}

/// Derives `total` bytes by `mode` from key `ki`. `keys` resolves CK_SP800_108_KEY_HANDLE
/// parameters; `key_sum` is the sum of the requested key lengths in bits.
fn derive(
    mode: KbkdfMode,
    p: &KbkdfParams,
    ki: &[u8],
    total: usize,
    keys: &dyn Fn(CK_OBJECT_HANDLE) -> Result<Zeroizing<Vec<u8>>>,
) -> Result<Zeroizing<Vec<u8>>> {
    let prf = Prf::of(p.prf)?;
    let h = prf.len();
    let n = total.div_ceil(h).max(1);
    let iterations = p.data.iter().filter(|d| matches!(d, PrfData::Iteration(_))).count();
    let counters = p.data.iter().filter(|d| matches!(d, PrfData::OptionalCounter(_))).count();
    // The DKM length is optional and, like the iteration variable, given at most once.
    let dkm_lengths = p.data.iter().filter(|d| matches!(d, PrfData::DkmLength { .. })).count();
    let ok = dkm_lengths <= 1
        && match mode {
            KbkdfMode::Counter => {
                iterations == 1 && counters == 0 && p.data.iter().all(|d| !matches!(d, PrfData::Iteration(None)))
            }
            _ => iterations == 1 && counters <= 1 && p.data.iter().all(|d| !matches!(d, PrfData::Iteration(Some(_)))),
        };
    if !ok || (mode != KbkdfMode::Feedback && !p.iv.is_empty()) {
        return Err(Error::MechanismParamInvalid);
    }
    // Resolve fixed pieces once: byte arrays, key values and the DKM length.
    let mut fixed: Vec<Option<Zeroizing<Vec<u8>>>> = Vec::with_capacity(p.data.len());
    for d in &p.data {
        fixed.push(match d {
            PrfData::Bytes(b) => Some(Zeroizing::new(b.clone())),
            PrfData::Key(k) => Some(keys(*k)?),
            PrfData::DkmLength { sum_of_segments, format } => {
                let bits = if *sum_of_segments { n * h * 8 } else { total * 8 };
                Some(Zeroizing::new(encode(bits as u64, *format)?))
            }
            _ => None,
        });
    }
    let build = |i: u64, iter_value: &[u8]| -> Result<Zeroizing<Vec<u8>>> {
        let mut input = Zeroizing::new(Vec::new());
        for (d, f) in p.data.iter().zip(&fixed) {
            match (d, f) {
                (_, Some(v)) => input.extend_from_slice(v),
                (PrfData::Iteration(Some(fmt)) | PrfData::OptionalCounter(fmt), _) => {
                    input.extend_from_slice(&encode(i, *fmt)?)
                }
                (PrfData::Iteration(None), _) => input.extend_from_slice(iter_value),
                _ => {}
            }
        }
        Ok(input)
    };
    let mut out = Zeroizing::new(Vec::with_capacity(n * h));
    let mut prev = Zeroizing::new(p.iv.clone());
    // Double pipeline: A(0) is the fixed input (every parameter but the iteration variable
    // and the counter), A(i) = PRF(KI, A(i-1)).
    let mut a = Zeroizing::new(Vec::new());
    if mode == KbkdfMode::DoublePipeline {
        for (d, f) in p.data.iter().zip(&fixed) {
            if let (PrfData::Bytes(_) | PrfData::Key(_) | PrfData::DkmLength { .. }, Some(v)) = (d, f) {
                a.extend_from_slice(v);
            }
        }
    }
    for i in 1..=n as u64 {
        let input = match mode {
            KbkdfMode::Counter => build(i, &[])?,
            KbkdfMode::Feedback => build(i, &prev)?,
            KbkdfMode::DoublePipeline => {
                a = prf.mac(ki, &[&a])?;
                build(i, &a)?
            }
        };
        let k = prf.mac(ki, &[&input])?;
        out.extend_from_slice(&k);
        prev = k;
    }
    out.truncate(total);
    Ok(out)
}

impl Module {
    /// C_DeriveKey with an SP 800-108 mechanism: the primary key, then the additional keys.
    pub fn derive_kbkdf(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        base: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<(CK_OBJECT_HANDLE, Vec<CK_OBJECT_HANDLE>)> {
        let (entry, base_obj) = self.crypto_key(h, base, m, CKF_DERIVE, CKA_DERIVE)?;
        let (Implementation::Kbkdf(mode), Params::Kbkdf(p)) = (entry.implementation, &m.params) else {
            return Err(Error::MechanismParamInvalid);
        };
        let mut templates = vec![super::kdf::imposed_template(&base_obj, template)?];
        for t in &p.additional {
            templates.push(super::kdf::imposed_template(&base_obj, t)?);
        }
        // Each key's CKA_VALUE_LEN, else its type's one length (Triple DES, ChaCha20).
        let lens = templates.iter().map(|t| super::kdf::derived_len(t, None)).collect::<Result<Vec<_>>>()?;
        let total: usize = lens.iter().sum();
        let ki = base_obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
        let keys = |k: CK_OBJECT_HANDLE| -> Result<Zeroizing<Vec<u8>>> {
            let o = self.key_object(h, k)?;
            Ok(Zeroizing::new(o.bytes(CKA_VALUE).ok_or(Error::MechanismParamInvalid)?.to_vec()))
        };
        let dkm = derive(mode, p, ki, total, &keys)?;
        let mut made = Vec::with_capacity(templates.len());
        let mut at = 0;
        for (t, n) in templates.iter().zip(&lens) {
            let mut value = Zeroizing::new(dkm[at..at + n].to_vec());
            at += n;
            super::des::set_parity_for(super::kdf::key_type(t), &mut value);
            let origin = Origin::Derive {
                value: value.into(),
                base_always_sensitive: base_obj.flag(CKA_ALWAYS_SENSITIVE),
                base_never_extractable: base_obj.flag(CKA_NEVER_EXTRACTABLE),
            };
            made.push((&t[..], origin));
        }
        // All the keys or none: an additional key's template refused leaves no primary key.
        let mut handles = self.create_all(h, made)?;
        let first = handles.remove(0);
        Ok((first, handles))
    }
}
