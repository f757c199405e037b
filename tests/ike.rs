//! The IKE derivations through liboxihsm.so (the specification's "IKE Mechanisms"), each value
//! checked against the RFCs' constructions computed here with RustCrypto's hmac, sha1/sha2 and
//! cmac: RFC 7296's SKEYSEED (new and rekeyed) and prf+, RFC 2409's SKEYID, SKEYID_d/_a/_e
//! and appendix B's longer keys; AES-XCBC-PRF-128 against RFC 4434's vectors and
//! AES-CMAC-PRF-128 against RFC 4615's (keys of 10, 16 and 18 bytes); and the sections'
//! template, key type and error rules.

mod common;
use common::*;
use cryptoki_sys::*;

fn hmac<M: hmac::Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::<hmac::Hmac<sha2::Sha256>>(key, parts)
}

fn sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::<hmac::Hmac<sha1::Sha1>>(key, parts)
}

fn filled(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// A template for a readable (non-sensitive, extractable) secret key.
fn readable() -> T {
    T::default().ulong(CKA_CLASS, CKO_SECRET_KEY).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)
}

/// A readable secret key of type `kt` and value `v`.
fn key(s: &RawSession, kt: CK_KEY_TYPE, v: &[u8]) -> CK_OBJECT_HANDLE {
    s.create(&mut readable().ulong(CKA_KEY_TYPE, kt).bytes(CKA_VALUE, v).flag(CKA_DERIVE, true)).unwrap()
}

fn ulong(s: &RawSession, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    CK_ULONG::from_ne_bytes(s.get_bytes(o, ty).unwrap().try_into().unwrap())
}

fn prf_params(
    prf: CK_MECHANISM_TYPE,
    data_as_key: bool,
    rekey: bool,
    ni: &mut [u8],
    nr: &mut [u8],
    new_key: CK_OBJECT_HANDLE,
) -> CK_IKE_PRF_DERIVE_PARAMS {
    CK_IKE_PRF_DERIVE_PARAMS {
        prfMechanism: prf,
        bDataAsKey: data_as_key as CK_BBOOL,
        bRekey: rekey as CK_BBOOL,
        pNi: ni.as_mut_ptr(),
        ulNiLen: ni.len() as CK_ULONG,
        pNr: nr.as_mut_ptr(),
        ulNrLen: nr.len() as CK_ULONG,
        hNewKey: new_key,
    }
}

/// CKM_IKE_PRF_DERIVE: SKEYSEED = prf(Ni | Nr, g^ir), SKEYID = prf(pre-shared key, Ni | Nr),
/// and the rekeyed SKEYSEED = prf(SK_d, g^ir (new) | Ni | Nr), with HMAC-SHA-256 and
/// HMAC-SHA-1; AES-XCBC-PRF-128 and AES-CMAC-PRF-128 with Ni | Nr as keys of 10, 16 and 18
/// bytes (RFC 4434's and RFC 4615's vectors); the output's length and key type, and the
/// error codes.
#[test]
fn ike_prf_derive() {
    let (_h, _p, _slot, s) = raw_user_env("ike-prf");
    let gir = filled(32, 1);
    let (mut ni, mut nr) = (filled(16, 2), filled(24, 3));
    let g = key(&s, CKK_GENERIC_SECRET, &gir);
    let derive =
        |p: &mut CK_IKE_PRF_DERIVE_PARAMS, base, t: &mut T| s.derive(&mut mech(CKM_IKE_PRF_DERIVE, Some(p)), base, t);
    // SKEYSEED: Ni | Nr keys the PRF over g^ir; the key is the PRF's type and length.
    for (prf, kt, want) in [
        (CKM_SHA256_HMAC, CKK_SHA256_HMAC, sha256(&[ni.clone(), nr.clone()].concat(), &[&gir])),
        (CKM_SHA_1_HMAC, CKK_SHA_1_HMAC, sha1(&[ni.clone(), nr.clone()].concat(), &[&gir])),
    ] {
        let k = derive(&mut prf_params(prf, true, false, &mut ni, &mut nr, 0), g, &mut readable()).unwrap();
        assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), want, "SKEYSEED, prf 0x{prf:x}");
        assert_eq!(ulong(&s, k, CKA_KEY_TYPE), kt);
        assert_eq!(ulong(&s, k, CKA_VALUE_LEN), want.len() as CK_ULONG);
    }
    // SKEYID of a pre-shared key: the base key keys the PRF over Ni | Nr; the template's key
    // type and an equal CKA_VALUE_LEN are kept.
    let psk = key(&s, CKK_GENERIC_SECRET, b"a pre-shared key");
    let k = derive(
        &mut prf_params(CKM_SHA256_HMAC, false, false, &mut ni, &mut nr, 0),
        psk,
        &mut readable().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 32),
    )
    .unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha256(b"a pre-shared key", &[&ni, &nr]));
    assert_eq!(ulong(&s, k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    // A rekey: SK_d keys the PRF over the new g^ir, Ni and Nr.
    let sk_d = key(&s, CKK_SHA256_HMAC, &filled(32, 4));
    let new_gir = filled(48, 5);
    let n = key(&s, CKK_GENERIC_SECRET, &new_gir);
    let k = derive(&mut prf_params(CKM_SHA256_HMAC, false, true, &mut ni, &mut nr, n), sk_d, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), sha256(&filled(32, 4), &[&new_gir, &ni, &nr]));

    // The fixed-key PRFs take Ni | Nr of any length (RFC 4434, RFC 4615): their vectors,
    // the message 00 01 ... 13 as the base key, the key split between Ni and Nr.
    let msg = key(&s, CKK_GENERIC_SECRET, &(0u8..20).collect::<Vec<u8>>());
    let k18: Vec<u8> = (0u8..16).chain([0xed, 0xcb]).collect();
    for (prf, vectors) in [
        (
            CKM_AES_XCBC_MAC,
            [
                (&k18[..16], "47f51b4564966215b8985c63055ed308"),
                (&k18[..10], "0fa087af7d866e7653434e602fdde835"),
                (&k18[..], "8cd3c93ae598a9803006ffb67c40e9e4"),
            ],
        ),
        (
            CKM_AES_CMAC,
            [
                (&k18[..16], "980ae87b5f4c9c5214f5b6a8455e4c2d"),
                (&k18[..10], "290d9e112edb09ee141fcf64c0b72f3d"),
                (&k18[..], "84a348a4a45d235babfffc0d2b4da09a"),
            ],
        ),
    ] {
        for (k, want) in vectors {
            let (mut a, mut b) = (k[..k.len() / 2].to_vec(), k[k.len() / 2..].to_vec());
            let d = derive(&mut prf_params(prf, true, false, &mut a, &mut b, 0), msg, &mut readable()).unwrap();
            assert_eq!(hex(&s.get_bytes(d, CKA_VALUE).unwrap()), want, "prf 0x{prf:x}, a key of {} bytes", k.len());
            assert_eq!(ulong(&s, d, CKA_KEY_TYPE), CKK_AES);
        }
    }
    // RFC 4615's rule checked with RustCrypto's cmac too: a key of another length than 16 is
    // first its CMAC under a zero key.
    {
        use cmac::Mac;
        let cmac = |k: &[u8], m: &[u8]| {
            let mut c = <cmac::Cmac<aes::Aes128> as Mac>::new_from_slice(k).unwrap();
            c.update(m);
            c.finalize().into_bytes().to_vec()
        };
        let k = cmac(&[0; 16], &k18);
        assert_eq!(hex(&cmac(&k, &(0u8..20).collect::<Vec<u8>>())), "84a348a4a45d235babfffc0d2b4da09a");
    }

    // Errors: both flags (the section's CKR_ARGUMENTS_BAD), a CKA_VALUE_LEN other than the
    // PRF's, base keys of the wrong type, a new key that is not a generic secret, PRFs that
    // are not MACs of the list.
    let p = &mut prf_params(CKM_SHA256_HMAC, true, true, &mut ni, &mut nr, n);
    assert_eq!(derive(p, g, &mut readable()), Err(CKR_ARGUMENTS_BAD));
    let p = &mut prf_params(CKM_SHA256_HMAC, true, false, &mut ni, &mut nr, 0);
    assert_eq!(derive(p, g, &mut readable().ulong(CKA_VALUE_LEN, 16)), Err(CKR_KEY_SIZE_RANGE));
    let aes = key(&s, CKK_AES, &filled(16, 6));
    assert_eq!(derive(p, aes, &mut readable()), Err(CKR_KEY_TYPE_INCONSISTENT));
    let p = &mut prf_params(CKM_SHA256_HMAC, false, false, &mut ni, &mut nr, 0);
    assert_eq!(derive(p, aes, &mut readable()), Err(CKR_KEY_TYPE_INCONSISTENT));
    let p = &mut prf_params(CKM_SHA256_HMAC, false, true, &mut ni, &mut nr, aes);
    assert_eq!(derive(p, sk_d, &mut readable()), Err(CKR_KEY_TYPE_INCONSISTENT));
    let p = &mut prf_params(CKM_SHA256_HMAC, false, true, &mut ni, &mut nr, 0x7777);
    assert_eq!(derive(p, sk_d, &mut readable()), Err(CKR_KEY_HANDLE_INVALID));
    for prf in [CKM_SHA256, CKM_SHA256_HMAC_GENERAL, CKM_AES_ECB, CKM_AES_XCBC_MAC_96, 0x8000_0001] {
        let p = &mut prf_params(prf, true, false, &mut ni, &mut nr, 0);
        assert_eq!(derive(p, g, &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID), "prf 0x{prf:x}");
    }
    let mut short = [0u8; 16];
    assert_eq!(
        s.derive(&mut mech(CKM_IKE_PRF_DERIVE, Some(&mut short)), g, &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

fn ike1_params(
    prf: CK_MECHANISM_TYPE,
    gxy: CK_OBJECT_HANDLE,
    prev: Option<CK_OBJECT_HANDLE>,
    cky: &mut [u8],
    number: u8,
) -> CK_IKE1_PRF_DERIVE_PARAMS {
    let (i, r) = cky.split_at_mut(8);
    CK_IKE1_PRF_DERIVE_PARAMS {
        prfMechanism: prf,
        bHasPrevKey: prev.is_some() as CK_BBOOL,
        hKeygxy: gxy,
        hPrevKey: prev.unwrap_or(0),
        pCKYi: i.as_mut_ptr(),
        ulCKYiLen: 8,
        pCKYr: r.as_mut_ptr(),
        ulCKYrLen: 8,
        keyNumber: number,
    }
}

/// CKM_IKE1_PRF_DERIVE: SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), SKEYID_a =
/// prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1), SKEYID_e likewise from SKEYID_a with 2
/// (RFC 2409 §5); CKA_KEY_TYPE required, CKA_VALUE_LEN truncating, and the new key always
/// sensitive only when every key it came from was.
#[test]
fn ike1_prf_derive() {
    let (_h, _p, _slot, s) = raw_user_env("ike1-prf");
    let (skeyid, gxy_v) = (filled(32, 7), filled(64, 8));
    let base = key(&s, CKK_GENERIC_SECRET, &skeyid);
    let gxy = key(&s, CKK_GENERIC_SECRET, &gxy_v);
    let mut cky = filled(16, 9);
    let derive =
        |p: &mut CK_IKE1_PRF_DERIVE_PARAMS, base, t: &mut T| s.derive(&mut mech(CKM_IKE1_PRF_DERIVE, Some(p)), base, t);
    let generic = || readable().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    let d = derive(&mut ike1_params(CKM_SHA256_HMAC, gxy, None, &mut cky, 0), base, &mut generic()).unwrap();
    let d_v = s.get_bytes(d, CKA_VALUE).unwrap();
    assert_eq!(d_v, sha256(&skeyid, &[&gxy_v, &cky, &[0]]));
    let a = derive(&mut ike1_params(CKM_SHA256_HMAC, gxy, Some(d), &mut cky, 1), base, &mut generic()).unwrap();
    let a_v = s.get_bytes(a, CKA_VALUE).unwrap();
    assert_eq!(a_v, sha256(&skeyid, &[&d_v, &gxy_v, &cky, &[1]]));
    // SKEYID_e as a 16-byte AES key: the PRF's output truncated.
    let t = &mut readable().ulong(CKA_KEY_TYPE, CKK_AES).ulong(CKA_VALUE_LEN, 16);
    let e = derive(&mut ike1_params(CKM_SHA256_HMAC, gxy, Some(a), &mut cky, 2), base, t).unwrap();
    assert_eq!(s.get_bytes(e, CKA_VALUE).unwrap(), sha256(&skeyid, &[&a_v, &gxy_v, &cky, &[2]])[..16]);
    // Without a length, the key type's one length (Triple DES: 24 bytes of SHA-256's 32).
    let t = &mut readable().ulong(CKA_KEY_TYPE, CKK_DES3);
    let e = derive(&mut ike1_params(CKM_SHA256_HMAC, gxy, Some(a), &mut cky, 2), base, t).unwrap();
    assert_eq!(s.get_bytes(e, CKA_VALUE).unwrap().len(), 24);

    let p = &mut ike1_params(CKM_SHA256_HMAC, gxy, None, &mut cky, 0);
    assert_eq!(derive(p, base, &mut readable()), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(derive(p, base, &mut generic().ulong(CKA_VALUE_LEN, 33)), Err(CKR_KEY_SIZE_RANGE));
    // SHA-1's 20 bytes are too few for Triple DES.
    let p = &mut ike1_params(CKM_SHA_1_HMAC, gxy, None, &mut cky, 0);
    assert_eq!(derive(p, base, &mut readable().ulong(CKA_KEY_TYPE, CKK_DES3)), Err(CKR_KEY_SIZE_RANGE));
    let aes = key(&s, CKK_AES, &filled(32, 10));
    let p = &mut ike1_params(CKM_SHA256_HMAC, aes, None, &mut cky, 0);
    assert_eq!(derive(p, base, &mut generic()), Err(CKR_KEY_TYPE_INCONSISTENT));

    // Protection: from a generated (always sensitive) SKEYID, a g^xy that was imported
    // gives a key that was not always sensitive; a generated g^xy, one that was.
    let generated = || {
        let t = &mut T::default().ulong(CKA_VALUE_LEN, 32).flag(CKA_SENSITIVE, true).flag(CKA_DERIVE, true);
        s.generate(CKM_GENERIC_SECRET_KEY_GEN, t).unwrap()
    };
    let (base, secret_gxy) = (generated(), generated());
    assert_eq!(s.get_bytes(base, CKA_ALWAYS_SENSITIVE).unwrap(), [1]);
    let t = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, true);
    let k = derive(&mut ike1_params(CKM_SHA256_HMAC, gxy, None, &mut cky, 0), base, &mut t()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_ALWAYS_SENSITIVE).unwrap(), [0]);
    let k = derive(&mut ike1_params(CKM_SHA256_HMAC, secret_gxy, None, &mut cky, 0), base, &mut t()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_ALWAYS_SENSITIVE).unwrap(), [1]);
}

/// RFC 7296 §2.13's prf+ of `key` over `seed`, `n` bytes.
fn prf_plus(key: &[u8], seed: &[u8], n: usize) -> Vec<u8> {
    let (mut out, mut t) = (Vec::new(), Vec::new());
    for i in 1..=255u8 {
        if out.len() >= n {
            break;
        }
        t = sha256(key, &[&t, seed, &[i]]);
        out.extend_from_slice(&t);
    }
    out.truncate(n);
    out
}

/// CKM_IKE2_PRF_PLUS_DERIVE: prf+ over the seed key's value and the seed data, CKA_VALUE_LEN
/// bytes (required; at most 255 outputs), a generic secret unless the template says.
#[test]
fn ike2_prf_plus_derive() {
    let (_h, _p, _slot, s) = raw_user_env("ike2-prf-plus");
    let skeyseed = filled(32, 11);
    let base = key(&s, CKK_SHA256_HMAC, &skeyseed);
    let mut seed = filled(40, 12);
    let seed_key_v = filled(20, 13);
    let seed_key = key(&s, CKK_GENERIC_SECRET, &seed_key_v);
    let params = |has: bool, seed: &mut [u8]| CK_IKE2_PRF_PLUS_DERIVE_PARAMS {
        prfMechanism: CKM_SHA256_HMAC,
        bHasSeedKey: has as CK_BBOOL,
        hSeedKey: if has { seed_key } else { 0 },
        pSeedData: seed.as_mut_ptr(),
        ulSeedDataLen: seed.len() as CK_ULONG,
    };
    let derive = |p: &mut CK_IKE2_PRF_PLUS_DERIVE_PARAMS, t: &mut T| {
        s.derive(&mut mech(CKM_IKE2_PRF_PLUS_DERIVE, Some(p)), base, t)
    };
    let k = derive(&mut params(false, &mut seed), &mut readable().ulong(CKA_VALUE_LEN, 100)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), prf_plus(&skeyseed, &seed, 100));
    assert_eq!(ulong(&s, k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    let k = derive(&mut params(true, &mut seed), &mut readable().ulong(CKA_VALUE_LEN, 64)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), prf_plus(&skeyseed, &[&seed_key_v[..], &seed].concat(), 64));
    // The most: 255 outputs.
    let k = derive(&mut params(false, &mut seed), &mut readable().ulong(CKA_VALUE_LEN, 255 * 32)).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), prf_plus(&skeyseed, &seed, 255 * 32));
    assert_eq!(
        derive(&mut params(false, &mut seed), &mut readable().ulong(CKA_VALUE_LEN, 255 * 32 + 1)),
        Err(CKR_KEY_SIZE_RANGE)
    );
    assert_eq!(derive(&mut params(false, &mut seed), &mut readable()), Err(CKR_TEMPLATE_INCOMPLETE));
    // The base key must key the PRF.
    let aes = key(&s, CKK_AES, &filled(32, 14));
    let mut p = params(false, &mut seed);
    let t = &mut readable().ulong(CKA_VALUE_LEN, 32);
    assert_eq!(s.derive(&mut mech(CKM_IKE2_PRF_PLUS_DERIVE, Some(&mut p)), aes, t), Err(CKR_KEY_TYPE_INCONSISTENT));
}

/// CKM_IKE1_EXTENDED_DERIVE (RFC 2409 appendix B): K1 = prf(K, g^xy | extra) or prf(K, 0)
/// without either, Ki = prf(K, K(i-1) | g^xy | extra); a key no longer than the PRF's output
/// and without g^xy is the base key's first bytes.
#[test]
fn ike1_extended_derive() {
    let (_h, _p, _slot, s) = raw_user_env("ike1-extended");
    let skeyid_e = filled(32, 15);
    let base = key(&s, CKK_GENERIC_SECRET, &skeyid_e);
    let gxy_v = filled(32, 16);
    let gxy = key(&s, CKK_GENERIC_SECRET, &gxy_v);
    let mut extra = filled(12, 17);
    let params = |g: Option<CK_OBJECT_HANDLE>, extra: &mut [u8]| CK_IKE1_EXTENDED_DERIVE_PARAMS {
        prfMechanism: CKM_SHA256_HMAC,
        bHasKeygxy: g.is_some() as CK_BBOOL,
        hKeygxy: g.unwrap_or(0),
        pExtraData: if extra.is_empty() { std::ptr::null_mut() } else { extra.as_mut_ptr() },
        ulExtraDataLen: extra.len() as CK_ULONG,
    };
    let derive = |p: &mut CK_IKE1_EXTENDED_DERIVE_PARAMS, n: CK_ULONG| {
        let k =
            s.derive(&mut mech(CKM_IKE1_EXTENDED_DERIVE, Some(p)), base, &mut readable().ulong(CKA_VALUE_LEN, n))?;
        s.get_bytes(k, CKA_VALUE)
    };
    // Appendix B: 48 bytes of K1 = prf(K, 0), K2 = prf(K, K1).
    let k1 = sha256(&skeyid_e, &[&[0]]);
    let want = [k1.clone(), sha256(&skeyid_e, &[&k1])].concat();
    assert_eq!(derive(&mut params(None, &mut []), 48).unwrap(), want[..48]);
    // With g^xy and extra data (quick mode's KEYMAT).
    let suffix = [&gxy_v[..], &extra].concat();
    let k1 = sha256(&skeyid_e, &[&suffix]);
    let k2 = sha256(&skeyid_e, &[&k1, &suffix]);
    let k3 = sha256(&skeyid_e, &[&k2, &suffix]);
    assert_eq!(derive(&mut params(Some(gxy), &mut extra), 80).unwrap(), [k1.clone(), k2, k3].concat()[..80]);
    // As long as the PRF's output with g^xy: its first output.
    assert_eq!(derive(&mut params(Some(gxy), &mut extra), 20).unwrap(), k1[..20]);
    // No longer than the PRF's output, no g^xy: the base key itself.
    assert_eq!(derive(&mut params(None, &mut extra), 24).unwrap(), skeyid_e[..24]);
    assert_eq!(derive(&mut params(None, &mut []), 255 * 32 + 1), Err(CKR_KEY_SIZE_RANGE));
    let mut p = params(None, &mut []);
    assert_eq!(
        s.derive(&mut mech(CKM_IKE1_EXTENDED_DERIVE, Some(&mut p)), base, &mut readable()),
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
}
