//! AES's stream and ciphertext-stealing modes through liboxihsm.so: OFB and CFB1/8/128 and
//! CBC-CS1 (CKM_AES_CTS) against `openssl enc`, XTS against RustCrypto's `xts-mode` (split
//! from tests/symmetric.rs); the output lengths every mode's size queries ask for, XTS's
//! data-unit limit and CCM's lengths.

mod common;
use common::symmetric::*;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

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
            let chunks: Vec<&[u8]> = data.chunks(7).collect();
            let parts = s.crypt_parts(&mut mech(m, Some(&mut iv)), k, true, &chunks);
            let parts = parts.unwrap_or_else(|rv| panic!("{name} {len} in parts: {rv:#x}"));
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
    // Two equal halves (SP 800-38E forbids them).
    assert_eq!(s.secret_key(CKK_AES_XTS, &[7u8; 64]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(s.secret_key(CKK_AES_XTS, &[7u8; 32]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    assert_eq!(s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), aes, &data), Err(CKR_KEY_TYPE_INCONSISTENT));
}

/// CKM_AES_CTS is NIST's CBC-CS1, as OpenSSL's AES-256-CBC-CTS by default: single-part, in
/// parts of 7 bytes both ways, and the lengths it refuses.
fn cts_agrees_with_openssl(s: &RawSession, dir: &std::path::Path, key: &[u8], k: CK_OBJECT_HANDLE) {
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    // Init, then C_*Update in parts of 7 bytes, then C_*Final.
    let in_parts = |encrypt: bool, input: &[u8], iv: &mut [u8; 16]| {
        let chunks: Vec<&[u8]> = input.chunks(7).collect();
        s.crypt_parts(&mut mech(CKM_AES_CTS, Some(iv)), k, encrypt, &chunks)
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

/// Encrypts (or decrypts) `input` in parts cut at `cuts`, each call given the buffer its own
/// size query (NULL output) asked for: that buffer must do, and the answer stays close (at
/// most 32 bytes over what the operation holds once the part is in).
fn in_parts_by_size_queries(
    s: &RawSession,
    m: &mut CK_MECHANISM,
    k: CK_OBJECT_HANDLE,
    encrypt: bool,
    input: &[u8],
    cuts: &[usize],
) -> Vec<u8> {
    let l = &s.lib;
    let name = format!("{:#x} {}", m.mechanism, if encrypt { "encrypt" } else { "decrypt" });
    let mut out = Vec::new();
    // SAFETY: live mechanism, parts and output buffers of the lengths given.
    unsafe {
        let init = if encrypt { l.C_EncryptInit(s.h, m, k) } else { l.C_DecryptInit(s.h, m, k) };
        assert_eq!(init, CKR_OK, "{name}");
        let mut start = 0;
        for end in cuts.iter().copied().chain([input.len()]) {
            let mut part = input[start..end].to_vec();
            start = end;
            let (p, pl) = (part.as_mut_ptr(), part.len() as CK_ULONG);
            let call = |o: *mut u8, n: &mut CK_ULONG| {
                if encrypt { l.C_EncryptUpdate(s.h, p, pl, o, n) } else { l.C_DecryptUpdate(s.h, p, pl, o, n) }
            };
            let mut n: CK_ULONG = 0;
            assert_eq!(call(null_mut(), &mut n), CKR_OK, "{name}: update's size query");
            let bound = n as usize;
            let held = end - out.len();
            assert!(bound <= held + 32, "{name}: {bound} bytes asked for, {held} held");
            let mut buf = vec![0u8; bound];
            assert_eq!(call(buf.as_mut_ptr(), &mut n), CKR_OK, "{name}: an update in the length it asked for");
            out.extend_from_slice(&buf[..n as usize]);
        }
        let fin = |o: *mut u8, n: &mut CK_ULONG| {
            if encrypt { l.C_EncryptFinal(s.h, o, n) } else { l.C_DecryptFinal(s.h, o, n) }
        };
        let mut n: CK_ULONG = 0;
        assert_eq!(fin(null_mut(), &mut n), CKR_OK, "{name}: final's size query");
        let bound = n as usize;
        let held = input.len() - out.len();
        assert!(bound <= held + 32, "{name}: {bound} bytes asked for at the end, {held} held");
        let mut buf = vec![0u8; bound];
        assert_eq!(fin(buf.as_mut_ptr(), &mut n), CKR_OK, "{name}: the final call in the length it asked for");
        out.extend_from_slice(&buf[..n as usize]);
    }
    out
}

/// Single-part: the call given the buffer its size query asked for (at most 16 bytes over
/// the result), then again with a buffer 64 bytes longer, which must give the same.
fn single_by_size_query(
    s: &RawSession,
    m: &mut CK_MECHANISM,
    k: CK_OBJECT_HANDLE,
    encrypt: bool,
    input: &[u8],
) -> Vec<u8> {
    let l = &s.lib;
    let name = format!("{:#x} {}", m.mechanism, if encrypt { "encrypt" } else { "decrypt" });
    let mut input = input.to_vec();
    let (p, pl) = (input.as_mut_ptr(), input.len() as CK_ULONG);
    let mut results = Vec::new();
    // SAFETY: live mechanism, input and output buffers of the lengths given.
    unsafe {
        let mut init = || if encrypt { l.C_EncryptInit(s.h, m, k) } else { l.C_DecryptInit(s.h, m, k) };
        let call = |o: *mut u8, n: &mut CK_ULONG| {
            if encrypt { l.C_Encrypt(s.h, p, pl, o, n) } else { l.C_Decrypt(s.h, p, pl, o, n) }
        };
        assert_eq!(init(), CKR_OK, "{name}");
        let mut n: CK_ULONG = 0;
        assert_eq!(call(null_mut(), &mut n), CKR_OK, "{name}: size query");
        let bound = n as usize;
        for extra in [0, 64] {
            if extra > 0 {
                assert_eq!(init(), CKR_OK, "{name}");
            }
            let mut buf = vec![0u8; bound + extra];
            n = buf.len() as CK_ULONG;
            assert_eq!(call(buf.as_mut_ptr(), &mut n), CKR_OK, "{name} into {} bytes", buf.len());
            assert!(n as usize <= bound && bound <= n as usize + 16, "{name}: {bound} bytes asked for, {n} given");
            buf.truncate(n as usize);
            results.push(buf);
        }
    }
    assert_eq!(results[0], results[1], "{name}: a longer buffer gets the same");
    results.swap_remove(0)
}

/// Every AES mode (and CBC_PAD over Triple DES, ChaCha20-Poly1305): the output lengths that
/// C_Encrypt*, C_Decrypt* and their parts ask for are enough and close, a buffer longer than
/// needed gets the same result (AEAD decryption into one included), and parts give what one
/// call gives.
#[test]
fn every_mode_fits_the_lengths_it_asks_for() {
    let e = env();
    let s = &e.s;
    let aes = s.secret_key(CKK_AES, &random(32)).unwrap();
    let xts = s.secret_key(CKK_AES_XTS, &random(64)).unwrap();
    let des3 = s.secret_key(CKK_DES3, &random(24)).unwrap();
    let chacha = s.secret_key(CKK_CHACHA20, &random(32)).unwrap();
    let mut iv: [u8; 16] = random(16).try_into().unwrap();
    let mut iv8: [u8; 8] = random(8).try_into().unwrap();
    let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 128, cb: iv };
    let mut aad = b"header".to_vec();
    let mut giv = random(12);
    let mut gcm = gcm_params(&mut giv, Some(&mut aad), 128);
    let mut gcm96 = gcm_params(&mut giv, None, 96);
    let mut nonce = random(13);
    let mut ccm = CK_CCM_PARAMS {
        ulDataLen: 45,
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: 13,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: aad.len() as CK_ULONG,
        ulMACLen: 10,
    };
    let mut cn = random(12);
    let mut cp = chacha_params(&mut cn, &mut aad);
    let cases = [
        (mech::<u8>(CKM_AES_ECB, None), aes, 48),
        (mech(CKM_AES_CBC, Some(&mut iv)), aes, 48),
        (mech(CKM_AES_CBC_PAD, Some(&mut iv)), aes, 45),
        (mech(CKM_AES_CBC_PAD, Some(&mut iv)), aes, 48),
        (mech(CKM_DES3_CBC_PAD, Some(&mut iv8)), des3, 45),
        (mech(CKM_AES_CTR, Some(&mut ctr)), aes, 45),
        (mech(CKM_AES_OFB, Some(&mut iv)), aes, 45),
        (mech(CKM_AES_CFB8, Some(&mut iv)), aes, 45),
        (mech(CKM_AES_CTS, Some(&mut iv)), aes, 45),
        (mech(CKM_AES_CTS, Some(&mut iv)), aes, 64),
        (mech(CKM_AES_XTS, Some(&mut iv)), xts, 45),
        (mech(CKM_AES_GCM, Some(&mut gcm)), aes, 45),
        (mech(CKM_AES_GCM, Some(&mut gcm96)), aes, 45),
        (mech(CKM_AES_CCM, Some(&mut ccm)), aes, 45),
        (mech(CKM_CHACHA20_POLY1305, Some(&mut cp)), chacha, 45),
    ];
    for (mut m, k, len) in cases {
        let data = random(len);
        let ct = single_by_size_query(s, &mut m, k, true, &data);
        assert_eq!(single_by_size_query(s, &mut m, k, false, &ct), data, "{:#x}", m.mechanism);
        assert_eq!(in_parts_by_size_queries(s, &mut m, k, true, &data, &[7, 27]), ct, "{:#x}", m.mechanism);
        assert_eq!(in_parts_by_size_queries(s, &mut m, k, false, &ct, &[7, 27]), data, "{:#x}", m.mechanism);
    }
}

/// SP 800-38E's limit on an XTS data unit, 2^20 blocks: up to it in one call or in parts,
/// and not a byte more (CKR_DATA_LEN_RANGE, which ends the operation).
#[test]
fn xts_takes_a_data_unit_of_at_most_a_million_blocks() {
    let e = env();
    let s = &e.s;
    let k = s.secret_key(CKK_AES_XTS, &random(32)).unwrap();
    let mut tweak: [u8; 16] = random(16).try_into().unwrap();
    let max = 16 << 20;
    let mut data = random(max + 1);
    let ct = s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &data[..max]).unwrap();
    assert_eq!(ct.len(), max);
    assert_eq!(s.decrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &ct).unwrap(), data[..max]);
    assert_eq!(s.encrypt(&mut mech(CKM_AES_XTS, Some(&mut tweak)), k, &data), Err(CKR_DATA_LEN_RANGE));
    let mut m = mech(CKM_AES_XTS, Some(&mut tweak));
    // SAFETY: live mechanism, input and output buffers of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut n: CK_ULONG = 0;
        assert_eq!(l.C_EncryptInit(s.h, &mut m, k), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, data.as_mut_ptr(), 16, null_mut(), &mut n), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, data.as_mut_ptr(), 16, data.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 0);
        let rest = data[16..max].as_mut_ptr();
        assert_eq!(l.C_EncryptUpdate(s.h, rest, (max - 16) as _, null_mut(), &mut n), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, rest, (max - 16) as _, rest, &mut n), CKR_OK);
        assert_eq!(l.C_EncryptUpdate(s.h, rest, 1, rest, &mut n), CKR_DATA_LEN_RANGE);
        assert_eq!(l.C_EncryptFinal(s.h, null_mut(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
    }
}

/// CKM_AES_CCM's parameters and lengths: nonces of 7 to 13 bytes, MACs of 4 to 16 even
/// bytes, plaintext of exactly ulDataLen, ciphertext of exactly ulDataLen and the MAC.
#[test]
fn ccm_lengths() {
    let e = env();
    let s = &e.s;
    let k = s.secret_key(CKK_AES, &random(16)).unwrap();
    let mut nonce = random(14);
    let params = |nonce: &mut [u8], mac: CK_ULONG| CK_CCM_PARAMS {
        ulDataLen: 20,
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: null_mut(),
        ulAADLen: 0,
        ulMACLen: mac,
    };
    let data = random(20);
    for (nonce_len, mac) in [(6, 16), (14, 16), (13, 3), (13, 5), (13, 18), (0, 16)] {
        let mut p = params(&mut nonce[..nonce_len], mac);
        let got = s.encrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, &data);
        assert_eq!(got, Err(CKR_MECHANISM_PARAM_INVALID), "nonce of {nonce_len} bytes, MAC of {mac}");
    }
    for (nonce_len, mac) in [(7, 4), (13, 16), (10, 6)] {
        let mut p = params(&mut nonce[..nonce_len], mac);
        let ct = s.encrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, &data).unwrap();
        assert_eq!(ct.len(), 20 + mac as usize);
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, &ct).unwrap(), data);
        assert_eq!(s.encrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, &data[..19]), Err(CKR_DATA_LEN_RANGE));
        let short = &ct[..ct.len() - 1];
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, short), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
        let tiny = &ct[..mac as usize - 1];
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, tiny), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(s.decrypt(&mut mech(CKM_AES_CCM, Some(&mut p)), k, &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    }
}
