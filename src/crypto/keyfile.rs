//! Key and certificate files for `oxihsm import` / `export-pub`, parsed by AWS-LC: private
//! keys as PKCS#8, PKCS#1 (RSA) or SEC1 (EC); public keys as SubjectPublicKeyInfo or PKCS#1;
//! X.509 certificates (DER); and PEM armour around any of them.

use super::ec::{Curve, EcKey, Pkcs8Key, parse_pkcs8};
use super::rsa::RsaKey;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ptr::{NonNull, null_mut};
use zeroize::Zeroizing;

/// A public key's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Result<Vec<u8>> {
        match self {
            PublicKey::Rsa { n, e } => RsaKey::from_parts(&super::rsa::RsaParts {
                n: n.clone(),
                e: e.clone(),
                d: None,
                p: None,
                q: None,
                dp: None,
                dq: None,
                qinv: None,
            })?
            .spki(),
            PublicKey::Ec { curve, point } => EcKey::from_public(*curve, point)?.spki(),
            PublicKey::Ed25519(p) => Ok(super::ec::spki_25519(p, true)),
        }
    }
}

/// Runs `f` over a CBS view of `der`, requiring that it consumes everything.
fn with_cbs<T>(der: &[u8], f: impl FnOnce(*mut sys::CBS) -> Option<T>) -> Option<T> {
    // SAFETY: the CBS views `der`, which outlives the call.
    unsafe {
        let mut cbs: sys::CBS = std::mem::zeroed();
        sys::CBS_init(&mut cbs, der.as_ptr(), der.len());
        let v = f(&mut cbs)?;
        (sys::CBS_len(&cbs) == 0).then_some(v)
    }
}

fn curve_of_nid(nid: std::ffi::c_int) -> Option<Curve> {
    Curve::ALL.into_iter().find(|c| c.nid() == nid)
}

/// The curve of DER ECParameters that spell a curve out (RFC 3279 specifiedCurve) rather than
/// name it, when they are exactly those of a supported curve (AWS-LC matches them
/// against its built-in curves; any other curve is `None`).
pub fn curve_of_explicit(der: &[u8]) -> Option<Curve> {
    struct Group(NonNull<sys::EC_GROUP>);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: returned by the parser, freed once (a built-in group ignores the free).
            unsafe { sys::EC_GROUP_free(self.0.as_ptr()) }
        }
    }
    // SAFETY: the parser reads only the CBS; the group it returns is owned by `Group`.
    let group = with_cbs(der, |cbs| NonNull::new(unsafe { sys::EC_KEY_parse_parameters(cbs) }).map(Group))?;
    // SAFETY: a live group.
    curve_of_nid(unsafe { sys::EC_GROUP_get_curve_name(group.0.as_ptr()) })
}

/// A private key in PKCS#8, PKCS#1 (RSA) or SEC1 (EC, with its curve named) DER.
pub fn parse_private(der: &[u8]) -> Result<Pkcs8Key> {
    if let Ok(k) = parse_pkcs8(der) {
        return Ok(k);
    }
    // SAFETY: the parsers read only the CBS; what they return is owned here and freed by
    // RsaKey / EcKey (or EC_KEY_free on the unsupported-curve path).
    if let Some(rsa) = with_cbs(der, |cbs| NonNull::new(unsafe { sys::RSA_parse_private_key(cbs) })) {
        return Ok(Pkcs8Key::Rsa(RsaKey::from_raw(rsa).parts()));
    }
    // SAFETY: as above; a NULL group makes the parser require the curve in the key.
    if let Some(ec) = with_cbs(der, |cbs| NonNull::new(unsafe { sys::EC_KEY_parse_private_key(cbs, std::ptr::null()) }))
    {
        // SAFETY: a live key with a group.
        let nid = unsafe { sys::EC_GROUP_get_curve_name(sys::EC_KEY_get0_group(ec.as_ptr())) };
        let Some(curve) = curve_of_nid(nid) else {
            // SAFETY: owned, freed once.
            unsafe { sys::EC_KEY_free(ec.as_ptr()) };
            return Err(Error::CurveNotSupported);
        };
        let key = EcKey::from_raw(ec, curve);
        return Ok(Pkcs8Key::Ec(curve, key.scalar().ok_or(Error::DataInvalid)?));
    }
    Err(Error::DataInvalid)
}

/// An encrypted PKCS#8 private key (PBES2 or PKCS#12 PBE) opened with `pass`.
pub fn parse_encrypted_pkcs8(der: &[u8], pass: &[u8]) -> Result<Pkcs8Key> {
    let parse = |cbs: *mut sys::CBS| {
        // SAFETY: the parser reads only the CBS and the password (valid for its length); the
        // EVP_PKEY it returns is owned by PKey below.
        let k = unsafe { sys::PKCS8_parse_encrypted_private_key(cbs, pass.as_ptr().cast(), pass.len()) };
        NonNull::new(k)
    };
    let pk = with_cbs(der, parse).ok_or(Error::PinIncorrect)?;
    let pk = super::rsa::PKey(pk);
    // Re-encoded as plain PKCS#8, the key goes through the one parser.
    parse_pkcs8(&pk.pkcs8()?)
}

/// The public half of an EVP_PKEY we own.
fn public_of(pk: &super::rsa::PKey) -> Result<PublicKey> {
    let p = pk.0.as_ptr();
    // SAFETY: a live key; get1 references are owned by the RsaKey/EcKey made from them.
    unsafe {
        match sys::EVP_PKEY_id(p) {
            sys::EVP_PKEY_RSA => {
                let rsa = NonNull::new(sys::EVP_PKEY_get1_RSA(p)).ok_or(Error::DataInvalid)?;
                let parts = RsaKey::from_raw(rsa).parts();
                Ok(PublicKey::Rsa { n: parts.n, e: parts.e })
            }
            sys::EVP_PKEY_EC => {
                let ec = NonNull::new(sys::EVP_PKEY_get1_EC_KEY(p)).ok_or(Error::DataInvalid)?;
                let nid = sys::EC_GROUP_get_curve_name(sys::EC_KEY_get0_group(ec.as_ptr()));
                let Some(curve) = curve_of_nid(nid) else {
                    sys::EC_KEY_free(ec.as_ptr());
                    return Err(Error::CurveNotSupported);
                };
                Ok(PublicKey::Ec { curve, point: EcKey::from_raw(ec, curve).point() })
            }
            sys::EVP_PKEY_ED25519 => {
                let mut out = vec![0u8; 32];
                let mut n = 32usize;
                if sys::EVP_PKEY_get_raw_public_key(p, out.as_mut_ptr(), &mut n) != 1 || n != 32 {
                    return Err(Error::DataInvalid);
                }
                Ok(PublicKey::Ed25519(out))
            }
            _ => Err(Error::DataInvalid),
        }
    }
}

/// A public key in SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER.
pub fn parse_public(der: &[u8]) -> Result<PublicKey> {
    // SAFETY: the parser reads only the CBS; the EVP_PKEY is owned by PKey.
    if let Some(pk) = with_cbs(der, |cbs| NonNull::new(unsafe { sys::EVP_parse_public_key(cbs) })) {
        return public_of(&super::rsa::PKey(pk));
    }
    // SAFETY: as above, for an RSA owned by RsaKey.
    if let Some(rsa) = with_cbs(der, |cbs| NonNull::new(unsafe { sys::RSA_parse_public_key(cbs) })) {
        let parts = RsaKey::from_raw(rsa).parts();
        return Ok(PublicKey::Rsa { n: parts.n, e: parts.e });
    }
    Err(Error::DataInvalid)
}

/// The fields of an X.509 certificate a PKCS#11 certificate object carries.
#[derive(Debug)]
pub struct Certificate {
    /// DER of the subject Name.
    pub subject: Vec<u8>,
    /// DER of the issuer Name.
    pub issuer: Vec<u8>,
    /// DER of the serial number INTEGER.
    pub serial: Vec<u8>,
    /// The subject public key, when oxihsm knows its algorithm.
    pub public: Option<PublicKey>,
}

struct X509(NonNull<sys::X509>);

impl Drop for X509 {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::X509_free(self.0.as_ptr()) }
    }
}

/// `i2d` into a fresh Vec.
fn i2d(f: impl Fn(*mut *mut u8) -> std::ffi::c_int) -> Result<Vec<u8>> {
    let n = f(null_mut());
    if n <= 0 {
        return Err(Error::DataInvalid);
    }
    let mut out = vec![0u8; n as usize];
    let mut p = out.as_mut_ptr();
    if f(&mut p) != n {
        return Err(Error::DataInvalid);
    }
    Ok(out)
}

/// Parses a DER X.509 certificate (all of `der`).
pub fn parse_certificate(der: &[u8]) -> Result<Certificate> {
    let mut p = der.as_ptr();
    // SAFETY: d2i reads at most `der.len()` bytes from `p` and advances it; the result is owned.
    let cert =
        X509(NonNull::new(unsafe { sys::d2i_X509(null_mut(), &mut p, der.len() as _) }).ok_or(Error::DataInvalid)?);
    // SAFETY: `p` points into `der`, at or after its start.
    if unsafe { p.offset_from(der.as_ptr()) } as usize != der.len() {
        return Err(Error::DataInvalid);
    }
    let c = cert.0.as_ptr();
    // SAFETY: get0 views of the live certificate; i2d writes into buffers sized by a first
    // call; the public key is a new reference owned by PKey.
    unsafe {
        let subject = i2d(|o| sys::i2d_X509_NAME(sys::X509_get_subject_name(c), o))?;
        let issuer = i2d(|o| sys::i2d_X509_NAME(sys::X509_get_issuer_name(c), o))?;
        let serial = i2d(|o| sys::i2d_ASN1_INTEGER(sys::X509_get0_serialNumber(c), o))?;
        let public = NonNull::new(sys::X509_get_pubkey(c)).and_then(|pk| public_of(&super::rsa::PKey(pk)).ok());
        Ok(Certificate { subject, issuer, serial, public })
    }
}

/// The DER inside PEM armour: every block, with its label, in order.
pub fn pem_blocks(text: &[u8]) -> Vec<(String, Zeroizing<Vec<u8>>)> {
    use base64::Engine;
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line.trim().strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            continue;
        };
        let mut b64 = Zeroizing::new(String::new());
        for l in lines.by_ref() {
            if l.trim().starts_with("-----END ") {
                break;
            }
            if !l.contains(':') {
                b64.push_str(l.trim());
            }
        }
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
            out.push((label.to_string(), Zeroizing::new(der)));
        }
    }
    out
}

/// PEM armour around `der`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}
