//! Symmetric mechanisms through liboxihsm.so, cross-checked with the RustCrypto crates as
//! an independent implementation: key generation, AES modes single- and multi-part, MACs,
//! size queries and short buffers, and the error codes for bad parameters, wrong keys,
//! missing usage flags, CKA_ALLOWED_MECHANISMS and tampered tags.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

struct Env {
    _h: Harness,
    _p: cryptoki::context::Pkcs11,
    s: RawSession,
}

fn env() -> Env {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "symmetric");
    let s = user_session(&p, slot);
    let raw = RawSession::new(&h, &s);
    std::mem::forget(s);
    Env { _h: h, _p: p, s: raw }
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add((n as u8).wrapping_mul(11)) ^ 0x5a;
    }
    v
}

/// Imports a secret key with the given extra boolean/ulong attributes.
fn key_with(
    s: &RawSession,
    kt: CK_KEY_TYPE,
    value: &[u8],
    flags: &[(CK_ATTRIBUTE_TYPE, bool)],
    allowed: Option<&[CK_MECHANISM_TYPE]>,
) -> RawResult<CK_OBJECT_HANDLE> {
    let mut class = CKO_SECRET_KEY;
    let mut kt = kt;
    let mut v = value.to_vec();
    let mut bools: Vec<u8> = flags.iter().map(|(_, b)| *b as u8).collect();
    let mut mechs: Vec<CK_MECHANISM_TYPE> = allowed.unwrap_or(&[]).to_vec();
    let mut t = vec![
        CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw mut kt).cast(), ulValueLen: 8 },
        CK_ATTRIBUTE { type_: CKA_VALUE, pValue: v.as_mut_ptr().cast(), ulValueLen: v.len() as CK_ULONG },
    ];
    for (i, (ty, _)) in flags.iter().enumerate() {
        t.push(CK_ATTRIBUTE { type_: *ty, pValue: bools[i..].as_mut_ptr().cast(), ulValueLen: 1 });
    }
    if allowed.is_some() {
        t.push(CK_ATTRIBUTE {
            type_: CKA_ALLOWED_MECHANISMS,
            pValue: mechs.as_mut_ptr().cast(),
            ulValueLen: (mechs.len() * 8) as CK_ULONG,
        });
    }
    let mut o = 0;
    // SAFETY: the template points at live locals.
    let rv = unsafe { s.lib.C_CreateObject(s.h, t.as_mut_ptr(), t.len() as CK_ULONG, &mut o) };
    if rv == CKR_OK { Ok(o) } else { Err(rv) }
}

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

fn chacha_params(nonce: &mut [u8], aad: &mut [u8]) -> CK_SALSA20_CHACHA20_POLY1305_PARAMS {
    CK_SALSA20_CHACHA20_POLY1305_PARAMS {
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: aad.len() as CK_ULONG,
    }
}

/// ChaCha20 keys and CKM_CHACHA20_POLY1305 beyond the Wycheproof vectors
/// (tests/wycheproof_symmetric.rs): key generation, the 64-bit nonce, encryption in parts,
/// a tampered tag, and the error codes.
#[test]
fn chacha20_poly1305_keys_nonces_and_errors() {
    let e = env();
    let s = &e.s;
    let m = CKM_CHACHA20_POLY1305;
    // Generated: 32 bytes whatever the template says of the length, and no checksum (the
    // specification defines none for ChaCha20).
    let open = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let k = s.generate(CKM_CHACHA20_KEY_GEN, &mut open()).unwrap();
    let value = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(value.len(), 32);
    assert_eq!(s.get_bytes(k, CKA_KEY_TYPE).unwrap(), CKK_CHACHA20.to_ne_bytes());
    assert_eq!(s.get_bytes(k, CKA_VALUE_LEN).unwrap(), 32u64.to_ne_bytes());
    assert_eq!(s.get_bytes(k, CKA_CHECK_VALUE), Err(CKR_ATTRIBUTE_TYPE_INVALID));
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
    let derive = |p: &mut CK_PKCS5_PBKD2_PARAMS2, t: &mut T| -> RawResult<CK_OBJECT_HANDLE> {
        let mut m = mech(CKM_PKCS5_PBKD2, Some(p));
        let mut h = 0;
        // SAFETY: the mechanism, its parameter's buffers and the template are live.
        let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut h) };
        if rv == CKR_OK { Ok(h) } else { Err(rv) }
    };
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

/// `data` encrypted by `openssl enc` with `cipher` under `key` and `iv` (files in `dir`).
fn openssl_enc(dir: &std::path::Path, cipher: &str, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    std::fs::write(dir.join("pt"), data).unwrap();
    let (key, iv) = (hex(key), hex(iv));
    let args = ["enc", "-e", &format!("-{cipher}"), "-K", &key, "-iv", &iv, "-in", "pt", "-out", "ct"];
    run_ok(tool("openssl").current_dir(dir).args(args));
    std::fs::read(dir.join("ct")).unwrap()
}

/// AES-OFB, CFB1, CFB8 and CFB128 (SP 800-38A stream modes, data of any length) against the
/// `openssl enc` command, in one part and in several; and CTS (below).
#[test]
fn aes_stream_modes_agree_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e._h.dir.path();
    let key = random(32);
    let k = s.secret_key(CKK_AES, &key).unwrap();
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    for (m, name) in [
        (CKM_AES_OFB, "aes-256-ofb"),
        (CKM_AES_CFB1, "aes-256-cfb1"),
        (CKM_AES_CFB8, "aes-256-cfb8"),
        (CKM_AES_CFB128, "aes-256-cfb"),
    ] {
        for len in [1usize, 16, 33, 1000] {
            let data = random(len);
            let want = openssl_enc(dir, name, &key, &iv, &data);
            let got = s.encrypt(&mut mech(m, Some(&mut iv)), k, &data).unwrap();
            assert_eq!(got, want, "{name} {len}");
            assert_eq!(s.decrypt(&mut mech(m, Some(&mut iv)), k, &got).unwrap(), data, "{name} {len}");
            // In parts of 7 bytes: the same stream.
            let mut mm = mech(m, Some(&mut iv));
            let mut parts = Vec::new();
            // SAFETY: live mechanism, data chunks and output buffers of the lengths given.
            unsafe {
                assert_eq!(s.lib.C_EncryptInit(s.h, &mut mm, k), CKR_OK);
                for chunk in data.chunks(7) {
                    let mut out = vec![0u8; chunk.len() + 16];
                    let mut n = out.len() as CK_ULONG;
                    let rv = s.lib.C_EncryptUpdate(
                        s.h,
                        chunk.as_ptr().cast_mut(),
                        chunk.len() as CK_ULONG,
                        out.as_mut_ptr(),
                        &mut n,
                    );
                    assert_eq!(rv, CKR_OK, "{name}");
                    parts.extend_from_slice(&out[..n as usize]);
                }
                let mut out = [0u8; 16];
                let mut n = 16 as CK_ULONG;
                assert_eq!(s.lib.C_EncryptFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
                parts.extend_from_slice(&out[..n as usize]);
            }
            assert_eq!(parts, want, "{name} {len} in parts");
        }
        // The IV is 16 bytes.
        let mut short = [0u8; 8];
        assert_eq!(s.encrypt(&mut mech(m, Some(&mut short)), k, b"x"), Err(CKR_MECHANISM_PARAM_INVALID), "{name}");
    }
    cts_agrees_with_openssl(s, dir, &key, k);
    xts_agrees_with_rustcrypto(s);
}

/// XTS-AES of one data unit under RustCrypto's `xts-mode` and `aes`.
fn xts_encrypt(key: &[u8], tweak: [u8; 16], data: &[u8]) -> Vec<u8> {
    use aes::cipher::KeyInit;
    let (k1, k2) = key.split_at(key.len() / 2);
    let mut out = data.to_vec();
    if key.len() == 32 {
        let xts =
            xts_mode::Xts128::new(aes::Aes128::new_from_slice(k1).unwrap(), aes::Aes128::new_from_slice(k2).unwrap());
        xts.encrypt_sector(&mut out, tweak);
    } else {
        let xts =
            xts_mode::Xts128::new(aes::Aes256::new_from_slice(k1).unwrap(), aes::Aes256::new_from_slice(k2).unwrap());
        xts.encrypt_sector(&mut out, tweak);
    }
    out
}

/// CKM_AES_XTS on CKK_AES_XTS keys of 32 and 64 bytes, against RustCrypto's `xts-mode`
/// (`openssl enc` has no XTS): single-part, in parts (all of it comes at the end), ciphertext
/// stealing, key generation and the codes.
fn xts_agrees_with_rustcrypto(s: &RawSession) {
    let mut tweak: [u8; 16] = random(16).try_into().unwrap();
    for (len_key, name) in [(32usize, "XTS-AES-128"), (64, "XTS-AES-256")] {
        let key: Vec<u8> = (0..len_key).map(|i| (i as u8).wrapping_mul(7).wrapping_add(1)).collect();
        let k = s.secret_key(CKK_AES_XTS, &key).unwrap();
        for len in [16usize, 17, 31, 32, 33, 100, 1000] {
            let data = random(len);
            let want = xts_encrypt(&key, tweak, &data);
            let got = s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &data).unwrap();
            assert_eq!(got, want, "{name} {len}");
            assert_eq!(s.decrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &got).unwrap(), data, "{name} {len}");
            // In parts: nothing until C_EncryptFinal, which gives it all.
            let mut m = mech(CKM_AES_XTS, Some(&mut tweak));
            // SAFETY: live mechanism, input chunks and output buffers of the lengths given.
            unsafe {
                assert_eq!(s.lib.C_EncryptInit(s.h, &mut m, k), CKR_OK);
                for part in data.chunks(7) {
                    let mut n: CK_ULONG = 64;
                    let mut out = [0u8; 64];
                    let p = part.as_ptr().cast_mut();
                    assert_eq!(s.lib.C_EncryptUpdate(s.h, p, part.len() as _, out.as_mut_ptr(), &mut n), CKR_OK);
                    assert_eq!(n, 0);
                }
                let mut out = vec![0u8; len];
                let mut n = len as CK_ULONG;
                assert_eq!(s.lib.C_EncryptFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
                assert_eq!(out, want, "{name} {len} in parts");
            }
        }
        assert_eq!(s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &random(15)), Err(CKR_DATA_LEN_RANGE));
        assert_eq!(
            s.decrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &random(15)),
            Err(CKR_ENCRYPTED_DATA_LEN_RANGE)
        );
    }
    // Keys: 32 or 64 bytes, made by CKM_AES_XTS_KEY_GEN; an AES key is not an XTS key.
    let g = s.generate(CKM_AES_XTS_KEY_GEN, &mut T::default().ulong(CKA_VALUE_LEN, 64)).unwrap();
    assert_eq!(s.get_ulong(g, CKA_KEY_TYPE), Ok(CKK_AES_XTS));
    assert_eq!(s.get_ulong(g, CKA_VALUE_LEN), Ok(64));
    let data = random(40);
    let c = s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), g, &data).unwrap();
    assert_eq!(s.decrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), g, &c).unwrap(), data);
    let mut bad = T::default().ulong(CKA_VALUE_LEN, 48);
    assert_eq!(s.generate(CKM_AES_XTS_KEY_GEN, &mut bad), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(s.secret_key(CKK_AES_XTS, &random(48)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    assert_eq!(s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), aes, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
}

/// CKM_AES_CTS is NIST's CBC-CS1, as OpenSSL's AES-256-CBC-CTS by default: single-part, in
/// parts of 7 bytes both ways, and the lengths it refuses.
fn cts_agrees_with_openssl(s: &RawSession, dir: &std::path::Path, key: &[u8], k: CK_OBJECT_HANDLE) {
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    // Init, then C_*Update in parts of 7 bytes, then C_*Final.
    let in_parts = |encrypt: bool, input: &[u8], iv: &mut [u8; 16]| -> RawResult<Vec<u8>> {
        let mut m = mech(CKM_AES_CTS, Some(iv));
        let mut out = Vec::new();
        // SAFETY: live mechanism, input chunks and output buffers of the lengths given.
        unsafe {
            let init = if encrypt { s.lib.C_EncryptInit(s.h, &mut m, k) } else { s.lib.C_DecryptInit(s.h, &mut m, k) };
            assert_eq!(init, CKR_OK);
            let update = |i: *mut u8, il, o, ol| {
                if encrypt {
                    s.lib.C_EncryptUpdate(s.h, i, il, o, ol)
                } else {
                    s.lib.C_DecryptUpdate(s.h, i, il, o, ol)
                }
            };
            let fin = |o, ol| if encrypt { s.lib.C_EncryptFinal(s.h, o, ol) } else { s.lib.C_DecryptFinal(s.h, o, ol) };
            for chunk in input.chunks(7) {
                let mut buf = vec![0u8; 64];
                let mut n = buf.len() as CK_ULONG;
                let rv = update(chunk.as_ptr().cast_mut(), chunk.len() as CK_ULONG, buf.as_mut_ptr(), &mut n);
                if rv != CKR_OK {
                    return Err(rv);
                }
                out.extend_from_slice(&buf[..n as usize]);
            }
            let mut buf = [0u8; 32];
            let mut n = 32 as CK_ULONG;
            let rv = fin(buf.as_mut_ptr(), &mut n);
            if rv != CKR_OK {
                return Err(rv);
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        Ok(out)
    };
    for len in [16usize, 17, 31, 32, 33, 47, 48, 100, 1000] {
        let data = random(len);
        let want = openssl_enc(dir, "aes-256-cbc-cts", key, &iv, &data);
        assert_eq!(want.len(), len);
        assert_eq!(s.encrypt(&mut mech(CKM_AES_CTS, Some(&mut iv)), k, &data).unwrap(), want, "CTS {len}");
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CTS, Some(&mut iv)), k, &want).unwrap(), data, "CTS {len}");
        assert_eq!(in_parts(true, &data, &mut iv).unwrap(), want, "CTS {len} in parts");
        assert_eq!(in_parts(false, &want, &mut iv).unwrap(), data, "CTS {len} decrypted in parts");
    }
    // Less than a block: refused, single-part or at the end of parts.
    let short = random(15);
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CTS, Some(&mut iv)), k, &short), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(s.decrypt(&mut mech(CKM_AES_CTS, Some(&mut iv)), k, &short), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    assert_eq!(in_parts(true, &short, &mut iv), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(in_parts(false, &short, &mut iv), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let mut bad_iv = [0u8; 8];
    assert_eq!(s.encrypt(&mut mech(CKM_AES_CTS, Some(&mut bad_iv)), k, &random(20)), Err(CKR_MECHANISM_PARAM_INVALID));
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
        let mut n: CK_ULONG = 300;
        assert_eq!(
            l.C_Encrypt(s.h, d.as_mut_ptr(), 100, buf.as_mut_ptr(), &mut n),
            CKR_OPERATION_ACTIVE,
            "C_Encrypt cannot end a multi-part operation"
        );
        // A short buffer at Final keeps the operation and tells the exact length.
        n = 0;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert!(n > 0);
        n = buf.len() as CK_ULONG;
        assert_eq!(l.C_EncryptFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        out.extend_from_slice(&buf[..n as usize]);
        assert_eq!(out, single, "multi-part equals single-part");
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
        assert_eq!(l.C_Sign(s.h, dd.as_mut_ptr(), 100, null_mut(), &mut n), CKR_OPERATION_ACTIVE);
        n = 48;
        assert_eq!(l.C_SignFinal(s.h, buf.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&buf[..48], &whole[..]);
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
    // Unknown mechanism, digest mechanism used to encrypt, bad key handle, bad MAC length.
    assert_eq!(s.encrypt(&mut mech::<u8>(0x7fff_fff1, None), aes, &data), Err(CKR_MECHANISM_INVALID));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_SHA256, None), aes, &data), Err(CKR_MECHANISM_INVALID));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), 0x424242, &data), Err(CKR_KEY_HANDLE_INVALID));
    let mut too_long: CK_ULONG = 33;
    assert_eq!(
        s.sign(&mut mech(CKM_SHA256_HMAC_GENERAL, Some(&mut too_long)), generic, &data),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // NULL mechanism pointer.
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
    let mut iv = [0u8; 16];
    let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 2, cb: [0u8; 16] };
    ctr.cb[15] = 1; // three blocks before the 2-bit counter wraps
    let (rsa_pub, rsa_priv) = s
        .keypair(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, 2048), &mut T::default())
        .unwrap();
    let mut data = random(300);
    // SAFETY: raw calls with live locals of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut n: CK_ULONG = 0;
        let d = data.as_mut_ptr();
        let single = [
            (mech(CKM_AES_CBC, Some(&mut iv)), aes, true, 15, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_AES_ECB, None), aes, true, 17, CKR_DATA_LEN_RANGE),
            (mech(CKM_AES_CBC_PAD, Some(&mut iv)), aes, false, 17, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (mech(CKM_AES_CTR, Some(&mut ctr)), aes, true, 49, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_RSA_PKCS, None), rsa_pub, true, 256 - 10, CKR_DATA_LEN_RANGE),
            (mech::<u8>(CKM_RSA_PKCS, None), rsa_priv, false, 255, CKR_ENCRYPTED_DATA_LEN_RANGE),
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
    // SAFETY: live mechanism and template.
    assert_eq!(unsafe { s.lib.C_DeriveKey(s.h, &mut m, k, t.as_mut_ptr(), 3, &mut derived) }, CKR_OK);
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
    let rv = unsafe { s.lib.C_DeriveKey(s.h, &mut m, k, t.as_mut_ptr(), 3, &mut derived) };
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
    assert_eq!(s.get_bytes(out, CKA_VALUE).unwrap(), okm.finalize().into_bytes().to_vec());
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
