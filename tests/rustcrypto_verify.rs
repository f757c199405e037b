//! Token signatures verified by the RustCrypto crates (rsa, p256, p384, ed25519-dalek) as an
//! independent implementation, and RustCrypto signatures verified by the token; RSA-OAEP
//! ciphertexts from the rsa crate decrypted inside and the token's decrypted outside.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn env() -> (Harness, cryptoki::context::Pkcs11, RawSession) {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "rustcrypto");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    std::mem::forget(sess);
    (h, p, s)
}

fn pair(s: &RawSession, m: CK_MECHANISM_TYPE, mut public: T, mut private: T) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(m, &mut public, &mut private).unwrap()
}

/// The raw point inside a DER-wrapped CKA_EC_POINT.
fn point(s: &RawSession, k: CK_OBJECT_HANDLE) -> Vec<u8> {
    let der = s.get_bytes(k, CKA_EC_POINT).unwrap();
    der[2..].to_vec()
}

#[test]
fn rsa_both_ways() {
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPublicKey};
    use sha2::{Digest, Sha256};
    let (_h, _p, s) = env();
    let (pubk, privk) = pair(&s, CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), T::default());
    let n = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_MODULUS).unwrap());
    let e = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_PUBLIC_EXPONENT).unwrap());
    let key = RsaPublicKey::new(n, e).unwrap();
    assert_eq!(key.size(), 256);
    let msg = b"verified by the rsa crate";
    let digest = Sha256::digest(msg);
    let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), privk, msg).unwrap();
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).unwrap();
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: 32 };
    let sig = s.sign(&mut mech(CKM_SHA256_RSA_PKCS_PSS, Some(&mut pss)), privk, msg).unwrap();
    key.verify(Pss::new_with_salt::<Sha256>(32), &digest, &sig).unwrap();
    // OAEP from outside, decrypted inside.
    let mut rng = rsa::rand_core::OsRng;
    let ct = key.encrypt(&mut rng, Oaep::new::<Sha256>(), msg).unwrap();
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: 0,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    assert_eq!(s.decrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), privk, &ct).unwrap(), msg);
}

#[test]
fn ecdsa_p256_p384_both_ways() {
    use p256::ecdsa::signature::{Signer, Verifier};
    let (_h, _p, s) = env();
    let msg = b"verified by the p256 and p384 crates";
    let (pubk, privk) = pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        T::default(),
    );
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point(&s, pubk)).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), privk, msg).unwrap();
    vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
    // What p256 signs, the token verifies (key imported as a public key).
    let sk = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let ext: p256::ecdsa::Signature = sk.sign(msg);
    let pt = sk.verifying_key().to_encoded_point(false);
    let imported = s
        .create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
                .bytes(CKA_EC_POINT, pt.as_bytes()),
        )
        .unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), imported, msg, &ext.to_bytes()).unwrap();

    let (pubk, privk) = pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
        T::default(),
    );
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point(&s, pubk)).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA384, None), privk, msg).unwrap();
    vk.verify(msg, &p384::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
}

#[test]
fn ed25519_both_ways() {
    use ed25519_dalek::{Signer, Verifier};
    let (_h, _p, s) = env();
    let msg = b"verified by ed25519-dalek";
    let (pubk, privk) = pair(
        &s,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70]),
        T::default(),
    );
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&point(&s, pubk).try_into().unwrap()).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_EDDSA, None), privk, msg).unwrap();
    vk.verify(msg, &ed25519_dalek::Signature::from_slice(&sig).unwrap()).unwrap();
    let sk = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let imported = s
        .create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])
                .bytes(CKA_EC_POINT, sk.verifying_key().as_bytes()),
        )
        .unwrap();
    s.verify(&mut mech::<u8>(CKM_EDDSA, None), imported, msg, &sk.sign(msg).to_bytes()).unwrap();
    // The same seed inside the token signs identically (Ed25519 is deterministic).
    let inside = s
        .create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])
                .bytes(CKA_VALUE, &[42u8; 32]),
        )
        .unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_EDDSA, None), inside, msg).unwrap(), sk.sign(msg).to_bytes());
}
