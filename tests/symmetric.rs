//! Symmetric mechanisms through liboxihsm.so, cross-checked with the RustCrypto crates as
//! an independent implementation: key generation, AES modes single- and multi-part, MACs,
//! size queries and short buffers, and the error codes for bad parameters, wrong keys,
//! missing usage flags, CKA_ALLOWED_MECHANISMS and tampered tags. AES's stream, CTS and XTS
//! modes are in tests/aes_modes.rs; DES, ChaCha20-Poly1305 and PBKDF2 in
//! tests/des_chacha_pbkdf2.rs.

mod common;
use common::symmetric::*;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

#[test]
fn aes_modes_agree_with_rustcrypto() {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, StreamCipher, block_padding::Pkcs7};
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let e = env();
    let s = &e.s;
    let key = random(32);
    let k = s.secret_key(CKK_AES, &key).unwrap();
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    for len in [0usize, 1, 15, 16, 17, 100, 4096 + 3] {
        let data = random(len);
        // CBC_PAD vs the cbc crate.
        let want =
            cbc::Encryptor::<aes::Aes256>::new((&key[..]).into(), (&iv).into()).encrypt_padded_vec_mut::<Pkcs7>(&data);
        let got = s.encrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), k, &data).unwrap();
        assert_eq!(got, want, "CBC_PAD {len}");
        // The size query of a single-part padded encryption is exact (the padding is known
        // before the work is done).
        let mut n = 0;
        // SAFETY: live mechanism and input; a NULL output asks for the length.
        unsafe {
            assert_eq!(s.lib.C_EncryptInit(s.h, &mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), k), CKR_OK);
            let mut d = data.clone();
            assert_eq!(s.lib.C_Encrypt(s.h, d.as_mut_ptr(), len as CK_ULONG, null_mut(), &mut n), CKR_OK);
            assert_eq!(n as usize, want.len(), "CBC_PAD size query for {len} bytes");
            assert_eq!(s.lib.C_EncryptInit(s.h, null_mut(), k), CKR_OK);
        }
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), k, &got).unwrap(), data);
        // CTR with a 128-bit counter vs the ctr crate.
        let mut p = CK_AES_CTR_PARAMS { ulCounterBits: 128, cb: iv };
        let mut want = data.clone();
        ctr::Ctr128BE::<aes::Aes256>::new((&key[..]).into(), (&iv).into()).apply_keystream(&mut want);
        assert_eq!(s.encrypt(&mut mech(CKM_AES_CTR, Some(&mut p)), k, &data).unwrap(), want, "CTR {len}");
        // GCM with a 96-bit IV and AAD vs aes-gcm.
        let nonce = random(12);
        let aad = random(len % 40);
        let want = aes_gcm::Aes256Gcm::new((&key[..]).into())
            .encrypt((&nonce[..]).into(), Payload { msg: &data, aad: &aad })
            .unwrap();
        let (mut n, mut a) = (nonce.clone(), aad.clone());
        let mut gp = gcm_params(&mut n, Some(&mut a), 128);
        let got = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), k, &data).unwrap();
        assert_eq!(got, want, "GCM {len}");
        // In place (PKCS#11 lets input and output share a buffer) gives the same result.
        let mut buf = data.clone();
        buf.resize(len + 16, 0);
        let mut m = mech(CKM_AES_GCM, Some(&mut gp));
        let mut out_len = buf.len() as CK_ULONG;
        // SAFETY: one buffer of len + 16 bytes used as the len-byte input and the output.
        unsafe {
            assert_eq!(s.lib.C_EncryptInit(s.h, &mut m, k), CKR_OK);
            let p = buf.as_mut_ptr();
            assert_eq!(s.lib.C_Encrypt(s.h, p, len as CK_ULONG, p, &mut out_len), CKR_OK, "in-place GCM {len}");
        }
        assert_eq!(&buf[..out_len as usize], &want[..], "in-place GCM {len}");
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), k, &got).unwrap(), data);
        if len % 16 == 0 {
            let want = cbc::Encryptor::<aes::Aes256>::new((&key[..]).into(), (&iv).into())
                .encrypt_padded_vec_mut::<aes::cipher::block_padding::NoPadding>(&data);
            assert_eq!(s.encrypt(&mut mech(CKM_AES_CBC, Some(&mut iv)), k, &data).unwrap(), want);
            let want = aes256_ecb(&key, &data);
            assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), k, &data).unwrap(), want);
        }
    }
}

/// The token expands a GCM key once and keeps it with the key object: the same key must
/// still give the right answer for every tag length, nonce length and AAD, after a copy, and
/// from more threads at once than it keeps copies for (the first uses race to prepare them).
#[test]
fn one_gcm_key_serves_every_message_and_thread() {
    use aes_gcm::aead::consts::{U12, U16};
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    type Gcm12 = aes_gcm::AesGcm<aes::Aes256, U12, U12>;
    type Gcm16Iv = aes_gcm::AesGcm<aes::Aes256, U16>;
    let e = env();
    let s = &e.s;
    let key = random(32);
    let k = s.secret_key(CKK_AES, &key).unwrap();
    let gcm = |nonce: &mut Vec<u8>, aad: &mut Vec<u8>, tag_bits: CK_ULONG| CK_GCM_PARAMS {
        pIv: nonce.as_mut_ptr(),
        ulIvLen: nonce.len() as CK_ULONG,
        ulIvBits: (nonce.len() * 8) as CK_ULONG,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: tag_bits,
    };
    for round in 0..6usize {
        let data = random(31 + round * 7);
        let mut aad = random(round * 3);
        // A 96-bit tag: encryption truncates the full tag, decryption checks 12 bytes.
        let mut nonce = random(12);
        nonce[0] = round as u8;
        let want =
            Gcm12::new((&key[..]).into()).encrypt((&nonce[..]).into(), Payload { msg: &data, aad: &aad }).unwrap();
        let mut p = gcm(&mut nonce, &mut aad, 96);
        let got = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), k, &data).unwrap();
        assert_eq!(hex(&got), hex(&want), "96-bit tag, round {round}");
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), k, &got).unwrap(), data);
        let mut bad = got.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), k, &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
        // A 128-bit tag with a 16-byte nonce on the same key.
        let mut nonce = random(16);
        nonce[1] = round as u8;
        let want =
            Gcm16Iv::new((&key[..]).into()).encrypt((&nonce[..]).into(), Payload { msg: &data, aad: &aad }).unwrap();
        let mut p = gcm(&mut nonce, &mut aad, 128);
        assert_eq!(hex(&s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), k, &data).unwrap()), hex(&want));
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), k, &want).unwrap(), data);
    }
    // A copy of the key (its own object) works alike.
    let mut copy = 0;
    // SAFETY: an empty template and a live output handle.
    assert_eq!(unsafe { s.lib.C_CopyObject(s.h, k, null_mut(), 0, &mut copy) }, CKR_OK);
    let (mut nonce, mut aad, data) = (random(12), random(5), random(64));
    let want = aes_gcm::Aes256Gcm::new((&key[..]).into())
        .encrypt((&nonce[..]).into(), Payload { msg: &data, aad: &aad })
        .unwrap();
    let mut p = gcm(&mut nonce, &mut aad, 128);
    assert_eq!(s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), copy, &data).unwrap(), want);
    // Twelve sessions on twelve threads (the module keeps at most 8 copies of an expanded
    // key, one per group of threads), first use of a fresh key racing.
    let fresh_key = random(32);
    let fresh = s.secret_key(CKK_AES, &fresh_key).unwrap();
    let sessions: Vec<_> = (0..12).map(|_| user_session_raw(&e)).collect();
    std::thread::scope(|sc| {
        for (t, rs) in sessions.iter().enumerate() {
            let fresh_key = &fresh_key;
            sc.spawn(move || {
                for i in 0..100usize {
                    let mut nonce = random(12);
                    nonce[..2].copy_from_slice(&[t as u8, i as u8]);
                    let mut aad = random(i % 9);
                    let data = random(i % 70);
                    let want = aes_gcm::Aes256Gcm::new((&fresh_key[..]).into())
                        .encrypt((&nonce[..]).into(), Payload { msg: &data, aad: &aad })
                        .unwrap();
                    let mut p = gcm(&mut nonce, &mut aad, 128);
                    let got = rs.encrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), fresh, &data).unwrap();
                    assert_eq!(got, want, "thread {t} message {i}");
                    assert_eq!(rs.decrypt(&mut mech(CKM_AES_GCM, Some(&mut p)), fresh, &got).unwrap(), data);
                }
            });
        }
    });
}

/// Another session of the same (logged-in) application, for raw calls.
fn user_session_raw(e: &Env) -> RawSession {
    // SAFETY: CK_SESSION_INFO is plain data; the module fills it.
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a live session and output struct.
    assert_eq!(unsafe { e.s.lib.C_GetSessionInfo(e.s.h, &mut info) }, CKR_OK);
    let mut h = 0;
    // SAFETY: a live output handle; no notification callback.
    let rv =
        unsafe { e.s.lib.C_OpenSession(info.slotID, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut h) };
    assert_eq!(rv, CKR_OK);
    RawSession { lib: e._h.raw(), h }
}

#[test]
fn macs_agree_with_rustcrypto() {
    use hmac::Mac;
    let e = env();
    let s = &e.s;
    let key = random(32);
    let hk = s.secret_key(CKK_GENERIC_SECRET, &key).unwrap();
    let ak = s.secret_key(CKK_AES, &key).unwrap();
    for len in [0usize, 3, 64, 1000] {
        let data = random(len);
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        m.update(&data);
        let want = m.finalize().into_bytes().to_vec();
        assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), hk, &data).unwrap(), want);
        s.verify(&mut mech::<u8>(CKM_SHA256_HMAC, None), hk, &data, &want).unwrap();
        let mut short: CK_ULONG = 10;
        assert_eq!(s.sign(&mut mech(CKM_SHA256_HMAC_GENERAL, Some(&mut short)), hk, &data).unwrap(), want[..10]);
        let mut c = <cmac::Cmac<aes::Aes256> as cmac::Mac>::new_from_slice(&key).unwrap();
        cmac::Mac::update(&mut c, &data);
        let want = cmac::Mac::finalize(c).into_bytes().to_vec();
        assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_CMAC, None), ak, &data).unwrap(), want);
    }
}

/// A second C_SignInit on a session with a signature under way fails and leaves that
/// signature as it was (also when the second one names another mechanism and key).
#[test]
fn a_second_sign_init_keeps_the_first() {
    use hmac::Mac;
    let e = env();
    let s = &e.s;
    let key = random(32);
    let hk = s.secret_key(CKK_GENERIC_SECRET, &key).unwrap();
    let ak = s.secret_key(CKK_AES, &random(32)).unwrap();
    let mut data = random(100);
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    m.update(&data);
    let want = m.finalize().into_bytes().to_vec();
    // SAFETY: raw calls with live locals of the lengths given.
    unsafe {
        let l = &s.lib;
        assert_eq!(l.C_SignInit(s.h, &mut mech::<u8>(CKM_SHA256_HMAC, None), hk), CKR_OK);
        assert_eq!(l.C_SignInit(s.h, &mut mech::<u8>(CKM_AES_CMAC, None), ak), CKR_OPERATION_ACTIVE);
        assert_eq!(l.C_SignInit(s.h, &mut mech::<u8>(CKM_SHA256_HMAC, None), hk), CKR_OPERATION_ACTIVE);
        // Verification is another operation: it may start beside the signature.
        assert_eq!(l.C_VerifyInit(s.h, &mut mech::<u8>(CKM_AES_CMAC, None), ak), CKR_OK);
        let mut out = [0u8; 64];
        let mut n = out.len() as CK_ULONG;
        assert_eq!(l.C_Sign(s.h, data.as_mut_ptr(), data.len() as _, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out[..n as usize], want[..]);
        assert_eq!(l.C_SignInit(s.h, &mut mech::<u8>(CKM_AES_CMAC, None), ak), CKR_OK, "the signature ended");
        assert_eq!(l.C_SignFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);

        // The MAC written over its own input (one buffer for both), and a truncated one.
        assert_eq!(l.C_SignInit(s.h, &mut mech::<u8>(CKM_SHA256_HMAC, None), hk), CKR_OK);
        let mut inplace = data.clone();
        n = inplace.len() as CK_ULONG;
        assert_eq!(l.C_Sign(s.h, inplace.as_mut_ptr(), 100, inplace.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(inplace[..n as usize], want[..]);
        let mut ten: CK_ULONG = 10;
        assert_eq!(l.C_SignInit(s.h, &mut mech(CKM_SHA256_HMAC_GENERAL, Some(&mut ten)), hk), CKR_OK);
        n = out.len() as CK_ULONG;
        assert_eq!(l.C_Sign(s.h, data.as_mut_ptr(), 100, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out[..n as usize], want[..10]);
    }
}

#[test]
fn multi_part_operations_and_output_rules() {
    let e = env();
    let s = &e.s;
    let k = s.secret_key(CKK_AES, &random(16)).unwrap();
    let data = random(100);
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    let single = s.encrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), k, &data).unwrap();
    // SAFETY: raw calls with live locals of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut m = mech(CKM_AES_CBC_PAD, Some(&mut iv));
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OPERATION_ACTIVE);
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        for chunk in data.chunks(7) {
            let mut c = chunk.to_vec();
            let mut n: CK_ULONG = 0;
            assert_eq!(l.C_EncryptUpdate(s.h, c.as_mut_ptr(), c.len() as _, null_mut(), &mut n), CKR_OK);
            let queried = n;
            n = buf.len() as CK_ULONG;
            assert_eq!(l.C_EncryptUpdate(s.h, c.as_mut_ptr(), c.len() as _, buf.as_mut_ptr(), &mut n), CKR_OK);
            assert!(n <= queried, "the size query ({queried}) is enough for {n}");
            out.extend_from_slice(&buf[..n as usize]);
        }
        let mut d = data.clone();
        // A short buffer at Final keeps the operation and tells the exact length.
        let mut n: CK_ULONG = 0;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert!(n > 0);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        out.extend_from_slice(&buf[..n as usize]);
        assert_eq!(out, single, "multi-part equals single-part");
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // C_Encrypt cannot end a multi-part operation: refused, and, as a failed C_Encrypt
        // always does (§5.8), it ends the operation.
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptUpdate(s.h, d.as_mut_ptr(), 16, buf.as_mut_ptr(), &mut n), CKR_OK);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OPERATION_ACTIVE);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);

        // Single part: size query, too small (operation kept, exact length), then success.
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
        n = 0;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OK);
        assert!(n as usize >= single.len());
        n = 10;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert_eq!(n as usize, single.len());
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..n as usize], &single[..]);
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);

        // The other way round: once C_Encrypt has answered a size query or a short buffer,
        // an update or the final call is refused and ends the operation (as their errors
        // do); the result held for the short buffer never goes to them.
        for short in [false, true] {
            assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
            n = if short { 10 } else { 0 };
            let out = if short { buf.as_mut_ptr() } else { null_mut() };
            let rv = l.C_Encrypt(s.h, d.as_mut_ptr(), 100, out, &mut n);
            assert_eq!(rv, if short { CKR_BUFFER_TOO_SMALL } else { CKR_OK });
            n = buf.len() as CK_ULONG;
            let rv = if short {
                l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n)
            } else {
                l.C_EncryptUpdate(s.h, d.as_mut_ptr(), 16, buf.as_mut_ptr(), &mut n)
            };
            assert_eq!(rv, CKR_OPERATION_ACTIVE);
            n = buf.len() as CK_ULONG;
            let rv = l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n);
            assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED, "the refused call ended the operation");
        }
        // Without a wrong call, the size query and the short buffer keep it.
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
        n = 0;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OK);
        n = 10;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..n as usize], &single[..]);
        let mut ct = single.clone();
        assert_eq!(l.C_DecryptInit(s.h, &mut m, k), CKR_OK);
        n = 0;
        assert_eq!(l.C_Decrypt(s.h, ct.as_mut_ptr(), ct.len() as _, null_mut(), &mut n), CKR_OK);
        assert_eq!(l.C_DecryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OPERATION_ACTIVE);
        n = buf.len() as CK_ULONG;
        assert_eq!(
            l.C_Decrypt(s.h, ct.as_mut_ptr(), ct.len() as _, buf.as_mut_ptr(), &mut n),
            CKR_OPERATION_NOT_INITIALIZED
        );

        // Decrypt with a buffer of exactly the plaintext length works at once.
        let mut ct = single.clone();
        assert_eq!(l.C_DecryptInit(s.h, &mut m, k), CKR_OK);
        n = 100;
        assert_eq!(l.C_Decrypt(s.h, ct.as_mut_ptr(), ct.len() as _, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..100], &data[..]);

        // GCM multi-part: Update releases nothing; Final gives everything after the tag checks.
        let mut ivg = random(12);
        let mut gp = gcm_params(&mut ivg, None, 128);
        let gct = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), k, &data).unwrap();
        let mut mg = mech(CKM_AES_GCM, Some(&mut gp));
        assert_eq!(l.C_DecryptInit(s.h, &mut mg, k), CKR_OK);
        let mut c = gct.clone();
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_DecryptUpdate(s.h, c.as_mut_ptr(), 50, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 0, "no plaintext before the tag is verified");
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_DecryptUpdate(s.h, c[50..].as_mut_ptr(), (c.len() - 50) as _, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 0);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_DecryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..n as usize], &data[..]);

        // GCM multi-part encryption streams: each Update gives its part's ciphertext (exactly
        // as long as the part, as its size query says), Final the tag, here a truncated one
        // under AAD; the whole equals single-part encryption and decrypts.
        let mut aad = b"header".to_vec();
        let mut gp96 = gcm_params(&mut ivg, Some(&mut aad), 96);
        let whole = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp96)), k, &data).unwrap();
        assert_eq!(whole.len(), data.len() + 12);
        let mut mg96 = mech(CKM_AES_GCM, Some(&mut gp96));
        assert_eq!(l.C_EncryptInit(s.h, &mut mg96, k), CKR_OK);
        let mut parts = Vec::new();
        for chunk in data.chunks(33) {
            let mut c = chunk.to_vec();
            n = 0;
            assert_eq!(l.C_EncryptUpdate(s.h, c.as_mut_ptr(), c.len() as _, null_mut(), &mut n), CKR_OK);
            assert_eq!(n as usize, c.len());
            n = buf.len() as CK_ULONG;
            assert_eq!(l.C_EncryptUpdate(s.h, c.as_mut_ptr(), c.len() as _, buf.as_mut_ptr(), &mut n), CKR_OK);
            assert_eq!(n as usize, c.len(), "the part's ciphertext at once");
            parts.extend_from_slice(&buf[..n as usize]);
        }
        assert_eq!(parts, whole[..data.len()]);
        n = 4;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert_eq!(n, 12);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        parts.extend_from_slice(&buf[..n as usize]);
        assert_eq!(parts, whole);
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut gp96)), k, &parts).unwrap(), data);

        // Init then Final at once: empty input.
        assert_eq!(l.C_EncryptInit(s.h, &mut mg, k), CKR_OK);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 16, "GCM of nothing is just the tag");

        // Multi-part MAC.
        let hk = s.secret_key(CKK_GENERIC_SECRET, &random(20)).unwrap();
        let whole = s.sign(&mut mech::<u8>(CKM_SHA384_HMAC, None), hk, &data).unwrap();
        let mut hm = mech::<u8>(CKM_SHA384_HMAC, None);
        assert_eq!(l.C_SignInit(s.h, &mut hm, hk), CKR_OK);
        for chunk in data.chunks(33) {
            let mut c = chunk.to_vec();
            assert_eq!(l.C_SignUpdate(s.h, c.as_mut_ptr(), c.len() as _), CKR_OK);
        }
        n = 0;
        assert_eq!(l.C_SignFinal(s.h, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 48);
        n = 47;
        assert_eq!(l.C_SignFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        let mut dd = data.clone();
        n = 48;
        assert_eq!(l.C_SignFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..48], &whole[..]);
        // C_Sign after an update is refused and ends the operation (§5.13: a failed C_Sign
        // always does), even as a size query.
        assert_eq!(l.C_SignInit(s.h, &mut hm, hk), CKR_OK);
        assert_eq!(l.C_SignUpdate(s.h, dd.as_mut_ptr(), 10), CKR_OK);
        assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OPERATION_ACTIVE);
        n = 48;
        assert_eq!(l.C_SignFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // After C_Sign's size query, the operation is single-part.
        assert_eq!(l.C_SignInit(s.h, &mut hm, hk), CKR_OK);
        n = 0;
        assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OK);
        n = 48;
        assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..48], &whole[..]);
        for refused in [true, false] {
            assert_eq!(l.C_SignInit(s.h, &mut hm, hk), CKR_OK);
            n = 0;
            assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OK);
            let rv = if refused {
                l.C_SignUpdate(s.h, dd.as_mut_ptr(), 10)
            } else {
                l.C_SignFinal(s.h, buf.as_mut_ptr(), &mut n)
            };
            assert_eq!(rv, CKR_OPERATION_ACTIVE);
            assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        }
        assert_eq!(l.C_VerifyInit(s.h, &mut hm, hk), CKR_OK);
        for chunk in data.chunks(9) {
            let mut c = chunk.to_vec();
            assert_eq!(l.C_VerifyUpdate(s.h, c.as_mut_ptr(), c.len() as _), CKR_OK);
        }
        let mut w = whole.clone();
        assert_eq!(l.C_VerifyFinal(s.h, w.as_mut_ptr(), 48), CKR_OK);
        w[0] ^= 1;
        assert_eq!(s.verify(&mut hm, hk, &data, &w), Err(CKR_SIGNATURE_INVALID));
        assert_eq!(s.verify(&mut hm, hk, &data, &w[..47]), Err(CKR_SIGNATURE_LEN_RANGE));
    }
}

#[test]
fn key_generation() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "keygen");
    let sess = user_session(&p, slot);
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType};
    let k = sess
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Token(true), Attribute::Label(b"gen".to_vec())],
        )
        .unwrap();
    let got = sess
        .get_attributes(
            k,
            &[
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::KeyGenMechanism,
                AttributeType::ValueLen,
            ],
        )
        .unwrap();
    assert_eq!(
        got,
        vec![
            Attribute::Local(true),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true),
            Attribute::KeyGenMechanism(cryptoki::mechanism::MechanismType::AES_KEY_GEN),
            Attribute::ValueLen(32.into())
        ]
    );
    let open = sess
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Sensitive(false), Attribute::Extractable(true)],
        )
        .unwrap();
    let got = sess
        .get_attributes(open, &[AttributeType::AlwaysSensitive, AttributeType::NeverExtractable, AttributeType::Value])
        .unwrap();
    assert_eq!(got[0], Attribute::AlwaysSensitive(false));
    assert_eq!(got[1], Attribute::NeverExtractable(false));
    let Attribute::Value(v) = &got[2] else { panic!() };
    assert_eq!(v.len(), 16);
    assert_ne!(v, &vec![0u8; 16]);

    let e = |m: &Mechanism, t: &[Attribute]| rv(sess.generate_key(m, t));
    use cryptoki::error::RvError::*;
    assert_eq!(e(&Mechanism::AesKeyGen, &[]), TemplateIncomplete);
    assert_eq!(e(&Mechanism::AesKeyGen, &[Attribute::ValueLen(20.into())]), AttributeValueInvalid);
    assert_eq!(
        e(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into()), Attribute::Value(vec![0; 16])]),
        AttributeReadOnly
    );
    assert_eq!(
        e(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::KeyType(cryptoki::object::KeyType::GENERIC_SECRET)]
        ),
        TemplateInconsistent
    );
    assert_eq!(e(&Mechanism::Sha256, &[]), MechanismInvalid);
    let g = sess.generate_key(&Mechanism::GenericSecretKeyGen, &[Attribute::ValueLen(48.into())]).unwrap();
    assert_eq!(sess.get_attributes(g, &[AttributeType::ValueLen]).unwrap(), vec![Attribute::ValueLen(48.into())]);
    // The mechanism information gives generic secret key sizes in bits, AES key sizes in
    // bytes (as their sections of the specification say): 1 to 512 bytes, 16 to 32 bytes.
    let info = |m| p.get_mechanism_info(slot, m).unwrap();
    use cryptoki::mechanism::MechanismType;
    let (g, a) = (info(MechanismType::GENERIC_SECRET_KEY_GEN), info(MechanismType::AES_KEY_GEN));
    assert_eq!((g.min_key_size(), g.max_key_size()), (8, 4096));
    assert_eq!((a.min_key_size(), a.max_key_size()), (16, 32));
    assert_eq!(e(&Mechanism::GenericSecretKeyGen, &[Attribute::ValueLen(513.into())]), AttributeValueInvalid);
    // SHA-256 key generation: an HMAC key of the hash length by default.
    let raw = RawSession::new(&h, &sess);
    let mut m = mech::<u8>(CKM_SHA256_KEY_GEN, None);
    let mut hk = 0;
    // SAFETY: live mechanism and out-pointer; empty template.
    assert_eq!(unsafe { raw.lib.C_GenerateKey(raw.h, &mut m, null_mut(), 0, &mut hk) }, CKR_OK);
    let sig = raw.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), hk, b"data").unwrap();
    assert_eq!(sig.len(), 32);
    // SAFETY: NULL out-pointer is the case under test.
    assert_eq!(unsafe { raw.lib.C_GenerateKey(raw.h, &mut m, null_mut(), 0, null_mut()) }, CKR_ARGUMENTS_BAD);
}

#[test]
fn bad_parameters_and_key_rules_give_the_spec_codes() {
    let e = env();
    let s = &e.s;
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    let generic = s.secret_key(CKK_GENERIC_SECRET, &random(32)).unwrap();
    let data = random(32);
    // Missing or short IV.
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_CBC, None), aes, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut short_iv = [0u8; 8];
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CBC, Some(&mut short_iv)), aes, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    // GCM: empty IV, bad tag lengths.
    let mut iv = random(12);
    let mut gp =
        CK_GCM_PARAMS { pIv: iv.as_mut_ptr(), ulIvLen: 0, ulIvBits: 0, pAAD: null_mut(), ulAADLen: 0, ulTagBits: 128 };
    assert_eq!(s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), aes, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    gp.ulIvLen = 12;
    for bits in [0, 24, 100, 136] {
        gp.ulTagBits = bits;
        assert_eq!(
            s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), aes, &data),
            Err(CKR_MECHANISM_PARAM_INVALID),
            "{bits} tag bits"
        );
    }
    // Any IV length from 1 to 256 bytes and tags from 32 bits.
    for (ivlen, bits) in [(1usize, 32), (7, 64), (16, 96), (64, 104), (256, 128)] {
        let mut v = random(ivlen);
        let mut g = CK_GCM_PARAMS {
            pIv: v.as_mut_ptr(),
            ulIvLen: ivlen as _,
            ulIvBits: (ivlen * 8) as _,
            pAAD: null_mut(),
            ulAADLen: 0,
            ulTagBits: bits,
        };
        let ct = s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut g)), aes, &data).unwrap();
        assert_eq!(ct.len(), 32 + bits as usize / 8);
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut g)), aes, &ct).unwrap(), data);
        // A tampered tag is refused and releases nothing.
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(s.decrypt(&mut mech(CKM_AES_GCM, Some(&mut g)), aes, &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    }
    // A 2.40-layout CK_GCM_PARAMS (no ulIvBits) is understood too.
    #[repr(C)]
    struct Gcm240 {
        iv: *mut u8,
        iv_len: CK_ULONG,
        aad: *mut u8,
        aad_len: CK_ULONG,
        tag_bits: CK_ULONG,
    }
    let mut old = Gcm240 { iv: iv.as_mut_ptr(), iv_len: 12, aad: null_mut(), aad_len: 0, tag_bits: 128 };
    let mut new = gcm_params(&mut iv, None, 128);
    assert_eq!(
        s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut old)), aes, &data).unwrap(),
        s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut new)), aes, &data).unwrap()
    );
    // Data lengths.
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), aes, &data[..15]), Err(CKR_DATA_LEN_RANGE));
    let mut iv16 = [0u8; 16];
    assert_eq!(
        s.decrypt(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv16)), aes, &data[..17]),
        Err(CKR_ENCRYPTED_DATA_LEN_RANGE)
    );
    // A CTR counter of 8 bits that would wrap.
    let mut cp = CK_AES_CTR_PARAMS { ulCounterBits: 8, cb: [0u8; 16] };
    cp.cb[15] = 0xfe;
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CTR, Some(&mut cp)), aes, &random(32)).map(|v| v.len()), Ok(32));
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CTR, Some(&mut cp)), aes, &random(33)), Err(CKR_DATA_LEN_RANGE));
    cp.ulCounterBits = 0;
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CTR, Some(&mut cp)), aes, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    // Wrong key type, key size, usage flag, allowed mechanisms.
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), generic, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), aes, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
    let huge = s.secret_key(CKK_GENERIC_SECRET, &random(600)).unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), huge, &data), Err(CKR_KEY_SIZE_RANGE));
    let no_encrypt = key_with(s, CKK_AES, &random(16), &[(CKA_ENCRYPT, false)], None).unwrap();
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), no_encrypt, &data), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(s.decrypt(&mut mech::<u8>(CKM_AES_ECB, None), no_encrypt, &data).map(|v| v.len()), Ok(32));
    let no_sign = key_with(s, CKK_GENERIC_SECRET, &random(16), &[(CKA_SIGN, false)], None).unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), no_sign, &data), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    // A usage flag turned off after the key was used (and its checks cached) takes effect,
    // and turned on again too.
    let flip = key_with(s, CKK_GENERIC_SECRET, &random(16), &[(CKA_SIGN, true)], None).unwrap();
    assert!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), flip, &data).is_ok());
    for (on, want) in [(false, Err(CKR_KEY_FUNCTION_NOT_PERMITTED)), (true, Ok(32))] {
        let mut v = on as CK_BBOOL;
        let mut t = [CK_ATTRIBUTE { type_: CKA_SIGN, pValue: (&raw mut v).cast(), ulValueLen: 1 }];
        // SAFETY: a one-attribute template pointing at a live local.
        assert_eq!(unsafe { s.lib.C_SetAttributeValue(s.h, flip, t.as_mut_ptr(), 1) }, CKR_OK);
        assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), flip, &data).map(|v| v.len()), want);
    }
    let only_gcm = key_with(s, CKK_AES, &random(16), &[], Some(&[CKM_AES_GCM])).unwrap();
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), only_gcm, &data), Err(CKR_MECHANISM_INVALID));
    assert!(s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut new)), only_gcm, &data).is_ok());
    // Without CKA_ALLOWED_MECHANISMS a key takes every mechanism of its type (and has no such
    // attribute); an empty list, given as an empty array or as NULL with length 0, allows
    // none (a list of the mechanisms allowed: pkcs11-check's enforcement test).
    assert_eq!(s.get_bytes(aes, CKA_ALLOWED_MECHANISMS), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    let none = key_with(s, CKK_AES, &random(16), &[], Some(&[])).unwrap();
    assert_eq!(s.get_bytes(none, CKA_ALLOWED_MECHANISMS), Ok(Vec::new()));
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut v = random(16);
    let mut t = [
        CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut kt).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_VALUE, pValue: v.as_mut_ptr().cast(), ulValueLen: 16 },
        CK_ATTRIBUTE { type_: CKA_ALLOWED_MECHANISMS, pValue: null_mut(), ulValueLen: 0 },
    ];
    let mut null_list = 0;
    // SAFETY: the template points at live locals (and a NULL value of length 0).
    assert_eq!(unsafe { s.lib.C_CreateObject(s.h, t.as_mut_ptr(), 4, &mut null_list) }, CKR_OK);
    for k in [none, null_list] {
        for m in [CKM_AES_ECB, CKM_AES_CBC] {
            let mut iv = [0u8; 16];
            let mut mm = if m == CKM_AES_ECB { mech::<u8>(m, None) } else { mech(m, Some(&mut iv)) };
            assert_eq!(s.encrypt(&mut mm, k, &data), Err(CKR_MECHANISM_INVALID));
        }
        assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_CMAC, None), k, &data), Err(CKR_MECHANISM_INVALID));
    }
    // Unknown mechanism, digest mechanism used to encrypt, bad key handle, bad MAC length.
    assert_eq!(s.encrypt(&mut mech::<u8>(0x7fff_fff1, None), aes, &data), Err(CKR_MECHANISM_INVALID));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_SHA256, None), aes, &data), Err(CKR_MECHANISM_INVALID));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), 0x424242, &data), Err(CKR_KEY_HANDLE_INVALID));
    let mut too_long: CK_ULONG = 33;
    assert_eq!(
        s.sign(&mut mech(CKM_SHA256_HMAC_GENERAL, Some(&mut too_long)), generic, &data),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // A NULL mechanism with no operation to end (tests/error_paths.rs: with one).
    // SAFETY: NULL mechanism is the case under test.
    assert_eq!(unsafe { s.lib.C_EncryptInit(s.h, null_mut(), aes) }, CKR_ARGUMENTS_BAD);
    // A handle naming no session is reported before the mechanism is looked at.
    let vendor = || mech::<u8>(CKM_VENDOR_DEFINED | 0x77, None);
    let no_session = s.h + 0x1000;
    // SAFETY: raw calls with live locals; the session handle is the case under test.
    unsafe {
        let l = &s.lib;
        assert_eq!(l.C_EncryptInit(no_session, &mut vendor(), aes), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(l.C_SignInit(no_session, &mut vendor(), aes), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(l.C_DigestInit(no_session, &mut vendor()), CKR_SESSION_HANDLE_INVALID);
        let mut o = 0;
        assert_eq!(l.C_GenerateKey(no_session, &mut vendor(), null_mut(), 0, &mut o), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(l.C_DigestInit(s.h, &mut vendor()), CKR_MECHANISM_INVALID);
    }
}

/// A size query (NULL output buffer) for input that the call would refuse gets the call's
/// error, which ends the operation (§5.2): single part, a part, the final part.
#[test]
fn size_queries_fail_as_the_call_would() {
    let e = env();
    let s = &e.s;
    let aes = s.secret_key(CKK_AES, &random(16)).unwrap();
    let xts = s.secret_key(CKK_AES_XTS, &random(32)).unwrap();
    let mut iv = [0u8; 16];
    let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 2, cb: [0u8; 16] };
    ctr.cb[15] = 1; // three blocks before the 2-bit counter wraps
    let (rsa_pub, rsa_priv) = s
        .keypair(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, 2048), &mut T::default())
        .unwrap();
    let mut data = random(300);
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA_1,
        mgf: CKG_MGF1_SHA1,
        source: 0,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    // SAFETY: raw calls with live locals of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut n: CK_ULONG = 0;
        let d = data.as_mut_ptr();
        let single = [
            (mech(CKM_AES_CBC, Some(&mut iv)), aes, true, 15, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_AES_ECB, None), aes, true, 17, CKR_DATA_LEN_RANGE),
            (mech(CKM_AES_CBC_PAD, Some(&mut iv)), aes, false, 17, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (mech(CKM_AES_CBC_PAD, Some(&mut iv)), aes, false, 0, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (mech(CKM_AES_CTS, Some(&mut iv)), aes, true, 15, CKR_DATA_LEN_RANGE),
            (mech(CKM_AES_CTS, Some(&mut iv)), aes, false, 15, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (mech(CKM_AES_XTS, Some(&mut iv)), xts, true, 15, CKR_DATA_LEN_RANGE),
            (mech(CKM_AES_XTS, Some(&mut iv)), xts, false, 15, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (mech(CKM_AES_CTR, Some(&mut ctr)), aes, true, 49, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_RSA_PKCS, None), rsa_pub, true, 256 - 10, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_RSA_PKCS, None), rsa_priv, false, 255, CKR_ENCRYPTED_DATA_LEN_RANGE),
            // OAEP with SHA-1 takes at most 256 - 2 * 20 - 2 bytes.
            (mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rsa_pub, true, 215, CKR_DATA_LEN_RANGE),
        ];
        for (mut m, key, encrypt, len, want) in single {
            let init = if encrypt { l.C_EncryptInit(s.h, &mut m, key) } else { l.C_DecryptInit(s.h, &mut m, key) };
            assert_eq!(init, CKR_OK);
            let mut call = |len| {
                if encrypt {
                    l.C_Encrypt(s.h, d, len, null_mut(), &mut n)
                } else {
                    l.C_Decrypt(s.h, d, len, null_mut(), &mut n)
                }
            };
            assert_eq!(call(len), want, "{:#x} of {len} bytes", m.mechanism);
            assert_eq!(call(16), CKR_OPERATION_NOT_INITIALIZED, "the error ended it");
        }
        // The limits themselves pass.
        let mut m = mech(CKM_AES_CTR, Some(&mut ctr));
        assert_eq!(l.C_EncryptInit(s.h, &mut m, aes), CKR_OK);
        assert_eq!(l.C_Encrypt(s.h, d, 48, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 48);
        let mut buf = [0u8; 64];
        n = 64;
        assert_eq!(l.C_Encrypt(s.h, d, 48, buf.as_mut_ptr(), &mut n), CKR_OK);
        // Parts: CBC takes any part, but not an unaligned total at the end.
        let mut m = mech(CKM_AES_CBC, Some(&mut iv));
        assert_eq!(l.C_EncryptInit(s.h, &mut m, aes), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, d, 15, null_mut(), &mut n), CKR_OK);
        n = 64;
        assert_eq!(l.C_EncryptUpdate(s.h, d, 15, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(l.C_EncryptFinal(s.h, null_mut(), &mut n), CKR_DATA_LEN_RANGE);
        assert_eq!(l.C_EncryptFinal(s.h, null_mut(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // CTR: a part that would wrap the counter.
        let mut m = mech(CKM_AES_CTR, Some(&mut ctr));
        assert_eq!(l.C_EncryptInit(s.h, &mut m, aes), CKR_OK);
        n = 64;
        assert_eq!(l.C_EncryptUpdate(s.h, d, 40, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, d, 9, null_mut(), &mut n), CKR_DATA_LEN_RANGE);
        assert_eq!(l.C_EncryptFinal(s.h, null_mut(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // Each part counts: 40 and 8 bytes fill the three blocks, one more would wrap.
        assert_eq!(l.C_EncryptInit(s.h, &mut m, aes), CKR_OK);
        for (len, want) in [(40, CKR_OK), (8, CKR_OK), (1, CKR_DATA_LEN_RANGE)] {
            n = 64;
            assert_eq!(l.C_EncryptUpdate(s.h, d, len, buf.as_mut_ptr(), &mut n), want, "CTR part of {len}");
        }
        // Padded decryption of nothing, in parts: refused at the end, as single-part; so are
        // ciphertext stealing and XTS with less than a block (asked at the end, with its
        // size query).
        let mut cbc_pad = mech(CKM_AES_CBC_PAD, Some(&mut iv));
        let mut cts = mech(CKM_AES_CTS, Some(&mut iv));
        let mut xts_m = mech(CKM_AES_XTS, Some(&mut iv));
        for (m, key, len) in [(&mut cbc_pad, aes, 0), (&mut cts, aes, 15), (&mut xts_m, xts, 15)] {
            assert_eq!(l.C_DecryptInit(s.h, m, key), CKR_OK);
            n = 64;
            assert_eq!(l.C_DecryptUpdate(s.h, d, len, buf.as_mut_ptr(), &mut n), CKR_OK);
            assert_eq!(l.C_DecryptFinal(s.h, null_mut(), &mut n), CKR_ENCRYPTED_DATA_LEN_RANGE, "{:#x}", m.mechanism);
            assert_eq!(l.C_DecryptFinal(s.h, null_mut(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        }
    }
}

#[test]
fn digest_key_and_hkdf_derive() {
    use sha2::Digest;
    let e = env();
    let s = &e.s;
    let value = random(32);
    let k = s.secret_key(CKK_AES, &value).unwrap();
    // C_DigestKey digests a secret key's value even though it is sensitive.
    // SAFETY: raw calls with live buffers.
    unsafe {
        let mut m = mech::<u8>(CKM_SHA256, None);
        assert_eq!(s.lib.C_DigestKey(s.h, k), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(s.lib.C_DigestInit(s.h, &mut m), CKR_OK);
        let mut prefix = b"prefix".to_vec();
        assert_eq!(s.lib.C_DigestUpdate(s.h, prefix.as_mut_ptr(), 6), CKR_OK);
        assert_eq!(s.lib.C_DigestKey(s.h, k), CKR_OK);
        let mut out = [0u8; 32];
        let mut n: CK_ULONG = 32;
        assert_eq!(s.lib.C_DigestFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
        let want = sha2::Sha256::new().chain_update(b"prefix").chain_update(&value).finalize();
        assert_eq!(out[..], want[..]);
        assert_eq!(s.lib.C_DigestInit(s.h, &mut m), CKR_OK);
        assert_eq!(s.lib.C_DigestKey(s.h, 0x4242), CKR_KEY_HANDLE_INVALID);
    }
    // HKDF_DERIVE with the salt in a key, to an AES key, checked by HKDF_DATA with the same
    // salt given as data (both through the token) and by RustCrypto HMAC (extract + expand).
    use hmac::Mac;
    let salt = random(16);
    let salt_key = s.secret_key(CKK_GENERIC_SECRET, &salt).unwrap();
    let mut info = b"hkdf info".to_vec();
    let mut p = CK_HKDF_PARAMS {
        bExtract: 1,
        bExpand: 1,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_KEY,
        pSalt: null_mut(),
        ulSaltLen: 0,
        hSaltKey: salt_key,
        pInfo: info.as_mut_ptr(),
        ulInfoLen: info.len() as CK_ULONG,
    };
    let mut class = CKO_SECRET_KEY;
    let mut kt = CKK_AES;
    let mut len: CK_ULONG = 32;
    let mut t = [
        CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut kt).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_VALUE_LEN, pValue: (&raw mut len).cast(), ulValueLen: 8 },
    ];
    let mut derived = 0;
    let mut m = mech(CKM_HKDF_DERIVE, Some(&mut p));
    // The input key is a CKK_HKDF or CKK_GENERIC_SECRET key (the HKDF section): not the AES
    // key of the same value, for either HKDF mechanism.
    let ikm = s.secret_key(CKK_GENERIC_SECRET, &value).unwrap();
    for ty in [CKM_HKDF_DERIVE, CKM_HKDF_DATA] {
        m.mechanism = ty;
        // SAFETY: live mechanism and template.
        let rv = unsafe { s.lib.C_DeriveKey(s.h, &mut m, k, t.as_mut_ptr(), 3, &mut derived) };
        assert_eq!(rv, CKR_KEY_TYPE_INCONSISTENT, "{ty:#x}");
    }
    m.mechanism = CKM_HKDF_DERIVE;
    // SAFETY: live mechanism and template.
    assert_eq!(unsafe { s.lib.C_DeriveKey(s.h, &mut m, ikm, t.as_mut_ptr(), 3, &mut derived) }, CKR_OK);
    let mut prk = hmac::Hmac::<sha2::Sha256>::new_from_slice(&salt).unwrap();
    prk.update(&value);
    let prk = prk.finalize().into_bytes();
    let mut okm = hmac::Hmac::<sha2::Sha256>::new_from_slice(&prk).unwrap();
    okm.update(b"hkdf info");
    okm.update(&[1]);
    let okm = okm.finalize().into_bytes();
    // The derived AES key encrypts like an AES key made from the expected bytes.
    let expected = s.secret_key(CKK_AES, &okm).unwrap();
    let block = random(16);
    assert_eq!(
        s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), derived, &block).unwrap(),
        s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), expected, &block).unwrap()
    );
    // Extract and expand both off is not a derivation.
    p.bExtract = 0;
    p.bExpand = 0;
    let mut m = mech(CKM_HKDF_DERIVE, Some(&mut p));
    // SAFETY: as above.
    let rv = unsafe { s.lib.C_DeriveKey(s.h, &mut m, ikm, t.as_mut_ptr(), 3, &mut derived) };
    assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);

    // CKM_HKDF_KEY_GEN: a random CKK_HKDF key of CKA_VALUE_LEN bytes, which HKDF takes as
    // its input key (checked by RustCrypto HMAC with the value read back).
    let readable = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    assert_eq!(s.generate(CKM_HKDF_KEY_GEN, &mut readable()), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(
        s.generate(CKM_HKDF_KEY_GEN, &mut readable().ulong(CKA_VALUE_LEN, 32).ulong(CKA_KEY_TYPE, CKK_AES)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    let ikm = s.generate(CKM_HKDF_KEY_GEN, &mut readable().ulong(CKA_VALUE_LEN, 48)).unwrap();
    assert_eq!(s.get_ulong(ikm, CKA_KEY_TYPE), Ok(CKK_HKDF));
    assert_eq!(s.get_ulong(ikm, CKA_KEY_GEN_MECHANISM), Ok(CKM_HKDF_KEY_GEN));
    assert!(s.get_bool(ikm, CKA_LOCAL));
    let ikm_value = s.get_bytes(ikm, CKA_VALUE).unwrap();
    assert_eq!(ikm_value.len(), 48);
    p.bExtract = 1;
    p.bExpand = 1;
    let mut m = mech(CKM_HKDF_DERIVE, Some(&mut p));
    let out = s.derive(&mut m, ikm, &mut readable().ulong(CKA_VALUE_LEN, 32)).unwrap();
    let mut prk = hmac::Hmac::<sha2::Sha256>::new_from_slice(&salt).unwrap();
    prk.update(&ikm_value);
    let mut okm = hmac::Hmac::<sha2::Sha256>::new_from_slice(&prk.finalize().into_bytes()).unwrap();
    okm.update(b"hkdf info");
    okm.update(&[1]);
    let okm = okm.finalize().into_bytes().to_vec();
    assert_eq!(s.get_bytes(out, CKA_VALUE).unwrap(), okm);
    // CKA_VALUE_LEN "should" be given with expansion; without it, a generic secret of the
    // hash's length (the first block of the same output). With a SHA-1 PRF, an AES key
    // cannot take the hash's 20 bytes: that template is incomplete.
    let out = s.derive(&mut m, ikm, &mut readable().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)).unwrap();
    assert_eq!(s.get_bytes(out, CKA_VALUE).unwrap(), okm);
    p.prfHashMechanism = CKM_SHA_1;
    let mut m = mech(CKM_HKDF_DERIVE, Some(&mut p));
    assert_eq!(s.derive(&mut m, ikm, &mut readable().ulong(CKA_KEY_TYPE, CKK_AES)), Err(CKR_TEMPLATE_INCOMPLETE));
    let out = s.derive(&mut m, ikm, &mut readable().ulong(CKA_KEY_TYPE, CKK_AES).ulong(CKA_VALUE_LEN, 32)).unwrap();
    assert_eq!(s.get_bytes(out, CKA_VALUE).unwrap().len(), 32);
}

/// An IV or nonce longer than any the mechanism takes (GCM 256 bytes, CCM 13,
/// ChaCha20-Poly1305 24) is CKR_MECHANISM_PARAM_INVALID before its buffer is read: here the
/// length claims far more than the buffer holds, which a copy would not survive.
#[test]
fn overlong_ivs_are_refused_before_reading() {
    let e = env();
    let s = &e.s;
    let aes = s.secret_key(CKK_AES, &random(16)).unwrap();
    let chacha = s.secret_key(CKK_CHACHA20, &random(32)).unwrap();
    let mut buf = [0u8; 32];
    let huge: CK_ULONG = 1 << 40;
    let mut g = gcm_params(&mut buf, None, 128);
    g.ulIvLen = huge;
    assert_eq!(s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut g)), aes, b"x"), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut c = CK_CCM_PARAMS {
        ulDataLen: 1,
        pNonce: buf.as_mut_ptr(),
        ulNonceLen: huge,
        pAAD: null_mut(),
        ulAADLen: 0,
        ulMACLen: 16,
    };
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CCM, Some(&mut c)), aes, b"x"), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut aad = [0u8; 0];
    let mut p = chacha_params(&mut buf, &mut aad);
    p.ulNonceLen = huge;
    let m = CKM_CHACHA20_POLY1305;
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), chacha, b"x"), Err(CKR_MECHANISM_PARAM_INVALID));
}
