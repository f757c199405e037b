//! DES and Triple DES, ChaCha20-Poly1305, the ChaCha20 stream cipher, PBKDF2 key generation
//! and the PKCS #12 PBE key generations through liboxihsm.so, cross-checked with the
//! RustCrypto crates and OpenSSL's PKCS #12 KDF (split from tests/symmetric.rs).

mod common;
use common::symmetric::*;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

/// DES or Triple DES ECB under RustCrypto's `des`, single, two-key or three-key by the key's
/// length.
fn tdes_ecb(key: &[u8], data: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncryptMut, KeyInit};
    fn with<C: BlockEncryptMut + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = C::new_from_slice(key).unwrap();
        let mut out = data.to_vec();
        for b in out.chunks_mut(8) {
            c.encrypt_block_mut(b.into());
        }
        out
    }
    match key.len() {
        8 => with::<des::Des>(key, data),
        16 => with::<des::TdesEde2>(key, data),
        _ => with::<des::TdesEde3>(key, data),
    }
}

/// DES or Triple DES CBC (PKCS #7 padded if `pad`) under RustCrypto's `des` and `cbc`.
fn tdes_cbc(key: &[u8], iv: &[u8; 8], data: &[u8], pad: bool) -> Vec<u8> {
    use aes::cipher::block_padding::{NoPadding, Pkcs7};
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    fn with<C: BlockEncryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit>(
        key: &[u8],
        iv: &[u8; 8],
        data: &[u8],
        pad: bool,
    ) -> Vec<u8> {
        let e = cbc::Encryptor::<C>::new_from_slices(key, iv).unwrap();
        if pad { e.encrypt_padded_vec_mut::<Pkcs7>(data) } else { e.encrypt_padded_vec_mut::<NoPadding>(data) }
    }
    match key.len() {
        8 => with::<des::Des>(key, iv, data, pad),
        16 => with::<des::TdesEde2>(key, iv, data, pad),
        _ => with::<des::TdesEde3>(key, iv, data, pad),
    }
}

/// DES and Triple DES (two- and three-key) in ECB, CBC and CBC_PAD, against RustCrypto's
/// `des` and `cbc`; key generation (odd parity, the checksum), wrapping, and the error codes.
#[test]
fn triple_des_agrees_with_rustcrypto() {
    let e = env();
    let s = &e.s;
    let mut iv: [u8; 8] = random(8).try_into().unwrap();
    let des = [CKM_DES_ECB, CKM_DES_CBC, CKM_DES_CBC_PAD];
    let des3 = [CKM_DES3_ECB, CKM_DES3_CBC, CKM_DES3_CBC_PAD];
    for (kt, key, [ecb, cbc, cbc_pad], other) in
        [(CKK_DES, random(8), des, des3), (CKK_DES2, random(16), des3, des), (CKK_DES3, random(24), des3, des)]
    {
        let k = s.secret_key(kt, &key).unwrap();
        // Each key type takes its own mechanisms only.
        for m in other {
            let mut p = iv;
            let mut m = if m == CKM_DES_ECB || m == CKM_DES3_ECB { mech::<u8>(m, None) } else { mech(m, Some(&mut p)) };
            assert_eq!(s.encrypt(&mut m, k, &[0; 8]), Err(CKR_KEY_TYPE_INCONSISTENT), "{kt} with {:#x}", m.mechanism);
        }
        for len in [0usize, 1, 7, 8, 9, 64, 1000] {
            let data = random(len);
            let want = tdes_cbc(&key, &iv, &data, true);
            let got = s.encrypt(&mut mech(cbc_pad, Some(&mut iv)), k, &data).unwrap();
            assert_eq!(got, want, "CBC_PAD {kt} {len}");
            assert_eq!(s.decrypt(&mut mech(cbc_pad, Some(&mut iv)), k, &got).unwrap(), data);
            if len % 8 == 0 {
                let want = tdes_cbc(&key, &iv, &data, false);
                assert_eq!(s.encrypt(&mut mech(cbc, Some(&mut iv)), k, &data).unwrap(), want, "CBC");
                let want = tdes_ecb(&key, &data);
                let got = s.encrypt(&mut mech::<u8>(ecb, None), k, &data).unwrap();
                assert_eq!(got, want, "ECB {kt} {len}");
                assert_eq!(s.decrypt(&mut mech::<u8>(ecb, None), k, &got).unwrap(), data);
            } else {
                assert_eq!(s.encrypt(&mut mech::<u8>(ecb, None), k, &data), Err(CKR_DATA_LEN_RANGE));
            }
        }
        let kcv = tdes_ecb(&key, &[0; 8]);
        assert_eq!(s.get_bytes(k, CKA_CHECK_VALUE).unwrap(), kcv[..3]);
    }

    // Generated keys: the key type's length, odd parity in every byte, and the checksum.
    for (m, kt, n) in
        [(CKM_DES_KEY_GEN, CKK_DES, 8), (CKM_DES2_KEY_GEN, CKK_DES2, 16), (CKM_DES3_KEY_GEN, CKK_DES3, 24)]
    {
        let k = s.generate(m, &mut T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)).unwrap();
        let value = s.get_bytes(k, CKA_VALUE).unwrap();
        assert_eq!(value.len(), n);
        assert!(value.iter().all(|b| b.count_ones() % 2 == 1), "parity of {value:02x?}");
        assert_eq!(s.get_bytes(k, CKA_KEY_TYPE).unwrap(), kt.to_ne_bytes());
        let kcv = tdes_ecb(&value, &[0; 8]);
        assert_eq!(s.get_bytes(k, CKA_CHECK_VALUE).unwrap(), kcv[..3]);
        assert_eq!(s.generate(m, &mut T::default().ulong(CKA_VALUE_LEN, 7)), Err(CKR_TEMPLATE_INCONSISTENT));
    }
    // A DES key of the wrong length is refused.
    assert_eq!(s.secret_key(CKK_DES, &random(7)).err(), Some(CKR_ATTRIBUTE_VALUE_INVALID));
    // A DES key wraps another DES key (the unwrapped key has the same checksum).
    let des_kek = s.secret_key(CKK_DES, &random(8)).unwrap();
    let des_target = key_with(s, CKK_DES, &random(8), &[(CKA_EXTRACTABLE, true)], None).unwrap();
    let mut wm = mech::<u8>(CKM_DES_ECB, None);
    let wrapped = s.wrap(&mut wm, des_kek, des_target).unwrap();
    assert_eq!(wrapped.len(), 8);
    let back = s.unwrap(&mut wm, des_kek, &wrapped, &mut T::secret(CKK_DES)).unwrap();
    assert_eq!(s.get_bytes(back, CKA_CHECK_VALUE).unwrap(), s.get_bytes(des_target, CKA_CHECK_VALUE).unwrap());

    // A DES3 key wraps an AES key and gets it back.
    let kek = s.secret_key(CKK_DES3, &random(24)).unwrap();
    let aes_value = random(32);
    let target = key_with(s, CKK_AES, &aes_value, &[(CKA_EXTRACTABLE, true)], None).unwrap();
    let mut wm = mech(CKM_DES3_CBC_PAD, Some(&mut iv));
    let wrapped = s.wrap(&mut wm, kek, target).unwrap();
    assert_eq!(s.decrypt(&mut mech(CKM_DES3_CBC_PAD, Some(&mut iv)), kek, &wrapped).unwrap(), aes_value);
    let back = s.unwrap(&mut wm, kek, &wrapped, &mut T::secret(CKK_AES).flag(CKA_EXTRACTABLE, true)).unwrap();
    assert_eq!(s.get_bytes(back, CKA_CHECK_VALUE).unwrap(), s.get_bytes(target, CKA_CHECK_VALUE).unwrap());

    // CMAC (RustCrypto's cmac over des), full and truncated.
    use cmac::Mac;
    let key3 = random(24);
    let k3 = s.secret_key(CKK_DES3, &key3).unwrap();
    for len in [0usize, 7, 8, 100] {
        let data = random(len);
        let mut want = <cmac::Cmac<des::TdesEde3> as Mac>::new_from_slice(&key3).unwrap();
        want.update(&data);
        let want = want.finalize().into_bytes().to_vec();
        assert_eq!(s.sign(&mut mech::<u8>(CKM_DES3_CMAC, None), k3, &data).unwrap(), want, "CMAC {len}");
        let mut four: CK_ULONG = 4;
        let got = s.sign(&mut mech(CKM_DES3_CMAC_GENERAL, Some(&mut four)), k3, &data).unwrap();
        assert_eq!(got, want[..4]);
    }
    let mut nine: CK_ULONG = 9;
    assert_eq!(s.sign(&mut mech(CKM_DES3_CMAC_GENERAL, Some(&mut nine)), k3, b"x"), Err(CKR_MECHANISM_PARAM_INVALID));

    // Key derivation by encrypting data (ECB, CBC) under a DES3 key.
    let mut data = random(24);
    let derive_t = || T::secret(CKK_DES3).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let mut sd = CK_KEY_DERIVATION_STRING_DATA { pData: data.as_mut_ptr(), ulLen: 24 };
    // A DES key derived so gets its parity bits set (the section defers to SHA-1 key
    // derivation's key value preparation).
    let parity = |mut v: Vec<u8>| {
        for b in v.iter_mut() {
            *b = (*b & 0xfe) | u8::from((*b & 0xfe).count_ones() % 2 == 0);
        }
        v
    };
    let d = s.derive(&mut mech(CKM_DES3_ECB_ENCRYPT_DATA, Some(&mut sd)), k3, &mut derive_t()).unwrap();
    assert_eq!(s.get_bytes(d, CKA_VALUE).unwrap(), parity(tdes_ecb(&key3, &data)));
    let mut cp = CK_DES_CBC_ENCRYPT_DATA_PARAMS { iv, pData: data.as_mut_ptr(), length: 24 };
    let d = s.derive(&mut mech(CKM_DES3_CBC_ENCRYPT_DATA, Some(&mut cp)), k3, &mut derive_t()).unwrap();
    assert_eq!(s.get_bytes(d, CKA_VALUE).unwrap(), parity(tdes_cbc(&key3, &iv, &data, false)));
    // A key type of a fixed length takes that many bytes when the template gives none.
    let mut long = random(32);
    let mut sd32 = CK_KEY_DERIVATION_STRING_DATA { pData: long.as_mut_ptr(), ulLen: 32 };
    let two_key = T::secret(CKK_DES2).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let d = s.derive(&mut mech(CKM_DES3_ECB_ENCRYPT_DATA, Some(&mut sd32)), k3, &mut { two_key }).unwrap();
    assert_eq!(s.get_bytes(d, CKA_VALUE).unwrap(), parity(tdes_ecb(&key3, &long)[..16].to_vec()));
    sd.ulLen = 8;
    assert_eq!(
        s.derive(&mut mech(CKM_DES3_ECB_ENCRYPT_DATA, Some(&mut sd)), k3, &mut derive_t()),
        Err(CKR_DATA_LEN_RANGE),
        "8 bytes cannot make a three-key key"
    );
    sd.ulLen = 20;
    assert_eq!(
        s.derive(&mut mech(CKM_DES3_ECB_ENCRYPT_DATA, Some(&mut sd)), k3, &mut derive_t()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // And under a DES key (an AES-128 key from 16 bytes of data), not a DES3 key.
    let key1 = random(8);
    let k1 = s.secret_key(CKK_DES, &key1).unwrap();
    let aes_t = || T::secret(CKK_AES).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    sd.ulLen = 16;
    let d = s.derive(&mut mech(CKM_DES_ECB_ENCRYPT_DATA, Some(&mut sd)), k1, &mut aes_t()).unwrap();
    assert_eq!(s.get_bytes(d, CKA_VALUE).unwrap(), tdes_ecb(&key1, &data[..16]));
    cp.length = 16;
    let d = s.derive(&mut mech(CKM_DES_CBC_ENCRYPT_DATA, Some(&mut cp)), k1, &mut aes_t()).unwrap();
    assert_eq!(s.get_bytes(d, CKA_VALUE).unwrap(), tdes_cbc(&key1, &iv, &data[..16], false));
    assert_eq!(
        s.derive(&mut mech(CKM_DES_ECB_ENCRYPT_DATA, Some(&mut sd)), k3, &mut aes_t()),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );

    // Error codes: a key of the wrong length, an IV of the wrong length, an AES key.
    assert_eq!(s.secret_key(CKK_DES3, &random(16)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(s.secret_key(CKK_DES2, &random(24)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let mut iv16 = [0u8; 16];
    assert_eq!(s.encrypt(&mut mech(CKM_DES3_CBC, Some(&mut iv16)), kek, &[0; 8]), Err(CKR_MECHANISM_PARAM_INVALID));
    let aes = s.secret_key(CKK_AES, &random(16)).unwrap();
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_DES3_ECB, None), aes, &[0; 8]), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), kek, &[0; 16]), Err(CKR_KEY_TYPE_INCONSISTENT));
}

/// ChaCha20 keys and CKM_CHACHA20_POLY1305 beyond the Wycheproof vectors
/// (tests/wycheproof_symmetric.rs): key generation, the 64-bit nonce, encryption in parts,
/// a tampered tag, and the error codes.
#[test]
fn chacha20_poly1305_keys_nonces_and_errors() {
    let e = env();
    let s = &e.s;
    let m = CKM_CHACHA20_POLY1305;
    // Generated: 32 bytes whatever the template says of the length; the checksum is the first
    // three bytes of the value's SHA-1, as the ChaCha20 section defines it.
    let open = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let k = s.generate(CKM_CHACHA20_KEY_GEN, &mut open()).unwrap();
    let value = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(value.len(), 32);
    assert_eq!(s.get_bytes(k, CKA_KEY_TYPE).unwrap(), CKK_CHACHA20.to_ne_bytes());
    assert_eq!(s.get_bytes(k, CKA_VALUE_LEN).unwrap(), 32u64.to_ne_bytes());
    {
        use sha1::Digest;
        assert_eq!(s.get_bytes(k, CKA_CHECK_VALUE).unwrap(), sha1::Sha1::digest(&value)[..3]);
    }
    assert_eq!(s.generate(CKM_CHACHA20_KEY_GEN, &mut open().ulong(CKA_VALUE_LEN, 16)), Err(CKR_TEMPLATE_INCONSISTENT));
    assert!(s.generate(CKM_CHACHA20_KEY_GEN, &mut open().ulong(CKA_VALUE_LEN, 32)).is_ok());
    assert_eq!(s.secret_key(CKK_CHACHA20, &random(16)), Err(CKR_ATTRIBUTE_VALUE_INVALID));

    // The 64-bit nonce is the RFC 8439 construction with the block counter's high word (the
    // first four bytes of the 96-bit nonce) zero.
    let data = random(300);
    let mut aad = random(13);
    let mut n8 = random(8);
    let mut n12 = [vec![0u8; 4], n8.clone()].concat();
    let ct = s.encrypt(&mut mech(m, Some(&mut chacha_params(&mut n8, &mut aad))), k, &data).unwrap();
    assert_eq!(ct.len(), data.len() + 16);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut chacha_params(&mut n12, &mut aad))), k, &data).unwrap(), ct);
    assert_eq!(s.decrypt(&mut mech(m, Some(&mut chacha_params(&mut n8, &mut aad))), k, &ct).unwrap(), data);
    n12[0] = 1;
    assert_ne!(s.encrypt(&mut mech(m, Some(&mut chacha_params(&mut n12, &mut aad))), k, &data).unwrap(), ct);

    // In parts: nothing until C_EncryptFinal, which returns ciphertext and tag.
    let mut p = chacha_params(&mut n8, &mut aad);
    let mut out = vec![0u8; 400];
    // SAFETY: the mechanism and every buffer are live locals of the lengths given.
    unsafe {
        assert_eq!(s.lib.C_EncryptInit(s.h, &mut mech(m, Some(&mut p)), k), CKR_OK);
        for part in data.chunks(128) {
            let mut part = part.to_vec();
            let mut n = out.len() as CK_ULONG;
            let rv = s.lib.C_EncryptUpdate(s.h, part.as_mut_ptr(), part.len() as _, out.as_mut_ptr(), &mut n);
            assert_eq!((rv, n), (CKR_OK, 0));
        }
        let mut n = 10;
        assert_eq!(s.lib.C_EncryptFinal(s.h, out.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert_eq!(n, 316);
        assert_eq!(s.lib.C_EncryptFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out[..n as usize], ct[..]);
    }

    // A changed tag, ciphertext or AAD: no plaintext.
    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 1;
    let mut pm = chacha_params(&mut n8, &mut aad);
    assert_eq!(s.decrypt(&mut mech(m, Some(&mut pm)), k, &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert_eq!(s.decrypt(&mut mech(m, Some(&mut pm)), k, &ct[..15]), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let mut other_aad = random(12);
    let mut pm2 = chacha_params(&mut n8, &mut other_aad);
    assert_eq!(s.decrypt(&mut mech(m, Some(&mut pm2)), k, &ct), Err(CKR_ENCRYPTED_DATA_INVALID));

    // Error codes: nonces of other lengths, no parameter, a parameter of the wrong size,
    // keys of the wrong type either way.
    for len in [0usize, 7, 11, 16, 32] {
        let mut n = random(len);
        let mut pm = chacha_params(&mut n, &mut aad);
        assert_eq!(s.encrypt(&mut mech(m, Some(&mut pm)), k, &data), Err(CKR_MECHANISM_PARAM_INVALID), "nonce {len}");
    }
    assert_eq!(s.encrypt(&mut mech::<u8>(m, None), k, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut short = [0u8; 16];
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut short)), k, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut pm)), aes, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
    let mut iv = random(12);
    let mut gp = gcm_params(&mut iv, None, 128);
    assert_eq!(s.encrypt(&mut mech(CKM_AES_GCM, Some(&mut gp)), k, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
    // Not a signing or wrapping mechanism (message-based: tests/message.rs).
    assert_eq!(s.sign(&mut mech(m, Some(&mut pm)), k, &data), Err(CKR_MECHANISM_INVALID));
    let mut info = CK_MECHANISM_INFO::default();
    // SAFETY: live out-structure.
    assert_eq!(unsafe { s.lib.C_GetMechanismInfo(0, m, &mut info) }, CKR_OK);
    let flags = CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT;
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (32, 32, flags));
}

/// CK_CHACHA20_PARAMS over the given buffers; a NULL counter when `counter` is empty.
fn chacha20_params(counter: &mut [u8], nonce: &mut [u8]) -> CK_CHACHA20_PARAMS {
    CK_CHACHA20_PARAMS {
        pBlockCounter: if counter.is_empty() { null_mut() } else { counter.as_mut_ptr() },
        blockCounterBits: if counter.is_empty() { 32 } else { counter.len() as CK_ULONG * 8 },
        pNonce: nonce.as_mut_ptr(),
        ulNonceBits: nonce.len() as CK_ULONG * 8,
    }
}

/// RustCrypto's ChaCha20 keystream over `data` from block `counter`: the IETF variant for a
/// 12-byte nonce, the original (64-bit counter) for 8 bytes, XChaCha20 for 24.
fn rustcrypto_chacha20(key: &[u8], nonce: &[u8], counter: u64, data: &[u8]) -> Vec<u8> {
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    fn run<C: KeyIvInit + StreamCipher + StreamCipherSeek>(
        key: &[u8],
        nonce: &[u8],
        pos: u128,
        data: &[u8],
    ) -> Vec<u8> {
        let mut c = C::new_from_slices(key, nonce).unwrap();
        c.seek(pos);
        let mut out = data.to_vec();
        c.apply_keystream(&mut out);
        out
    }
    let pos = u128::from(counter) * 64;
    match nonce.len() {
        12 => run::<chacha20::ChaCha20>(key, nonce, pos, data),
        8 => run::<chacha20::ChaCha20Legacy>(key, nonce, pos, data),
        _ => run::<chacha20::XChaCha20>(key, nonce, pos, data),
    }
}

/// CKM_CHACHA20 (the stream cipher on its own) against RustCrypto's chacha20: the three
/// nonces, initial block counters of 32 and 64 bits (least significant byte first), parts
/// that start and end inside blocks, the original variant's counter carrying into its high
/// word, the IETF counter's end, and the parameter's error codes.
#[test]
fn chacha20_stream_cipher_agrees_with_rustcrypto() {
    let e = env();
    let s = &e.s;
    let m = CKM_CHACHA20;
    let key = random(32);
    let k = s.secret_key(CKK_CHACHA20, &key).unwrap();
    let data = random(333);
    for (nonce_len, counter_bits) in [(12, 32), (8, 64), (8, 32), (24, 64), (24, 32)] {
        let mut nonce = random(nonce_len);
        for counter in [0u64, 1, 0x0102_0304] {
            let mut c = counter.to_le_bytes()[..counter_bits / 8].to_vec();
            let want = rustcrypto_chacha20(&key, &nonce, counter, &data);
            let what = format!("nonce {nonce_len}, counter {counter} ({counter_bits} bits)");
            let mut p = chacha20_params(&mut c, &mut nonce);
            assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), k, &data).unwrap(), want, "{what}");
            assert_eq!(s.decrypt(&mut mech(m, Some(&mut p)), k, &want).unwrap(), data, "{what}");
            // In parts: within a block, across blocks, block by block.
            let parts: Vec<&[u8]> = vec![&data[..1], &data[1..64], &data[64..65], &data[65..200], &data[200..]];
            assert_eq!(s.crypt_parts(&mut mech(m, Some(&mut p)), k, true, &parts).unwrap(), want, "{what} in parts");
            let parts: Vec<&[u8]> = want.chunks(64).collect();
            assert_eq!(s.crypt_parts(&mut mech(m, Some(&mut p)), k, false, &parts).unwrap(), data, "{what} by block");
        }
    }
    // No counter is a counter of zero.
    let mut nonce = random(12);
    let mut p = chacha20_params(&mut [], &mut nonce);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), k, &data).unwrap(), rustcrypto_chacha20(&key, &nonce, 0, &data));

    // The original variant's 64-bit counter goes on past 2^32 - 1 into its high word.
    let mut n8 = random(8);
    let mut c = u64::from(u32::MAX).to_le_bytes().to_vec();
    let mut p = chacha20_params(&mut c, &mut n8);
    let want = rustcrypto_chacha20(&key, &n8, u64::from(u32::MAX), &data[..200]);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), k, &data[..200]).unwrap(), want);
    assert_eq!(want[64..], rustcrypto_chacha20(&key, &n8, 1 << 32, &data[64..200]));
    // The IETF counter's last block is the last: 64 bytes from 2^32 - 1, not 65, whole or
    // in parts.
    let mut c = u32::MAX.to_le_bytes().to_vec();
    let mut p = chacha20_params(&mut c, &mut nonce);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), k, &data[..64]).unwrap().len(), 64);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), k, &data[..65]), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(s.decrypt(&mut mech(m, Some(&mut p)), k, &data[..65]), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let parts: Vec<&[u8]> = vec![&data[..60], &data[60..70]];
    assert_eq!(s.crypt_parts(&mut mech(m, Some(&mut p)), k, true, &parts), Err(CKR_DATA_LEN_RANGE));
    // A size query for a part past the end gives the error the part would.
    let mut part = data[..65].to_vec();
    let mut n: CK_ULONG = 0;
    // SAFETY: live mechanism and part; a NULL output buffer is a size query.
    unsafe {
        assert_eq!(s.lib.C_EncryptInit(s.h, &mut mech(m, Some(&mut p)), k), CKR_OK);
        let rv = s.lib.C_EncryptUpdate(s.h, part.as_mut_ptr(), 65, null_mut(), &mut n);
        assert_eq!(rv, CKR_DATA_LEN_RANGE);
    }

    // The parameter: counters of 32 or 64 bits (64 not with the IETF nonce), nonces of 64, 96
    // or 192 bits, none missing.
    let bad = |counter_bits: CK_ULONG, nonce_bits: CK_ULONG, nonce: *mut u8| {
        let mut c = [0u8; 8];
        let mut p = CK_CHACHA20_PARAMS {
            pBlockCounter: c.as_mut_ptr(),
            blockCounterBits: counter_bits,
            pNonce: nonce,
            ulNonceBits: nonce_bits,
        };
        s.encrypt(&mut mech(m, Some(&mut p)), k, &data)
    };
    let mut n = random(24);
    for (cb, nb) in [(16, 96), (0, 96), (128, 96), (64, 96), (32, 128), (32, 0), (32, 95), (32, 256)] {
        assert_eq!(bad(cb, nb, n.as_mut_ptr()), Err(CKR_MECHANISM_PARAM_INVALID), "counter {cb} bits, nonce {nb}");
    }
    assert_eq!(bad(32, 96, null_mut()), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(s.encrypt(&mut mech::<u8>(m, None), k, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut wrong_size = [0u8; 16];
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut wrong_size)), k, &data), Err(CKR_MECHANISM_PARAM_INVALID));
    // ChaCha20 keys only; not a signing mechanism; key sizes in bits, as the section says.
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    let mut p = chacha20_params(&mut [], &mut nonce);
    assert_eq!(s.encrypt(&mut mech(m, Some(&mut p)), aes, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.sign(&mut mech(m, Some(&mut p)), k, &data), Err(CKR_MECHANISM_INVALID));
    let mut info = CK_MECHANISM_INFO::default();
    // SAFETY: live out-structure.
    assert_eq!(unsafe { s.lib.C_GetMechanismInfo(0, m, &mut info) }, CKR_OK);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (256, 256, CKF_ENCRYPT | CKF_DECRYPT));
}

/// OpenSSL's PKCS #12 KDF over SHA-1 (`openssl kdf ... PKCS12KDF`): `n` bytes of
/// diversifier `id`.
fn openssl_pkcs12(pass: &[u8], salt: &[u8], iter: u32, id: u8, n: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (n, p, sa, it, i) = (
        n.to_string(),
        format!("hexpass:{}", hex(pass)),
        format!("hexsalt:{}", hex(salt)),
        format!("iter:{iter}"),
        format!("id:{id}"),
    );
    let args = [
        "kdf",
        "-keylen",
        &n,
        "-kdfopt",
        "digest:SHA1",
        "-kdfopt",
        &p,
        "-kdfopt",
        &sa,
        "-kdfopt",
        &it,
        "-kdfopt",
        &i,
        "PKCS12KDF",
    ];
    let out = String::from_utf8(common::asymmetric::openssl_ok(dir.path(), &args)).unwrap();
    unhex(&out.trim().replace(':', ""))
}

/// `key` with odd parity in every byte, as a DES key.
fn odd_parity(key: &[u8]) -> Vec<u8> {
    key.iter().map(|b| if b.count_ones() % 2 == 1 { *b } else { b ^ 1 }).collect()
}

/// CKM_PBE_SHA1_DES3_EDE_CBC, CKM_PBE_SHA1_DES2_EDE_CBC (the key, with odd parity, and the
/// 8-byte IV written where pInitVector points) and CKM_PBA_SHA1_WITH_SHA1_HMAC (a 160-bit
/// generic secret) against OpenSSL's PKCS #12 KDF: the classic "smeg" vector, passwords and
/// salts longer than SHA-1's block, several iteration counts; the parameter and template
/// errors.
#[test]
fn pkcs12_pbe_key_generation() {
    let e = env();
    let s = &e.s;
    let readable = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let smeg = unhex("0073006d006500670000");
    let salt = unhex("0a58cf64530d823f");
    let long_pw = random(150);
    let long_salt = random(70);
    for (m, kt, len) in [
        (CKM_PBE_SHA1_DES3_EDE_CBC, CKK_DES3, 24),
        (CKM_PBE_SHA1_DES2_EDE_CBC, CKK_DES2, 16),
        (CKM_PBA_SHA1_WITH_SHA1_HMAC, CKK_GENERIC_SECRET, 20),
    ] {
        for (pw, salt, iter) in [(&smeg, &salt, 1u32), (&smeg, &salt, 1000), (&long_pw, &long_salt, 3)] {
            let (mut pw, mut salt) = (pw.clone(), salt.clone());
            let mut iv = [0u8; 8];
            let mut p = CK_PBE_PARAMS {
                pInitVector: iv.as_mut_ptr(),
                pPassword: pw.as_mut_ptr(),
                ulPasswordLen: pw.len() as CK_ULONG,
                pSalt: salt.as_mut_ptr(),
                ulSaltLen: salt.len() as CK_ULONG,
                ulIteration: iter as CK_ULONG,
            };
            let k = s.generate_with(&mut mech(m, Some(&mut p)), &mut readable()).unwrap();
            let id = if kt == CKK_GENERIC_SECRET { 3 } else { 1 };
            let mut want = openssl_pkcs12(&pw, &salt, iter, id, len);
            if kt != CKK_GENERIC_SECRET {
                want = odd_parity(&want);
                assert_eq!(iv.to_vec(), openssl_pkcs12(&pw, &salt, iter, 2, 8), "0x{m:x} IV, {iter} iterations");
            } else {
                assert_eq!(iv, [0u8; 8], "no IV for the MAC key");
            }
            assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want, "0x{m:x}, {iter} iterations");
            assert_eq!(s.get_bytes(k, CKA_KEY_TYPE).unwrap(), kt.to_ne_bytes());
            assert_eq!(s.get_bytes(k, CKA_KEY_GEN_MECHANISM).unwrap(), m.to_ne_bytes());
        }
    }
    // The "smeg" vector's key itself (RFC 7292's classic example), before parity.
    assert_eq!(hex(&openssl_pkcs12(&smeg, &salt, 1, 1, 24)), "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3");

    // Errors: no IV buffer for the DES mechanisms (the MAC key needs none), no iterations,
    // a length or key type the mechanism does not make.
    let (mut pw, mut salt) = (smeg.clone(), salt.clone());
    let mut iv = [0u8; 8];
    let mut params = |iv: *mut u8, iter: CK_ULONG| CK_PBE_PARAMS {
        pInitVector: iv,
        pPassword: pw.as_mut_ptr(),
        ulPasswordLen: pw.len() as CK_ULONG,
        pSalt: salt.as_mut_ptr(),
        ulSaltLen: salt.len() as CK_ULONG,
        ulIteration: iter,
    };
    let mut p = params(null_mut(), 1);
    assert_eq!(
        s.generate_with(&mut mech(CKM_PBE_SHA1_DES3_EDE_CBC, Some(&mut p)), &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    assert!(s.generate_with(&mut mech(CKM_PBA_SHA1_WITH_SHA1_HMAC, Some(&mut p)), &mut readable()).is_ok());
    let mut p = params(iv.as_mut_ptr(), 0);
    assert_eq!(
        s.generate_with(&mut mech(CKM_PBE_SHA1_DES3_EDE_CBC, Some(&mut p)), &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let mut p = params(iv.as_mut_ptr(), 1);
    // The MAC key may be made a SHA-1 HMAC key, the key it is for.
    let t = &mut readable().ulong(CKA_KEY_TYPE, CKK_SHA_1_HMAC);
    let k = s.generate_with(&mut mech(CKM_PBA_SHA1_WITH_SHA1_HMAC, Some(&mut p)), t).unwrap();
    assert_eq!(s.get_bytes(k, CKA_KEY_TYPE).unwrap(), CKK_SHA_1_HMAC.to_ne_bytes());
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), openssl_pkcs12(&smeg, &unhex("0a58cf64530d823f"), 1, 3, 20));
    let m = CKM_PBE_SHA1_DES3_EDE_CBC;
    assert_eq!(
        s.generate_with(&mut mech(m, Some(&mut p)), &mut readable().ulong(CKA_VALUE_LEN, 16)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    assert_eq!(
        s.generate_with(&mut mech(m, Some(&mut p)), &mut readable().ulong(CKA_KEY_TYPE, CKK_AES)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    assert_eq!(s.generate_with(&mut mech::<u8>(m, None), &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut info = CK_MECHANISM_INFO::default();
    // SAFETY: live out-structure.
    assert_eq!(unsafe { s.lib.C_GetMechanismInfo(0, m, &mut info) }, CKR_OK);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (24, 24, CKF_GENERATE));
}

/// CK_PKCS5_PBKD2_PARAMS2 over the given buffers.
fn pbkdf2_params(prf: CK_ULONG, salt: &mut [u8], iterations: CK_ULONG, password: &mut [u8]) -> CK_PKCS5_PBKD2_PARAMS2 {
    CK_PKCS5_PBKD2_PARAMS2 {
        saltSource: CKZ_SALT_SPECIFIED,
        pSaltSourceData: salt.as_mut_ptr().cast(),
        ulSaltSourceDataLen: salt.len() as CK_ULONG,
        iterations,
        prf,
        pPrfData: null_mut(),
        ulPrfDataLen: 0,
        pPassword: password.as_mut_ptr(),
        ulPasswordLen: password.len() as CK_ULONG,
    }
}

/// CKM_PKCS5_PBKD2 through C_GenerateKey: RFC 6070's PBKDF2-HMAC-SHA1 vectors, the SHA-2
/// PRFs against RustCrypto's pbkdf2, AES and Triple DES keys, PKCS#11 2.40's parameter
/// layout (the password length by pointer), and the error codes.
#[test]
fn pbkdf2_key_generation() {
    let e = env();
    let s = &e.s;
    let generic = |n: CK_ULONG| {
        T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true).ulong(CKA_VALUE_LEN, n)
    };
    let derive = |p: &mut CK_PKCS5_PBKD2_PARAMS2, t: &mut T| s.generate_with(&mut mech(CKM_PKCS5_PBKD2, Some(p)), t);
    let rfc6070: [(&[u8], &[u8], CK_ULONG, &str); 5] = [
        (b"password", b"salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
        (b"password", b"salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
        (b"password", b"salt", 4096, "4b007901b765489abead49d926f721d065a429c1"),
        (
            b"passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            4096,
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
        ),
        (b"pass\0word", b"sa\0lt", 4096, "56fa6aa75548099dcc37d7f03425e0c3"),
    ];
    for (password, salt, c, want) in rfc6070 {
        let (mut pw, mut salt) = (password.to_vec(), salt.to_vec());
        let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA1, &mut salt, c, &mut pw);
        let k = derive(&mut p, &mut generic((want.len() / 2) as CK_ULONG)).unwrap();
        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), want, "c={c}");
        assert_eq!(s.get_bytes(k, CKA_KEY_GEN_MECHANISM).unwrap(), CKM_PKCS5_PBKD2.to_ne_bytes());
        assert!(s.get_bool(k, CKA_LOCAL));
    }

    // The SHA-2 PRFs, against RustCrypto.
    use pbkdf2::pbkdf2_hmac;
    let (mut pw, mut salt) = (b"correct horse battery staple".to_vec(), random(16));
    let prfs = [
        (CKP_PKCS5_PBKD2_HMAC_SHA224, pbkdf2_hmac::<sha2::Sha224> as fn(&[u8], &[u8], u32, &mut [u8])),
        (CKP_PKCS5_PBKD2_HMAC_SHA256, pbkdf2_hmac::<sha2::Sha256>),
        (CKP_PKCS5_PBKD2_HMAC_SHA384, pbkdf2_hmac::<sha2::Sha384>),
        (CKP_PKCS5_PBKD2_HMAC_SHA512, pbkdf2_hmac::<sha2::Sha512>),
        (CKP_PKCS5_PBKD2_HMAC_SHA512_224, pbkdf2_hmac::<sha2::Sha512_224>),
        (CKP_PKCS5_PBKD2_HMAC_SHA512_256, pbkdf2_hmac::<sha2::Sha512_256>),
    ];
    for (prf, theirs) in prfs {
        let mut want = vec![0u8; 77];
        theirs(&pw, &salt, 1000, &mut want);
        let mut p = pbkdf2_params(prf, &mut salt, 1000, &mut pw);
        let k = derive(&mut p, &mut generic(77)).unwrap();
        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), hex(&want), "prf {prf}");
    }

    // An AES key (its checksum is the AES one), an empty password, and the 2.40 layout.
    let mut want = [0u8; 32];
    pbkdf2_hmac::<sha2::Sha256>(&pw, &salt, 10, &mut want);
    let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA256, &mut salt, 10, &mut pw);
    let aes = || T::secret(CKK_AES).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true).flag(CKA_ENCRYPT, true);
    let k = derive(&mut p, &mut aes().ulong(CKA_VALUE_LEN, 32)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want);
    assert_eq!(s.get_bytes(k, CKA_CHECK_VALUE).unwrap(), aes256_ecb(&want, &[0; 16])[..3]);
    let mut len: CK_ULONG = pw.len() as CK_ULONG;
    p.ulPasswordLen = (&raw mut len) as CK_ULONG;
    let k240 = derive(&mut p, &mut aes().ulong(CKA_VALUE_LEN, 32)).unwrap();
    assert_eq!(s.get_bytes(k240, CKA_VALUE).unwrap(), want, "the 2.40 CK_PKCS5_PBKD2_PARAMS");
    let mut empty: [u8; 0] = [];
    let mut want = [0u8; 24];
    pbkdf2_hmac::<sha2::Sha256>(b"", &salt, 3, &mut want);
    let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA256, &mut salt, 3, &mut empty);
    p.pPassword = null_mut();
    let k = derive(&mut p, &mut aes().ulong(CKA_VALUE_LEN, 24)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want, "an empty password");

    // Triple DES: the key type's length, odd parity.
    let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA256, &mut salt, 10, &mut pw);
    let des = derive(&mut p, &mut T::secret(CKK_DES3).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)).unwrap();
    let v = s.get_bytes(des, CKA_VALUE).unwrap();
    let mut want = [0u8; 24];
    pbkdf2_hmac::<sha2::Sha256>(&pw, &salt, 10, &mut want);
    // Each byte's low bit is its parity bit (FIPS 46-3): the high seven bits are PBKDF2's.
    assert!(v.iter().zip(want).all(|(a, b)| a.count_ones() % 2 == 1 && a & 0xfe == b & 0xfe), "{v:02x?}");

    // Error codes.
    let bad = |f: &dyn Fn(&mut CK_PKCS5_PBKD2_PARAMS2)| {
        let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA256, &mut salt.clone(), 10, &mut pw.clone());
        f(&mut p);
        derive(&mut p, &mut generic(32))
    };
    assert_eq!(bad(&|p| p.iterations = 0), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(bad(&|p| p.saltSource = 2), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(bad(&|p| p.prf = CKP_PKCS5_PBKD2_HMAC_GOSTR3411), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(bad(&|p| p.prf = 99), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(bad(&|p| p.ulPrfDataLen = 4), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(bad(&|p| p.iterations = 1 << 40), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut p = pbkdf2_params(CKP_PKCS5_PBKD2_HMAC_SHA256, &mut salt, 10, &mut pw);
    let incomplete = T::secret(CKK_GENERIC_SECRET);
    assert_eq!(derive(&mut p, &mut { incomplete }), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(derive(&mut p, &mut aes().ulong(CKA_VALUE_LEN, 20)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    // The template before the (deliberately slow) derivation: with a length AES refuses, the
    // template's own fault is what returns.
    let mut t = aes().ulong(CKA_VALUE_LEN, 20).bytes(CKA_VALUE, &[0; 20]);
    assert_eq!(derive(&mut p, &mut t), Err(CKR_ATTRIBUTE_READ_ONLY));
    let mut t = aes().ulong(CKA_VALUE_LEN, 20).ulong(CKA_MODULUS_BITS, 1);
    assert_eq!(derive(&mut p, &mut t), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    let mut g = 0;
    let mut none = mech::<u8>(CKM_PKCS5_PBKD2, None);
    let mut t = generic(32);
    // SAFETY: live mechanism (no parameter), template and out-pointer.
    let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut none, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut g) };
    assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);
    let mut short = [0u8; 64];
    let mut m = mech(CKM_PKCS5_PBKD2, Some(&mut short));
    // SAFETY: as above, with a 64-byte parameter.
    let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut g) };
    assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);
}
