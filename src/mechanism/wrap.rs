//! Key wrapping (PKCS#11 3.2 §5.16 C_WrapKey/C_UnwrapKey; §6.x AES key wrap): RFC 3394
//! (CKM_AES_KEY_WRAP), RFC 5649 (CKM_AES_KEY_WRAP_KWP) and PKCS #7 padding to the 8-byte
//! block then RFC 3394 (CKM_AES_KEY_WRAP_PKCS7 and the deprecated CKM_AES_KEY_WRAP_PAD),
//! usable also to encrypt and decrypt, plus wrapping with the AES modes that declare CKF_WRAP (ECB, CBC, CBC_PAD, GCM).
//! The token enforces CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED/CKA_TRUSTED,
//! CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE.

use super::aes::AesMode;
use super::keys::{ParsedKey, der_octets};
use super::message::{MessageAead, MessageOp, MessageOutput, MessageParams};
use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::ec::{self, Pkcs8Key};
use crate::crypto::{self, evp};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{self, Origin};
use crate::object::{Attribute, Object, Value};
use crate::secret::Bytes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The AES key wrap algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapMode {
    Kw,
    Kwp,
    /// PKCS #7 padding to a multiple of the 8-byte key wrap block, then RFC 3394.
    KwPkcs7,
}

pub fn register(r: &mut Registry) {
    let flags = CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP;
    for (ty, mode, params) in [
        (CKM_AES_KEY_WRAP, WrapMode::Kw, ParamShape::OptIv8),
        (CKM_AES_KEY_WRAP_KWP, WrapMode::Kwp, ParamShape::OptIv4),
        (CKM_AES_KEY_WRAP_PKCS7, WrapMode::KwPkcs7, ParamShape::OptIv8),
        // The deprecated name of the same (PKCS#11 3.0 renamed it; SoftHSMv2 uses this
        // number for RFC 5649, which is CKM_AES_KEY_WRAP_KWP).
        (CKM_AES_KEY_WRAP_PAD, WrapMode::KwPkcs7, ParamShape::OptIv8),
    ] {
        r.add(Entry {
            ty,
            info: info(16, 32, flags),
            params,
            key_types: &[CKK_AES],
            implementation: Implementation::Wrap(mode),
        });
    }
    r.add(Entry {
        ty: CKM_RSA_AES_KEY_WRAP,
        info: info(2048, 16384, CKF_WRAP | CKF_UNWRAP),
        params: ParamShape::RsaAesWrap,
        key_types: &[CKK_RSA],
        implementation: Implementation::RsaAesWrap,
    });
    // Key sizes as ECDH's (the field's bits).
    for (ty, key_types) in [
        (CKM_ECDH_AES_KEY_WRAP, &[CKK_EC, CKK_EC_MONTGOMERY][..]),
        (CKM_ECDH_COF_AES_KEY_WRAP, &[CKK_EC][..]),
        (CKM_ECDH_X_AES_KEY_WRAP, &[CKK_EC_MONTGOMERY][..]),
    ] {
        r.add(Entry {
            ty,
            info: info(224, 521, CKF_WRAP | CKF_UNWRAP | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS),
            params: ParamShape::EcdhAesWrap,
            key_types,
            implementation: Implementation::EcdhAesWrap,
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
    buf: Bytes,
}

impl KeyWrap {
    fn process(&self, data: &[u8]) -> Result<Vec<u8>> {
        match (self.mode, self.encrypt) {
            (WrapMode::Kw, true) => evp::kw_wrap(&self.kek, self.iv.as_ref(), data),
            (WrapMode::Kw, false) => Ok(evp::kw_unwrap(&self.kek, self.iv.as_ref(), data)?.to_vec()),
            (WrapMode::Kwp, true) => evp::kwp_wrap(&self.kek, data),
            (WrapMode::Kwp, false) => Ok(evp::kwp_unwrap(&self.kek, data)?.to_vec()),
            (WrapMode::KwPkcs7, true) => {
                let pad = 8 - data.len() % 8;
                let mut padded = Zeroizing::new(Vec::with_capacity(data.len() + pad));
                padded.extend_from_slice(data);
                padded.resize(data.len() + pad, pad as u8);
                evp::kw_wrap(&self.kek, self.iv.as_ref(), &padded)
            }
            (WrapMode::KwPkcs7, false) => {
                // The padding is checked after RFC 3394's integrity check passed: a wrong
                // padding is no oracle, only a wrapping that was not PKCS #7.
                let mut v = evp::kw_unwrap(&self.kek, self.iv.as_ref(), data)?;
                let pad = v.last().copied().unwrap_or(0) as usize;
                if !(1..=8).contains(&pad) || pad > v.len() || v[v.len() - pad..].iter().any(|b| *b as usize != pad) {
                    return Err(Error::EncryptedDataInvalid);
                }
                let n = v.len() - pad;
                v.truncate(n);
                Ok(v.to_vec())
            }
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
        (WrapMode::Kw | WrapMode::KwPkcs7, Params::Iv(v)) if v.len() == 8 => Some(v[..].try_into().expect("8 bytes")),
        (WrapMode::Kwp, Params::Iv(v)) if v[..] == KWP_IV => None,
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(Box::new(KeyWrap { mode, iv, kek: Zeroizing::new(kek.to_vec()), encrypt, buf: Bytes::default() }))
}

/// The cipher a wrapping mechanism uses with the wrapping key `kek` (an AES key, or an RSA
/// public key to wrap and private key to unwrap).
fn wrapping_cipher(
    module: &Module,
    entry: &Entry,
    m: &Mechanism,
    kek: &Object,
    encrypt: bool,
) -> Result<Box<dyn Cipher>> {
    let value = || kek.bytes(CKA_VALUE).ok_or(Error::WrappingKeyTypeInconsistent);
    match entry.implementation {
        Implementation::Wrap(mode) => cipher(mode, m, value()?, encrypt),
        Implementation::Aes(mode) => {
            value()?;
            super::aes::cipher(mode, &mut m.clone(), kek, encrypt)
        }
        Implementation::Des3(mode) => {
            value()?;
            super::des::cipher(mode, m, kek, encrypt)
        }
        Implementation::Rsa(scheme) => super::rsa::cipher(scheme, m, module.parsed_key(kek)?, encrypt),
        Implementation::RsaAesWrap => {
            let Params::RsaAesWrap { aes_bits, hash, mgf, label } = &m.params else {
                return Err(Error::MechanismParamInvalid);
            };
            if !matches!(aes_bits, 128 | 192 | 256) {
                return Err(Error::MechanismParamInvalid);
            }
            let oaep = Mechanism {
                ty: CKM_RSA_PKCS_OAEP,
                params: Params::Oaep { hash: *hash, mgf: *mgf, label: label.clone() },
            };
            let rsa = super::rsa::cipher(super::rsa::RsaScheme::Oaep, &oaep, module.parsed_key(kek)?, encrypt)?;
            let modulus = module.parsed_key(kek).map(|k| match &*k {
                ParsedKey::Rsa(r) => r.size(),
                _ => 0,
            })?;
            Ok(Box::new(OneShot(RsaAesWrap { rsa, aes_len: aes_bits / 8, modulus, encrypt })))
        }
        Implementation::EcdhAesWrap => {
            let Params::EcdhAesWrap { aes_bits, kdf, shared } = &m.params else {
                return Err(Error::MechanismParamInvalid);
            };
            if !matches!(aes_bits, 128 | 192 | 256) {
                return Err(Error::MechanismParamInvalid);
            }
            let key = module.parsed_key(kek)?;
            Ok(Box::new(OneShot(EcdhAesWrap {
                key,
                kdf: *kdf,
                shared: shared.clone(),
                aes_len: aes_bits / 8,
                encrypt,
            })))
        }
        _ => Err(Error::MechanismInvalid),
    }
}

/// CKM_ECDH_AES_KEY_WRAP, CKM_ECDH_COF_AES_KEY_WRAP and CKM_ECDH_X_AES_KEY_WRAP: an ephemeral
/// key pair on the wrapping key's curve, its agreement with the wrapping (public) key through
/// the parameter's KDF giving a temporary AES key, the target wrapped under it with RFC 5649
/// (KWP), after the ephemeral public key: on a NIST curve a DER OCTET STRING of the
/// uncompressed point (CKA_EC_POINT's form), on X25519 its 32 bytes (RFC 7748), as the
/// mechanisms' sections say. Unwrapping reads the ephemeral key back and agrees with the
/// unwrapping (private) key. (Cofactor ECDH is plain ECDH on curves of cofactor 1, the only
/// ones oxihsm has.)
struct EcdhAesWrap {
    key: std::sync::Arc<ParsedKey>,
    kdf: CK_ULONG,
    shared: Vec<u8>,
    aes_len: usize,
    encrypt: bool,
}

impl Hybrid for EcdhAesWrap {
    /// The length of the ephemeral public key's encoding.
    fn transport_len(&self) -> usize {
        match &*self.key {
            ParsedKey::Ec(k) => der_octets(&vec![0; 1 + 2 * k.curve().field_len()]).len(),
            _ => 32,
        }
    }

    fn run(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.encrypt {
            let (point, z) = super::kdf::ephemeral_ecdh(&self.key)?;
            let kek = super::kdf::ecdh_key(&z, self.kdf, &self.shared, self.aes_len)?;
            let mut out = match &*self.key {
                ParsedKey::Ec(_) => der_octets(&point),
                _ => point,
            };
            out.extend_from_slice(&evp::kwp_wrap(&kek, data)?);
            return Ok(out);
        }
        let n = self.transport_len();
        if data.len() <= n {
            return Err(Error::WrappedKeyLenRange);
        }
        let (transport, wrapped) = data.split_at(n);
        let point = match &*self.key {
            ParsedKey::Ec(k) => {
                let len = 1 + 2 * k.curve().field_len();
                let p = super::keys::raw_point(transport, len);
                (p.len() == len && p.len() != transport.len()).then_some(p)
            }
            _ => Some(transport),
        };
        // A header that is not the point's, or a point off the curve, is a bad wrapped key.
        let z = point
            .map(|p| super::kdf::ecdh_with(&self.key, p))
            .ok_or(Error::WrappedKeyInvalid)?
            .map_err(|_| Error::WrappedKeyInvalid)?;
        let kek = super::kdf::ecdh_key(&z, self.kdf, &self.shared, self.aes_len)?;
        Ok(evp::kwp_unwrap(&kek, wrapped)?.to_vec())
    }
}

/// CKM_RSA_AES_KEY_WRAP: a fresh AES key wrapped with RSA-OAEP, followed by the target
/// wrapped under that AES key with RFC 5649 (KWP).
struct RsaAesWrap {
    rsa: Box<dyn Cipher>,
    aes_len: usize,
    modulus: usize,
    encrypt: bool,
}

impl Hybrid for RsaAesWrap {
    fn transport_len(&self) -> usize {
        self.modulus
    }

    fn run(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.encrypt {
            let tmp = Zeroizing::new(crypto::random_vec(self.aes_len)?);
            let mut out = self.rsa.one_shot(&tmp)?;
            out.extend_from_slice(&evp::kwp_wrap(&tmp, data)?);
            return Ok(out);
        }
        if data.len() <= self.modulus {
            return Err(Error::EncryptedDataLenRange);
        }
        let tmp = Zeroizing::new(self.rsa.one_shot(&data[..self.modulus])?);
        if tmp.len() != self.aes_len {
            return Err(Error::EncryptedDataInvalid);
        }
        Ok(evp::kwp_unwrap(&tmp, &data[self.modulus..])?.to_vec())
    }
}

/// A wrapping that transports a temporary AES key to the wrapping key and wraps the target
/// under it with KWP (CKM_RSA_AES_KEY_WRAP, the ECDH AES key wraps): single-part only.
trait Hybrid: Send {
    fn run(&mut self, data: &[u8]) -> Result<Vec<u8>>;
    /// Bytes the transported key takes before the target's KWP.
    fn transport_len(&self) -> usize;
}

/// A [`Hybrid`] wrapping as a cipher.
struct OneShot<H>(H);

impl<H: Hybrid> Cipher for OneShot<H> {
    fn update(&mut self, _input: &[u8]) -> Result<Vec<u8>> {
        Err(Error::FunctionNotSupported)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Err(Error::FunctionNotSupported)
    }
    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.0.run(input)
    }
    fn update_bound(&self, n: usize) -> usize {
        n
    }
    fn final_bound(&self) -> usize {
        // KWP adds its 8-byte header and at most 7 bytes of padding.
        self.0.transport_len() + 16
    }
}

fn template_of(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> Vec<Attribute> {
    match obj.get(ty) {
        Some(Value::Template(t)) => t.clone(),
        _ => Vec::new(),
    }
}

fn bytes_attr(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute::new(ty, Value::bytes(v))
}

/// The attributes a private key's PKCS#8 encoding stands for.
fn private_material(der: &[u8], key_type: CK_KEY_TYPE) -> Result<Vec<Attribute>> {
    let (kt, attrs) = match super::pqc::parse_pkcs8(der) {
        Some(ml) => ml?,
        None => key_material(ec::parse_pkcs8(der)?),
    };
    if kt != key_type {
        return Err(Error::TemplateInconsistent);
    }
    Ok(attrs)
}

/// A parsed private key as its key type and PKCS#11 attributes (modulus, exponents and
/// primes; or curve parameters and private value).
pub fn key_material(key: Pkcs8Key) -> (CK_KEY_TYPE, Vec<Attribute>) {
    match key {
        Pkcs8Key::Rsa(p) => {
            let mut v = vec![bytes_attr(CKA_MODULUS, &p.n), bytes_attr(CKA_PUBLIC_EXPONENT, &p.e)];
            for (ty, x) in [
                (CKA_PRIVATE_EXPONENT, &p.d),
                (CKA_PRIME_1, &p.p),
                (CKA_PRIME_2, &p.q),
                (CKA_EXPONENT_1, &p.dp),
                (CKA_EXPONENT_2, &p.dq),
                (CKA_COEFFICIENT, &p.qinv),
            ] {
                if let Some(x) = x {
                    v.push(bytes_attr(ty, x));
                }
            }
            (CKK_RSA, v)
        }
        Pkcs8Key::Ec(curve, d) => (CKK_EC, vec![bytes_attr(CKA_EC_PARAMS, curve.oid()), bytes_attr(CKA_VALUE, &d)]),
        Pkcs8Key::Dsa(k) => (
            CKK_DSA,
            vec![
                bytes_attr(CKA_PRIME, &k.p),
                bytes_attr(CKA_SUBPRIME, &k.q),
                bytes_attr(CKA_BASE, &k.g),
                bytes_attr(CKA_VALUE, k.x.as_ref().map_or(&[][..], |x| &x[..])),
            ],
        ),
        Pkcs8Key::Ed25519(d) => (
            CKK_EC_EDWARDS,
            vec![bytes_attr(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70]), bytes_attr(CKA_VALUE, &d)],
        ),
        Pkcs8Key::X25519(d) => (
            CKK_EC_MONTGOMERY,
            vec![bytes_attr(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x6e]), bytes_attr(CKA_VALUE, &d)],
        ),
    }
}

impl Module {
    /// The bytes a key is wrapped as: a secret key's value, a private key's PKCS#8.
    fn wrappable(&self, target: &Object) -> Result<Zeroizing<Vec<u8>>> {
        match target.class() {
            CKO_SECRET_KEY => Ok(Zeroizing::new(target.bytes(CKA_VALUE).ok_or(Error::KeyNotWrappable)?.to_vec())),
            CKO_PRIVATE_KEY => match &*self.parsed_key(target)? {
                ParsedKey::Rsa(k) => k.pkcs8(),
                ParsedKey::Ec(k) => k.pkcs8(),
                ParsedKey::Dsa(k) => k.pkcs8(),
                ParsedKey::Ed25519 { seed: Some(s), .. } => Ok(ec::pkcs8_25519(s, true)),
                ParsedKey::X25519 { private: Some(p), .. } => Ok(ec::pkcs8_25519(p, false)),
                ParsedKey::MlDsa { set, private: Some(p), .. } => {
                    Ok(super::pqc::pkcs8(3, set.oid_arc(), target.bytes(CKA_SEED), p))
                }
                ParsedKey::MlKem { set, private: Some(p), .. } => {
                    Ok(super::pqc::pkcs8(4, set.oid_arc(), target.bytes(CKA_SEED), p))
                }
                _ => Err(Error::KeyNotWrappable),
            },
            _ => Err(Error::KeyNotWrappable),
        }
    }

    /// The wrapping key of C_WrapKey or C_WrapKeyAuthenticated, checked for `m`.
    fn wrapping_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        wrapping: CK_OBJECT_HANDLE,
    ) -> Result<(&'static Entry, std::sync::Arc<Object>)> {
        self.crypto_key(h, wrapping, m, CKF_WRAP, CKA_WRAP).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::WrappingKeyHandleInvalid,
            Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
            Error::KeySizeRange => Error::WrappingKeySizeRange,
            other => other,
        })
    }

    /// The bytes of `key` to wrap under `kek`, once the key's rules allow it, with the key's
    /// class.
    fn wrap_target(
        &self,
        h: CK_SESSION_HANDLE,
        kek: &Object,
        key: CK_OBJECT_HANDLE,
    ) -> Result<(Zeroizing<Vec<u8>>, CK_OBJECT_CLASS)> {
        let target = self.key_object(h, key)?;
        if !matches!(target.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY) {
            return Err(Error::KeyNotWrappable);
        }
        if !target.flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        if target.flag(CKA_WRAP_WITH_TRUSTED) && !kek.flag(CKA_TRUSTED) {
            return Err(Error::KeyNotWrappable);
        }
        // A key the wrapping key's CKA_WRAP_TEMPLATE does not match: "the function SHALL
        // return CKR_KEY_HANDLE_INVALID" (C_WrapKey, §5.18.3).
        if !policy::has_all(&target, &template_of(kek, CKA_WRAP_TEMPLATE)) {
            return Err(Error::KeyHandleInvalid);
        }
        Ok((self.wrappable(&target)?, target.class()))
    }

    /// C_WrapKey: the wrapped bytes of `key` under `wrapping`.
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>> {
        let (entry, kek) = self.wrapping_key(h, m, wrapping)?;
        let (mut value, class) = self.wrap_target(h, &kek, key)?;
        // ECB and CBC without padding wrap a secret key's value padded with zero bytes to
        // their block, and CKM_AES_KEY_WRAP any key (a private key's PKCS #8 encoding too)
        // to its 8-byte semiblock (as the mechanisms' sections say); unwrapping cuts it back.
        let block = raw_block(entry).filter(|_| class == CKO_SECRET_KEY).or(kw_semiblock(entry));
        if let Some(block) = block {
            // Into a buffer made the right size at once: growing the old one could leave a
            // copy of the key in freed memory.
            let n = value.len().div_ceil(block) * block;
            let mut padded = Zeroizing::new(Vec::with_capacity(n));
            padded.extend_from_slice(&value);
            padded.resize(n, 0);
            value = padded;
        }
        let m = &ccm_length(m, value.len(), true);
        let wrapped = wrapping_cipher(self, entry, m, &kek, true)?.one_shot(&value).map_err(|e| match e {
            Error::DataLenRange => Error::KeySizeRange,
            other => other,
        })?;
        Ok(wrapped)
    }

    /// C_WrapKeyAuthenticated (PKCS#11 3.2 §5.18): `key` wrapped under `wrapping` with AES-GCM
    /// or AES-CCM and the per-message parameter `p` (IV given or random; the tag returned
    /// apart), `aad` authenticated with it.
    pub fn wrap_key_authenticated(
        &self,
        h: CK_SESSION_HANDLE,
        ty: CK_MECHANISM_TYPE,
        p: &MessageParams,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        aad: &[u8],
    ) -> Result<MessageOutput> {
        let (entry, kek) = self.wrapping_key(h, &Mechanism { ty, params: Params::None }, wrapping)?;
        let (value, _) = self.wrap_target(h, &kek, key)?;
        MessageOp::new(authenticated_aead(entry)?, &kek, true)?.single(&key_length(p, value.len()), aad, &value)
    }

    /// C_UnwrapKeyAuthenticated: a new key from `wrapped`, its tag and IV in `p` and `aad`
    /// authenticated with it.
    #[allow(clippy::too_many_arguments)]
    pub fn unwrap_key_authenticated(
        &self,
        h: CK_SESSION_HANDLE,
        ty: CK_MECHANISM_TYPE,
        p: &MessageParams,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &[Attribute],
        aad: &[u8],
    ) -> Result<CK_OBJECT_HANDLE> {
        let (entry, kek) = self.unwrapping_key(h, &Mechanism { ty, params: Params::None }, unwrapping)?;
        let template = policy::merge_template(template, &template_of(&kek, CKA_UNWRAP_TEMPLATE))?;
        let out = MessageOp::new(authenticated_aead(entry)?, &kek, false)?
            .single(&key_length(p, wrapped.len()), aad, wrapped)
            .map_err(|e| match e {
                Error::AeadDecryptFailed | Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                Error::EncryptedDataLenRange | Error::DataLenRange => Error::WrappedKeyLenRange,
                other => other,
            })?;
        self.create_unwrapped(h, &template, Zeroizing::new(out.data))
    }

    /// Records that the key `key` left the token wrapped (called once the caller has the
    /// bytes, so that size queries are not recorded).
    pub fn audit_wrapped(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        let target = self.key_object(h, key)?;
        self.audit_session_op(h, &target)
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
        let (entry, kek) = self.unwrapping_key(h, m, unwrapping)?;
        let template = policy::merge_template(template, &template_of(&kek, CKA_UNWRAP_TEMPLATE))?;
        let mut value = Zeroizing::new(
            wrapping_cipher(self, entry, &ccm_length(m, wrapped.len(), false), &kek, false)?
                .one_shot(wrapped)
                .map_err(|e| match e {
                    Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                    Error::EncryptedDataLenRange | Error::DataLenRange => Error::WrappedKeyLenRange,
                    other => other,
                })?,
        );
        // A secret key wrapped by ECB or CBC without padding: the value is cut to the length
        // the template's CKA_VALUE_LEN or key type gives (when either does). A key type of
        // any length (generic secret, HMAC) without CKA_VALUE_LEN is CKR_TEMPLATE_INCOMPLETE,
        // as §5.18.4 says: the block padding hides its length, and taking the padded value
        // would make a different key. (An AES key's value is taken whole when it is an AES
        // length: the common AES-256-under-ECB case; 24 bytes padded to 32 need the length.)
        let private = template.iter().any(|a| a.ty == CKA_CLASS && a.value == Value::Ulong(CKO_PRIVATE_KEY));
        // CKM_AES_KEY_WRAP's zero padding (fewer than 8 bytes): a private key's encoding is
        // read up to its end, a secret key is cut to the template's CKA_VALUE_LEN (the AES
        // key wrap section: "not less than n-7 bytes"). Only zero bytes are cut; a length
        // that would drop any other is the template's conflict with the key, reported below.
        if kw_semiblock(entry).is_some() {
            let keep = if private {
                super::pqc::tlv(&value).map(|(_, _, rest)| value.len() - rest.len())
            } else {
                super::kdf::value_len(&template)
            };
            if let Some(n) = keep
                && n < value.len()
                && value.len() - n < 8
                && value[n..].iter().all(|b| *b == 0)
            {
                value.truncate(n);
            }
        }
        if raw_block(entry).is_some() && !private {
            let key_type = super::kdf::key_type(&template);
            let want = super::kdf::value_len(&template).or_else(|| policy::fixed_value_len(key_type));
            match want {
                Some(n) if n > value.len() => return Err(Error::WrappedKeyLenRange),
                Some(n) => value.truncate(n),
                None if !matches!(key_type, CKK_AES | CKK_AES_XTS)
                    && crate::object::attr::VALUE_KEY_TYPES.contains(&key_type) =>
                {
                    return Err(Error::TemplateIncomplete);
                }
                None => {}
            }
        }
        self.create_unwrapped(h, &template, value)
    }

    /// The unwrapping key of C_UnwrapKey or C_UnwrapKeyAuthenticated, checked for `m`.
    fn unwrapping_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        unwrapping: CK_OBJECT_HANDLE,
    ) -> Result<(&'static Entry, std::sync::Arc<Object>)> {
        self.crypto_key(h, unwrapping, m, CKF_UNWRAP, CKA_UNWRAP).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::UnwrappingKeyHandleInvalid,
            Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
            Error::KeySizeRange => Error::UnwrappingKeySizeRange,
            other => other,
        })
    }

    /// The key object an unwrapped `value` makes, by `template` (already merged with the
    /// unwrapping key's CKA_UNWRAP_TEMPLATE).
    fn create_unwrapped(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[Attribute],
        value: Zeroizing<Vec<u8>>,
    ) -> Result<CK_OBJECT_HANDLE> {
        let class = template.iter().find(|a| a.ty == CKA_CLASS).map(|a| a.value.clone());
        let key_type = template.iter().find(|a| a.ty == CKA_KEY_TYPE).and_then(|a| match a.value {
            Value::Ulong(k) => Some(k),
            _ => None,
        });
        let material = match (class, key_type) {
            (Some(Value::Ulong(CKO_PRIVATE_KEY)), Some(kt)) => private_material(&value, kt)?,
            _ => {
                check_secret_len(template, key_type, value.len())?;
                vec![Attribute::new(CKA_VALUE, Value::Bytes(value.into()))]
            }
        };
        self.create_with(h, template, Origin::Unwrap { material })
    }
}

/// An unwrapped (or RSA-decapsulated) secret of `len` bytes against its template: a length
/// that conflicts with the template's CKA_VALUE_LEN or with the lengths of `key_type` is
/// CKR_WRAPPED_KEY_LEN_RANGE (§5.18.3).
pub(super) fn check_secret_len(template: &[Attribute], key_type: Option<CK_KEY_TYPE>, len: usize) -> Result<()> {
    let conflict = super::kdf::value_len(template).is_some_and(|n| n != len)
        || key_type
            .is_some_and(|kt| crate::object::attr::VALUE_KEY_TYPES.contains(&kt) && !policy::value_len_ok(kt, len));
    if conflict { Err(Error::WrappedKeyLenRange) } else { Ok(()) }
}

/// The block of a wrapping mechanism that encrypts without padding (AES or Triple DES, ECB or
/// CBC).
fn raw_block(entry: &Entry) -> Option<usize> {
    match entry.implementation {
        Implementation::Aes(AesMode::Ecb | AesMode::Cbc) => Some(16),
        Implementation::Des3(super::des::Des3Mode::Ecb | super::des::Des3Mode::Cbc) => Some(8),
        _ => None,
    }
}

/// CKM_AES_CCM's wrapping with CK_CCM_PARAMS: the message length is the key's (wrapping,
/// `input` the key) or the wrapped key's less its MAC (unwrapping), whatever ulDataLen says,
/// as 3.2's AES-CCM section has tokens do when wrapping ("Previous versions of the
/// specification state that the application should populate this field. As such, tokens
/// SHALL ignore any value provided in this field").
fn ccm_length(m: &Mechanism, input: usize, wrap: bool) -> std::borrow::Cow<'_, Mechanism> {
    let Params::Ccm { mac_len, .. } = &m.params else {
        return std::borrow::Cow::Borrowed(m);
    };
    let n = if wrap { input } else { input.saturating_sub(*mac_len) };
    let mut m = m.clone();
    if let Params::Ccm { data_len, .. } = &mut m.params {
        *data_len = n;
    }
    std::borrow::Cow::Owned(m)
}

/// An authenticated wrapping's parameter with CCM's message length that of the key: 3.2's
/// AES-CCM section has the caller give 0 ("the token will determine the message/data length
/// ... tokens SHALL ignore any value provided in this field").
fn key_length(p: &MessageParams, n: usize) -> std::borrow::Cow<'_, MessageParams> {
    if p.data_len.is_some_and(|d| d == n) || p.layout != MessageAead::Ccm {
        return std::borrow::Cow::Borrowed(p);
    }
    let mut p = p.clone();
    p.data_len = Some(n);
    std::borrow::Cow::Owned(p)
}

/// The semiblock CKM_AES_KEY_WRAP (RFC 3394) pads a wrapped key to with zero bytes.
fn kw_semiblock(entry: &Entry) -> Option<usize> {
    matches!(entry.implementation, Implementation::Wrap(WrapMode::Kw)).then_some(8)
}

/// The AEAD of an authenticated wrapping mechanism.
fn authenticated_aead(entry: &Entry) -> Result<MessageAead> {
    match entry.implementation {
        Implementation::Aes(AesMode::Gcm) => Ok(MessageAead::Gcm),
        Implementation::Aes(AesMode::Ccm) => Ok(MessageAead::Ccm),
        _ => Err(Error::MechanismInvalid),
    }
}
