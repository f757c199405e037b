//! What the two command-line tools (`oxihsm` and `softhsm2-util`) both need to turn key files
//! into PKCS#11 templates through the `cryptoki` crate: the Ed25519 identifier, EC points, public
//! key and certificate templates, the engine's attributes as cryptoki's, and CKR names.
//! Included by each tool with `#[path]` (a binary cannot depend on another).

use cryptoki::error::RvError;
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};
use oxihsm::crypto::ec::Pkcs8Key;
use oxihsm::crypto::keyfile::{Certificate, PublicKey};

pub const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// A DER OCTET STRING around `b` (CKA_EC_POINT).
pub fn octet_string(b: &[u8]) -> Vec<u8> {
    let mut v = vec![0x04];
    if b.len() < 128 {
        v.push(b.len() as u8);
    } else {
        v.extend_from_slice(&[0x81, b.len() as u8]);
    }
    v.extend_from_slice(b);
    v
}

pub use oxihsm::hex::decode as unhex;

/// A public key object's class, key type, material and CKA_VERIFY (and CKA_ENCRYPT for RSA).
pub fn public_attrs(k: &PublicKey) -> Vec<Attribute> {
    let mut t = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
    match k {
        PublicKey::Rsa { n, e } => t.extend([
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(e.clone()),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
        ]),
        PublicKey::Ec { curve, point } => t.extend([
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(curve.oid().to_vec()),
            Attribute::EcPoint(octet_string(point)),
            Attribute::Verify(true),
        ]),
        PublicKey::Ed25519(p) => t.extend([
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::EcPoint(octet_string(p)),
            Attribute::Verify(true),
        ]),
    }
    t
}

/// The public half of a private key.
pub fn public_of(k: &Pkcs8Key) -> Result<PublicKey, String> {
    Ok(match k {
        Pkcs8Key::Rsa(p) => PublicKey::Rsa { n: p.n.clone(), e: p.e.clone() },
        Pkcs8Key::Ec(c, d) => PublicKey::Ec {
            curve: *c,
            point: oxihsm::crypto::ec::EcKey::from_private(*c, d).map_err(|e| e.to_string())?.point(),
        },
        Pkcs8Key::Ed25519(d) => PublicKey::Ed25519(oxihsm::crypto::ec::ed25519_public(d).map_err(|e| e.to_string())?),
        Pkcs8Key::X25519(_) => return Err("X25519 keys are not imported by this command".into()),
        Pkcs8Key::Dsa(_) => return Err("DSA keys are not imported by this command".into()),
    })
}

/// An X.509 certificate object's template (`der` is the whole certificate).
pub fn certificate_attrs(der: Vec<u8>, c: Certificate) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Subject(c.subject),
        Attribute::Issuer(c.issuer),
        Attribute::SerialNumber(c.serial),
        Attribute::Value(der),
    ]
}

/// The engine's byte-string attributes (key material) as the cryptoki crate's.
pub fn to_cryptoki(attrs: &[oxihsm::object::Attribute]) -> Result<Vec<Attribute>, String> {
    attrs
        .iter()
        .map(|a| {
            let oxihsm::object::Value::Bytes(b) = &a.value else {
                return Err("unexpected attribute shape".to_string());
            };
            let raw = cryptoki_sys::CK_ATTRIBUTE {
                type_: a.ty,
                pValue: b.as_ptr().cast_mut().cast(),
                ulValueLen: b.len() as cryptoki_sys::CK_ULONG,
            };
            Attribute::try_from(raw).map_err(|e| e.to_string())
        })
        .collect()
}

/// The specification's name of a code: `PinIncorrect` is CKR_PIN_INCORRECT.
pub fn ckr_name(rv: RvError) -> String {
    let mut s = String::from("CKR");
    for c in format!("{rv:?}").chars() {
        if c.is_ascii_uppercase() || (c.is_ascii_digit() && !s.ends_with(|p: char| p.is_ascii_digit())) {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}
