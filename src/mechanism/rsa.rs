//! RSA mechanisms (PKCS#11 3.2 §6.1): CKM_RSA_PKCS (signing over a caller's DigestInfo,
//! PKCS#1 v1.5 encryption), CKM_RSA_X_509, CKM_RSA_PKCS_PSS (any salt length, MGF1 hash
//! independent of the message hash), CKM_RSA_PKCS_OAEP (SHA-1/SHA-2/SHA-3, any MGF1, label),
//! and the hashed SHA-1/SHA-2/SHA-3 variants of PKCS#1 v1.5 and PSS signing (multi-part),
//! and MD5 with PKCS#1 v1.5 as SoftHSMv2 offers it.

use super::digest::Engine;
use super::keys::ParsedKey;
use super::ops::{Cipher, Mac};
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::Hash;
use crate::crypto::rsa::RsaPadding;
use crate::error::{Error, Result};
use crate::secret::Bytes;
use cryptoki_sys::*;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What an RSA entry does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaScheme {
    /// CKM_RSA_PKCS: v1.5 signing of the caller's data (a DigestInfo), v1.5 encryption.
    Pkcs1,
    /// CKM_RSA_X_509: raw RSA.
    Raw,
    /// CKM_RSA_PKCS_PSS: PSS over the caller's hash.
    Pss,
    /// CKM_RSA_PKCS_OAEP.
    Oaep,
    /// `CKM_<hash>_RSA_PKCS`.
    HashPkcs1(Hash),
    /// `CKM_<hash>_RSA_PKCS_PSS`.
    HashPss(Hash),
}

/// (mechanism, hash) for the hash-then-sign variants.
const HASHED: [(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, Hash); 9] = [
    (CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, Hash::Sha1),
    (CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, Hash::Sha224),
    (CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, Hash::Sha256),
    (CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, Hash::Sha384),
    (CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, Hash::Sha512),
    (CKM_SHA3_224_RSA_PKCS, CKM_SHA3_224_RSA_PKCS_PSS, Hash::Sha3_224),
    (CKM_SHA3_256_RSA_PKCS, CKM_SHA3_256_RSA_PKCS_PSS, Hash::Sha3_256),
    (CKM_SHA3_384_RSA_PKCS, CKM_SHA3_384_RSA_PKCS_PSS, Hash::Sha3_384),
    (CKM_SHA3_512_RSA_PKCS, CKM_SHA3_512_RSA_PKCS_PSS, Hash::Sha3_512),
];

pub fn register(r: &mut Registry) {
    let e = |ty, flags, params, scheme| Entry {
        ty,
        info: info(1024, 16384, flags),
        params,
        key_types: &[CKK_RSA],
        implementation: Implementation::Rsa(scheme),
    };
    let sv = CKF_SIGN | CKF_VERIFY;
    let recover = CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER;
    // Also 3.2's KEMs: C_EncapsulateKey wraps a fresh secret key, C_DecapsulateKey unwraps it
    // (src/mechanism/pqc.rs). Raw RSA neither wraps nor encapsulates here.
    let wrap = CKF_WRAP | CKF_UNWRAP | CKF_ENCAPSULATE | CKF_DECAPSULATE;
    r.add(e(CKM_RSA_PKCS, sv | recover | CKF_ENCRYPT | CKF_DECRYPT | wrap, ParamShape::None, RsaScheme::Pkcs1));
    r.add(e(CKM_RSA_X_509, sv | recover | CKF_ENCRYPT | CKF_DECRYPT, ParamShape::None, RsaScheme::Raw));
    r.add(e(CKM_RSA_PKCS_PSS, sv, ParamShape::RsaPss, RsaScheme::Pss));
    r.add(e(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT | wrap, ParamShape::RsaOaep, RsaScheme::Oaep));
    for (pkcs, pss, h) in HASHED {
        r.add(e(pkcs, sv, ParamShape::None, RsaScheme::HashPkcs1(h)));
        r.add(e(pss, sv, ParamShape::RsaPss, RsaScheme::HashPss(h)));
    }
    // SoftHSMv2 offers MD5 with PKCS #1 v1.5 (for old signatures); no MD5 PSS exists.
    r.add(e(CKM_MD5_RSA_PKCS, sv, ParamShape::None, RsaScheme::HashPkcs1(Hash::Md5)));
    r.add(Entry {
        ty: CKM_RSA_PKCS_KEY_PAIR_GEN,
        info: info(
            crate::crypto::rsa::GENERATE_MIN_BITS as CK_ULONG,
            crate::crypto::rsa::GENERATE_MAX_BITS as CK_ULONG,
            CKF_GENERATE_KEY_PAIR,
        ),
        params: ParamShape::None,
        key_types: &[],
        implementation: Implementation::KeyPair(super::keypair::PairKind::Rsa),
    });
}

/// The DER DigestInfo prefix for `h` (RFC 8017 §9.2 note 1; SHA-3 from NIST's OIDs).
fn digest_info_prefix(h: Hash) -> &'static [u8] {
    match h {
        Hash::Sha1 => &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14],
        Hash::Sha224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04,
            0x1c,
        ],
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
            0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
            0x40,
        ],
        Hash::Sha3_224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x07, 0x05, 0x00, 0x04,
            0x1c,
        ],
        Hash::Sha3_256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x08, 0x05, 0x00, 0x04,
            0x20,
        ],
        Hash::Sha3_384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x09, 0x05, 0x00, 0x04,
            0x30,
        ],
        Hash::Sha3_512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x0a, 0x05, 0x00, 0x04,
            0x40,
        ],
        Hash::Md5 => &[
            0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10,
        ],
        _ => &[],
    }
}

/// The hash a mechanism type (CKM_SHA_1, CKM_SHA256 ...) names.
pub fn hash_of_mechanism(ty: CK_MECHANISM_TYPE) -> Result<Hash> {
    super::digest::DIGESTS.iter().find(|(t, _)| *t == ty).map(|(_, h)| *h).ok_or(Error::MechanismParamInvalid)
}

/// The MGF1 hash a CKG_MGF1_* value names.
pub fn hash_of_mgf(mgf: CK_RSA_PKCS_MGF_TYPE) -> Result<Hash> {
    Ok(match mgf {
        CKG_MGF1_SHA1 => Hash::Sha1,
        CKG_MGF1_SHA224 => Hash::Sha224,
        CKG_MGF1_SHA256 => Hash::Sha256,
        CKG_MGF1_SHA384 => Hash::Sha384,
        CKG_MGF1_SHA512 => Hash::Sha512,
        CKG_MGF1_SHA3_224 => Hash::Sha3_224,
        CKG_MGF1_SHA3_256 => Hash::Sha3_256,
        CKG_MGF1_SHA3_384 => Hash::Sha3_384,
        CKG_MGF1_SHA3_512 => Hash::Sha3_512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

fn rsa(key: &ParsedKey) -> Result<&crate::crypto::rsa::RsaKey> {
    match key {
        ParsedKey::Rsa(k) => Ok(k),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// PSS parameters: message hash, MGF1 hash, salt length.
type PssParams = (Hash, Hash, usize);

/// What a finished RSA signer holds: key, scheme, PSS parameters and the message
/// representative.
type SignInput = (Arc<ParsedKey>, RsaScheme, Option<PssParams>, Bytes);

/// An RSA signature (or verification) in progress.
struct RsaSign {
    key: Arc<ParsedKey>,
    scheme: RsaScheme,
    pss: Option<PssParams>,
    hasher: Option<Engine>,
    buf: Bytes,
    len: usize,
}

impl RsaSign {
    /// The message representative: the caller's data, or its hash.
    fn input(self: Box<Self>) -> SignInput {
        let RsaSign { key, scheme, pss, hasher, buf, .. } = *self;
        let data = match hasher {
            Some(h) => Bytes::new(h.finish()),
            None => buf,
        };
        (key, scheme, pss, data)
    }
}

impl Mac for RsaSign {
    fn update(&mut self, data: &[u8]) {
        match &mut self.hasher {
            Some(h) => h.update(data),
            None => self.buf.extend_from_slice(data),
        }
    }

    fn finish(self: Box<Self>) -> Bytes {
        // Errors cannot be returned here: sign through `try_finish`.
        self.try_finish().unwrap_or_default()
    }

    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        let (key, scheme, pss, data) = self.input();
        let k = rsa(&key)?;
        let sig = match (scheme, pss) {
            (RsaScheme::Pkcs1, _) => k.sign_raw(&data, true)?,
            (RsaScheme::Raw, _) => k.sign_raw(&data, false)?,
            (RsaScheme::HashPkcs1(h), _) => k.sign_raw(&[digest_info_prefix(h), &data[..]].concat(), true)?,
            (RsaScheme::Pss | RsaScheme::HashPss(_), Some((h, mgf, salt))) => {
                if data.len() != h.output_len() {
                    return Err(Error::DataLenRange);
                }
                k.sign_pss(&data, h, mgf, salt)?
            }
            _ => return Err(Error::MechanismInvalid),
        };
        Ok(Bytes::new(sig))
    }

    fn output_len(&self) -> usize {
        self.len
    }

    fn check(self: Box<Self>, sig: &[u8]) -> Result<()> {
        let (key, scheme, pss, data) = self.input();
        let k = rsa(&key)?;
        let expect = |want: &[u8], pkcs1: bool| -> Result<()> {
            let got = k.verify_raw(sig, pkcs1)?;
            if bool::from(got.ct_eq(want)) { Ok(()) } else { Err(Error::SignatureInvalid) }
        };
        match (scheme, pss) {
            (RsaScheme::Pkcs1, _) => expect(&data, true),
            (RsaScheme::Raw, _) => {
                let mut want = vec![0u8; k.size().saturating_sub(data.len())];
                want.extend_from_slice(&data);
                expect(&want, false)
            }
            (RsaScheme::HashPkcs1(h), _) => expect(&[digest_info_prefix(h), &data[..]].concat(), true),
            (RsaScheme::Pss | RsaScheme::HashPss(_), Some((h, mgf, salt))) => {
                if data.len() != h.output_len() {
                    return Err(Error::DataLenRange);
                }
                k.verify_pss(&data, h, mgf, salt, sig)
            }
            _ => Err(Error::MechanismInvalid),
        }
    }
}

/// Builds an RSA signer/verifier.
pub fn signer(scheme: RsaScheme, m: &Mechanism, key: Arc<ParsedKey>) -> Result<Box<dyn Mac>> {
    let len = rsa(&key)?.size();
    let pss = match (&m.params, scheme) {
        (Params::Pss { hash, mgf, salt }, RsaScheme::Pss | RsaScheme::HashPss(_)) => {
            let h = hash_of_mechanism(*hash)?;
            if let RsaScheme::HashPss(mh) = scheme
                && mh != h
            {
                return Err(Error::MechanismParamInvalid);
            }
            let mgf = hash_of_mgf(*mgf)?;
            if *salt + h.output_len() + 2 > len {
                return Err(Error::MechanismParamInvalid);
            }
            Some((h, mgf, *salt))
        }
        (Params::None, RsaScheme::Pkcs1 | RsaScheme::Raw | RsaScheme::HashPkcs1(_)) => None,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let hasher = match scheme {
        RsaScheme::HashPkcs1(h) | RsaScheme::HashPss(h) => Some(Engine::new(h)?),
        _ => None,
    };
    Ok(Box::new(RsaSign { key, scheme, pss, hasher, buf: Bytes::default(), len }))
}

/// An RSA encryption or decryption (single-part; parts are gathered).
struct RsaCrypt {
    key: Arc<ParsedKey>,
    scheme: RsaScheme,
    oaep: Option<(Hash, Hash, Vec<u8>)>,
    encrypt: bool,
    buf: Bytes,
}

impl Cipher for RsaCrypt {
    fn check_len(&self, n: usize) -> Result<()> {
        let padding = match (self.scheme, &self.oaep) {
            (RsaScheme::Oaep, Some((h, _, _))) => RsaPadding::Oaep(*h),
            (RsaScheme::Pkcs1, _) => RsaPadding::Pkcs1,
            _ => RsaPadding::Raw,
        };
        rsa(&self.key)?.check_input(padding, self.encrypt, n)
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let data = std::mem::take(&mut self.buf);
        self.one_shot(&data)
    }

    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let k = rsa(&self.key)?;
        Ok(match (self.scheme, &self.oaep, self.encrypt) {
            (RsaScheme::Pkcs1, _, true) => k.encrypt(data, true)?,
            (RsaScheme::Raw, _, true) => k.encrypt(data, false)?,
            (RsaScheme::Pkcs1, _, false) => k.decrypt(data, true)?.to_vec(),
            (RsaScheme::Raw, _, false) => k.decrypt(data, false)?.to_vec(),
            (RsaScheme::Oaep, Some((h, mgf, label)), enc) => k.oaep(data, *h, *mgf, label, enc)?.to_vec(),
            _ => return Err(Error::MechanismInvalid),
        })
    }

    fn update_bound(&self, _n: usize) -> usize {
        0
    }

    fn final_bound(&self) -> usize {
        rsa(&self.key).map(|k| k.size()).unwrap_or(0)
    }
}

/// Builds an RSA cipher.
pub fn cipher(scheme: RsaScheme, m: &Mechanism, key: Arc<ParsedKey>, encrypt: bool) -> Result<Box<dyn Cipher>> {
    rsa(&key)?;
    let oaep = match (&m.params, scheme) {
        (Params::Oaep { hash, mgf, label }, RsaScheme::Oaep) => {
            Some((hash_of_mechanism(*hash)?, hash_of_mgf(*mgf)?, label.clone()))
        }
        (Params::None, RsaScheme::Pkcs1 | RsaScheme::Raw) => None,
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(Box::new(RsaCrypt { key, scheme, oaep, encrypt, buf: Bytes::default() }))
}

/// C_SignRecover / C_VerifyRecover for CKM_RSA_PKCS and CKM_RSA_X_509.
struct Recover {
    key: Arc<ParsedKey>,
    pkcs1: bool,
    sign: bool,
    buf: Bytes,
}

impl Cipher for Recover {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let data = std::mem::take(&mut self.buf);
        self.one_shot(&data)
    }
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let k = rsa(&self.key)?;
        if self.sign { k.sign_raw(data, self.pkcs1) } else { k.verify_raw(data, self.pkcs1) }
    }
    fn update_bound(&self, _n: usize) -> usize {
        0
    }
    fn final_bound(&self) -> usize {
        rsa(&self.key).map(|k| k.size()).unwrap_or(0)
    }
}

/// Builds a signature-with-recovery (`sign`) or recovery operation.
pub fn recover(scheme: RsaScheme, m: &Mechanism, key: Arc<ParsedKey>, sign: bool) -> Result<Box<dyn Cipher>> {
    rsa(&key)?;
    let pkcs1 = match (scheme, &m.params) {
        (RsaScheme::Pkcs1, Params::None) => true,
        (RsaScheme::Raw, Params::None) => false,
        _ => return Err(Error::MechanismInvalid),
    };
    Ok(Box::new(Recover { key, pkcs1, sign, buf: Bytes::default() }))
}
