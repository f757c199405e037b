//! The library called from threads with small stacks: applications call a module from their
//! own threads, and not every thread has glibc's 8 MiB (musl's default is 128 KiB, a JVM
//! thread's 1 MiB, and programs size their workers themselves). Token set-up, login, every
//! family of key generation, signing, verification, encryption, key agreement,
//! encapsulation and token objects in the store run on a thread with a small stack; a
//! deeper stack than it has crashes the test process (a guard-page fault), as it would the
//! application's.

mod common;
use common::asymmetric::{ED25519, P256, P521, X25519};
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass};
use cryptoki::session::Session;

/// The stack the work gets: musl's default for a thread. The debug build the tests load
/// needs about 64 KiB of it now, the release build about 48 KiB. Before, C_Initialize took
/// over 200 KiB in the debug build and about 75 KiB in the release one, and AWS-LC's
/// ML-DSA-87 signing about 110 KiB (the release build needed over 112 KiB in all); both now
/// run on a fresh stack when the thread has less than 512 KiB left (src/stack.rs).
const STACK: usize = 128 * 1024;

fn pair(
    s: &Session,
    m: &Mechanism,
    public: &[Attribute],
    private: &[Attribute],
) -> (cryptoki::object::ObjectHandle, cryptoki::object::ObjectHandle) {
    s.generate_key_pair(m, public, private).unwrap()
}

fn work() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "small stack");
    let s = user_session(&p, slot);
    let msg = b"called from a thread with a small stack".to_vec();

    // AES-GCM and HMAC on token keys (sealed in the store).
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    let mut iv = [5u8; 12];
    let ct = s.encrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()), aes, &msg).unwrap();
    let pt = s.decrypt(&Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()), aes, &ct).unwrap();
    assert_eq!(pt, msg);
    let hmac = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::Token(true), Attribute::ValueLen(32.into()), Attribute::Sign(true), Attribute::Verify(true)],
        )
        .unwrap();
    let tag = s.sign(&Mechanism::Sha256Hmac, hmac, &msg).unwrap();
    s.verify(&Mechanism::Sha256Hmac, hmac, &msg, &tag).unwrap();

    // RSA-2048: PSS and OAEP.
    let (rsa_pub, rsa_priv) = pair(
        &s,
        &Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::ModulusBits(2048.into()), Attribute::Verify(true), Attribute::Encrypt(true)],
        &[Attribute::Token(true), Attribute::Sign(true), Attribute::Decrypt(true)],
    );
    let sig = s.sign(&Mechanism::Sha256RsaPkcs, rsa_priv, &msg).unwrap();
    s.verify(&Mechanism::Sha256RsaPkcs, rsa_pub, &msg, &sig).unwrap();
    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        cryptoki::mechanism::MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ));
    let ct = s.encrypt(&oaep, rsa_pub, &msg).unwrap();
    assert_eq!(s.decrypt(&oaep, rsa_priv, &ct).unwrap(), msg);

    // ECDSA on P-256 and P-521, Ed25519, ECDH on X25519.
    for params in [P256, P521] {
        let (public, private) = pair(
            &s,
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(params.to_vec()), Attribute::Verify(true)],
            &[Attribute::Token(true), Attribute::Sign(true)],
        );
        let sig = s.sign(&Mechanism::Ecdsa, private, &[7u8; 32]).unwrap();
        s.verify(&Mechanism::Ecdsa, public, &[7u8; 32], &sig).unwrap();
    }
    let (ed_pub, ed_priv) = pair(
        &s,
        &Mechanism::EccEdwardsKeyPairGen,
        &[Attribute::EcParams(ED25519.to_vec()), Attribute::Verify(true)],
        &[Attribute::Sign(true)],
    );
    let eddsa = Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
        cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
    ));
    let sig = s.sign(&eddsa, ed_priv, &msg).unwrap();
    s.verify(&eddsa, ed_pub, &msg, &sig).unwrap();
    let (x_pub, x_priv) = pair(
        &s,
        &Mechanism::EccMontgomeryKeyPairGen,
        &[Attribute::EcParams(X25519.to_vec())],
        &[Attribute::Derive(true)],
    );
    let point = match &s.get_attributes(x_pub, &[cryptoki::object::AttributeType::EcPoint]).unwrap()[0] {
        Attribute::EcPoint(p) => p.clone(),
        other => panic!("{other:?}"),
    };
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &point)),
            x_priv,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::ValueLen(32.into()),
            ],
        )
        .unwrap();
    assert_ne!(derived.handle(), 0);

    // ML-DSA-87 and ML-KEM-1024, the largest parameter sets.
    let (dsa_pub, dsa_priv) = pair(
        &s,
        &Mechanism::MlDsaKeyPairGen,
        &[Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_87.into()), Attribute::Verify(true)],
        &[Attribute::Token(true), Attribute::Sign(true)],
    );
    let mldsa = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None));
    let sig = s.sign(&mldsa, dsa_priv, &msg).unwrap();
    s.verify(&mldsa, dsa_pub, &msg, &sig).unwrap();
    let (kem_pub, kem_priv) = pair(
        &s,
        &Mechanism::MlKemKeyPairGen,
        &[Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_1024.into()), Attribute::Encapsulate(true)],
        &[Attribute::Decapsulate(true)],
    );
    let secret = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Extractable(true),
        Attribute::Sensitive(false),
    ];
    let (ct, k1) = s.encapsulate_key(&Mechanism::MlKem, kem_pub, &secret).unwrap();
    let k2 = s.decapsulate_key(&Mechanism::MlKem, kem_priv, &secret, &ct).unwrap();
    let value = |k| s.get_attributes(k, &[cryptoki::object::AttributeType::Value]).unwrap();
    assert_eq!(value(k1), value(k2));

    // The token objects are found again by a fresh module instance's search.
    s.logout().unwrap();
    drop(s);
    p.finalize().unwrap();
    let p = h.ctx();
    let s = user_session(&p, slot);
    let found = s.find_objects(&[Attribute::Token(true)]).unwrap();
    assert_eq!(found.len(), 6, "{found:?}");
}

#[test]
fn every_family_runs_on_a_thread_with_a_small_stack() {
    let kib = std::env::var("SMALL_STACK_KIB").ok().and_then(|v| v.parse::<usize>().ok());
    std::thread::Builder::new().stack_size(kib.map_or(STACK, |k| k * 1024)).spawn(work).unwrap().join().unwrap();
}
