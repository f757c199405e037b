//! Key wrapping (PKCS#11 3.2 §5.16 C_WrapKey/C_UnwrapKey; §6.x AES key wrap): RFC 3394
//! (CKM_AES_KEY_WRAP) and RFC 5649 (CKM_AES_KEY_WRAP_KWP), usable also to encrypt and
//! decrypt, plus wrapping with the AES modes that declare CKF_WRAP (ECB, CBC, CBC_PAD, GCM).
//! The token enforces CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED/CKA_TRUSTED,
//! CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE.

use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp;
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Value};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The two AES key wrap algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapMode {
    Kw,
    Kwp,
}

pub fn register(r: &mut Registry) {
    let flags = CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP;
    for (ty, mode, params) in [
        (CKM_AES_KEY_WRAP, WrapMode::Kw, ParamShape::OptIv8),
        (CKM_AES_KEY_WRAP_KWP, WrapMode::Kwp, ParamShape::OptIv4),
    ] {
        r.add(Entry {
            ty,
            info: info(16, 32, flags),
            params,
            key_types: &[CKK_AES],
            implementation: Implementation::Wrap(mode),
        });
    }
}

/// The RFC 5649 alternative initial value, the only one AWS-LC implements.
const KWP_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

/// Key wrap as a (single-part) cipher.
struct KeyWrap {
    mode: WrapMode,
    iv: Option<[u8; 8]>,
    kek: Zeroizing<Vec<u8>>,
    encrypt: bool,
    buf: Zeroizing<Vec<u8>>,
}

impl KeyWrap {
    fn process(&self, data: &[u8]) -> Result<Vec<u8>> {
        match (self.mode, self.encrypt) {
            (WrapMode::Kw, true) => evp::kw_wrap(&self.kek, self.iv.as_ref(), data),
            (WrapMode::Kw, false) => Ok(evp::kw_unwrap(&self.kek, self.iv.as_ref(), data)?.to_vec()),
            (WrapMode::Kwp, true) => evp::kwp_wrap(&self.kek, data),
            (WrapMode::Kwp, false) => Ok(evp::kwp_unwrap(&self.kek, data)?.to_vec()),
        }
    }
}

impl Cipher for KeyWrap {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let data = std::mem::take(&mut self.buf);
        self.process(&data)
    }
    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.process(input)
    }
    fn update_bound(&self, n: usize) -> usize {
        n + 16
    }
    fn final_bound(&self) -> usize {
        self.buf.len() + 16
    }
}

/// Builds the key wrap cipher with the caller's parameter.
pub fn cipher(mode: WrapMode, m: &Mechanism, kek: &[u8], encrypt: bool) -> Result<Box<dyn Cipher>> {
    let iv = match (mode, &m.params) {
        (_, Params::None) => None,
        (WrapMode::Kw, Params::Iv(v)) if v.len() == 8 => Some(v[..].try_into().expect("8 bytes")),
        (WrapMode::Kwp, Params::Iv(v)) if v[..] == KWP_IV => None,
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(Box::new(KeyWrap { mode, iv, kek: Zeroizing::new(kek.to_vec()), encrypt, buf: Zeroizing::new(Vec::new()) }))
}

/// The cipher a wrapping mechanism uses, for any entry that declares CKF_WRAP/CKF_UNWRAP.
fn wrapping_cipher(entry: &Entry, m: &Mechanism, kek: &[u8], encrypt: bool) -> Result<Box<dyn Cipher>> {
    match entry.implementation {
        Implementation::Wrap(mode) => cipher(mode, m, kek, encrypt),
        Implementation::Aes(mode) => super::aes::cipher(mode, m, kek, encrypt),
        _ => Err(Error::MechanismInvalid),
    }
}

fn template_of(obj: &crate::object::Object, ty: CK_ATTRIBUTE_TYPE) -> Vec<Attribute> {
    match obj.get(ty) {
        Some(Value::Template(t)) => t.clone(),
        _ => Vec::new(),
    }
}

impl Module {
    /// C_WrapKey: the wrapped bytes of `key` under `wrapping`.
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>> {
        let (entry, kek) = self.crypto_key(h, wrapping, m, CKF_WRAP, CKA_WRAP).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::WrappingKeyHandleInvalid,
            Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
            other => other,
        })?;
        let target = self.key_object(h, key)?;
        if target.class() != CKO_SECRET_KEY {
            return Err(Error::KeyNotWrappable);
        }
        if !target.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        if target.flag(CKA_WRAP_WITH_TRUSTED) && !kek.flag(CKA_TRUSTED) {
            return Err(Error::KeyNotWrappable);
        }
        if !policy::has_all(&target, &template_of(&kek, CKA_WRAP_TEMPLATE)) {
            return Err(Error::KeyNotWrappable);
        }
        let value = target.bytes(CKA_VALUE).ok_or(Error::KeyNotWrappable)?;
        let kek_value = kek.bytes(CKA_VALUE).ok_or(Error::WrappingKeyTypeInconsistent)?;
        wrapping_cipher(entry, m, kek_value, true)?.one_shot(value).map_err(|e| match e {
            Error::DataLenRange => Error::KeySizeRange,
            other => other,
        })
    }

    /// C_UnwrapKey: a new key from `wrapped`, described by `template` and the unwrapping
    /// key's CKA_UNWRAP_TEMPLATE.
    pub fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &[Attribute],
    ) -> Result<CK_OBJECT_HANDLE> {
        let (entry, kek) = self.crypto_key(h, unwrapping, m, CKF_UNWRAP, CKA_UNWRAP).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::UnwrappingKeyHandleInvalid,
            Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
            other => other,
        })?;
        let template = policy::merge_template(template, &template_of(&kek, CKA_UNWRAP_TEMPLATE))?;
        let kek_value = kek.bytes(CKA_VALUE).ok_or(Error::UnwrappingKeyTypeInconsistent)?;
        let value = wrapping_cipher(entry, m, kek_value, false)?.one_shot(wrapped).map_err(|e| match e {
            Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
            Error::EncryptedDataLenRange | Error::DataLenRange => Error::WrappedKeyLenRange,
            other => other,
        })?;
        let value = Zeroizing::new(value);
        self.create_with(h, &template, Origin::Unwrap { value })
    }
}
