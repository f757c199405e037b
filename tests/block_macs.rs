//! The block-cipher MACs beside CMAC, through liboxihsm.so: the CBC-MACs of FIPS PUB 113
//! (CKM_AES_MAC, CKM_DES3_MAC, CKM_DES_MAC and their _GENERAL variants) against a CBC-MAC
//! computed here with RustCrypto's block ciphers, AES-GMAC against RustCrypto's aes-gcm and
//! Poly1305 against RustCrypto's poly1305 and RFC 8439: single- and multi-part, the output
//! lengths, verification and its errors.

mod common;
use aes::cipher::{BlockEncrypt, KeyInit};
use common::*;
use cryptoki_sys::*;

/// The last block of a zero-IV CBC encryption of `data` zero-padded to whole blocks (one
/// block of zeros for empty data).
fn cbc_mac<C: BlockEncrypt + KeyInit>(key: &[u8], data: &[u8], block: usize) -> Vec<u8> {
    let c = C::new_from_slice(key).unwrap();
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(block).max(1) * block, 0);
    let mut state = vec![0u8; block];
    for chunk in padded.chunks(block) {
        state.iter_mut().zip(chunk).for_each(|(s, d)| *s ^= d);
        c.encrypt_block(state.as_mut_slice().into());
    }
    state
}

/// C_SignInit, C_SignUpdate with parts of `chunk` bytes, C_SignFinal.
fn sign_in_parts(s: &RawSession, m: &mut CK_MECHANISM, k: CK_OBJECT_HANDLE, msg: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = [0u8; 16];
    let mut n = 16 as CK_ULONG;
    // SAFETY: live mechanism, data and output buffer of the lengths given.
    unsafe {
        assert_eq!(s.lib.C_SignInit(s.h, m, k), CKR_OK);
        for part in msg.chunks(chunk) {
            assert_eq!(s.lib.C_SignUpdate(s.h, part.as_ptr().cast_mut(), part.len() as CK_ULONG), CKR_OK);
        }
        assert_eq!(s.lib.C_SignFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
    }
    out[..n as usize].to_vec()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(3)).collect()
}

#[test]
fn cbc_macs_agree_with_rustcrypto() {
    let (_h, _p, _slot, s) = raw_user_env("cbc-mac");
    let aes_key = data(32);
    let des3_key: Vec<u8> = data(24).iter().map(|b| b ^ 0x5a).collect();
    let des_key: Vec<u8> = data(8).iter().map(|b| b ^ 0xa5).collect();
    let keys = [
        (CKK_AES, &aes_key, CKM_AES_MAC, CKM_AES_MAC_GENERAL, 16usize),
        (CKK_DES3, &des3_key, CKM_DES3_MAC, CKM_DES3_MAC_GENERAL, 8),
        (CKK_DES, &des_key, CKM_DES_MAC, CKM_DES_MAC_GENERAL, 8),
    ];
    for (kt, key, plain, general, block) in keys {
        let k = s.secret_key(kt, key).unwrap();
        for len in [0usize, 1, 7, 8, 15, 16, 17, 33, 100] {
            let msg = data(len);
            let want = match kt {
                CKK_AES => cbc_mac::<aes::Aes256>(key, &msg, 16),
                CKK_DES3 => cbc_mac::<des::TdesEde3>(key, &msg, 8),
                _ => cbc_mac::<des::Des>(key, &msg, 8),
            };
            // The plain mechanism gives half a block; the general one what it is asked.
            let mac = s.sign(&mut mech::<u8>(plain, None), k, &msg).unwrap();
            assert_eq!(mac, want[..block / 2], "{plain:#x} {len}");
            for n in [1, block / 2 + 1, block] {
                let mut n_param = n as CK_ULONG;
                let mac = s.sign(&mut mech(general, Some(&mut n_param)), k, &msg).unwrap();
                assert_eq!(mac, want[..n], "{general:#x} {len} {n}");
                assert_eq!(s.verify(&mut mech(general, Some(&mut n_param)), k, &msg, &mac), Ok(()));
            }
            // In parts of 5 bytes: the same MAC.
            let parts = sign_in_parts(&s, &mut mech::<u8>(plain, None), k, &msg, 5);
            assert_eq!(parts, want[..block / 2], "{plain:#x} {len} in parts");
        }
        // Verification: a changed MAC, and a MAC of the wrong length.
        let msg = data(40);
        let mut mac = s.sign(&mut mech::<u8>(plain, None), k, &msg).unwrap();
        assert_eq!(s.verify(&mut mech::<u8>(plain, None), k, &msg, &mac), Ok(()));
        mac[0] ^= 1;
        assert_eq!(s.verify(&mut mech::<u8>(plain, None), k, &msg, &mac), Err(CKR_SIGNATURE_INVALID));
        assert_eq!(s.verify(&mut mech::<u8>(plain, None), k, &msg, &mac[1..]), Err(CKR_SIGNATURE_LEN_RANGE));
        // A general length of 0 or more than a block is not a parameter.
        for bad in [0, block + 1] {
            let mut n_param = bad as CK_ULONG;
            assert_eq!(s.sign(&mut mech(general, Some(&mut n_param)), k, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
        }
    }
    // The key type must be the mechanism's.
    let aes = s.secret_key(CKK_AES, &aes_key).unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_DES3_MAC, None), aes, b"x"), Err(CKR_KEY_TYPE_INCONSISTENT));
}

/// CKM_AES_GMAC: the GCM tag of an empty plaintext with the data as AAD; 3.x's CK_GCM_PARAMS
/// (any IV length, the tag length from ulTagBits) and 2.40's bare 12-byte IV.
#[test]
fn aes_gmac_agrees_with_rustcrypto() {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let (_h, _p, slot, s) = raw_user_env("gmac");
    let key = data(32);
    let k = s.secret_key(CKK_AES, &key).unwrap();
    let mut iv = data(12);
    for len in [0usize, 1, 16, 100, 1000] {
        let msg = data(len);
        let want = aes_gcm::Aes256Gcm::new((&key[..]).into())
            .encrypt((&iv[..]).into(), Payload { msg: &[], aad: &msg })
            .unwrap();
        assert_eq!(want.len(), 16);
        let mut gp = gcm_params(&mut iv, None, 128);
        assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg).unwrap(), want, "GMAC {len}");
        let mut bare: [u8; 12] = iv.clone().try_into().unwrap();
        assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut bare)), k, &msg).unwrap(), want, "2.40 GMAC {len}");
        let mut gp = gcm_params(&mut iv, None, 96);
        assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg).unwrap(), want[..12], "GMAC-96 {len}");
        assert_eq!(s.verify(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg, &want[..12]), Ok(()));
        // In parts of 7 bytes: the same tag.
        let mut gp = gcm_params(&mut iv, None, 128);
        let parts = sign_in_parts(&s, &mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg, 7);
        assert_eq!(parts, want, "GMAC {len} in parts");
    }
    let msg = data(50);
    let mut gp = gcm_params(&mut iv, None, 128);
    let mut tag = s.sign(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg).unwrap();
    tag[5] ^= 1;
    assert_eq!(s.verify(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg, &tag), Err(CKR_SIGNATURE_INVALID));
    // The parameters' AAD has no place (the data is the AAD); tag lengths as GCM's.
    let mut aad = b"aad".to_vec();
    let mut with_aad = gcm_params(&mut iv, Some(&mut aad), 128);
    assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut with_aad)), k, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut short_tag = gcm_params(&mut iv, None, 24);
    assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut short_tag)), k, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_GMAC, None), k, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
    // IVs of 1 to 256 bytes (GHASHed into the counter block when not 12), none empty.
    use aes_gcm::aead::consts::{U1, U256};
    let mut long_iv = data(257);
    let want1 = aes_gcm::AesGcm::<aes::Aes256, U1>::new((&key[..]).into())
        .encrypt((&long_iv[..1]).into(), Payload { msg: &[], aad: &msg })
        .unwrap();
    let want256 = aes_gcm::AesGcm::<aes::Aes256, U256>::new((&key[..]).into())
        .encrypt((&long_iv[..256]).into(), Payload { msg: &[], aad: &msg })
        .unwrap();
    for (n, want) in [
        (1, Ok(want1)),
        (256, Ok(want256)),
        (0, Err(CKR_MECHANISM_PARAM_INVALID)),
        (257, Err(CKR_MECHANISM_PARAM_INVALID)),
    ] {
        let mut gp = gcm_params(&mut long_iv[..n], None, 128);
        assert_eq!(s.sign(&mut mech(CKM_AES_GMAC, Some(&mut gp)), k, &msg), want, "an IV of {n} bytes");
    }
    // Not message-based: every message would take the init's IV again.
    let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
    let slot_id = slot.id();
    let mut gp = gcm_params(&mut iv, None, 128);
    // SAFETY: a live CK_MECHANISM_INFO and mechanism.
    unsafe {
        assert_eq!(s.lib.C_GetMechanismInfo(slot_id, CKM_AES_GMAC, &mut info), CKR_OK);
        assert_eq!(s.lib.C_MessageSignInit(s.h, &mut mech(CKM_AES_GMAC, Some(&mut gp)), k), CKR_MECHANISM_INVALID);
    }
    assert_eq!(info.flags, CKF_SIGN | CKF_VERIFY);
}

/// CKM_POLY1305 on CKK_POLY1305 keys (CKM_POLY1305_KEY_GEN or imported): RFC 8439's vector
/// (§2.5.2), tags of RustCrypto's poly1305 for messages of several lengths, single- and
/// multi-part, verification and its errors. Not message-based: a Poly1305 key is for one
/// message.
#[test]
fn poly1305_agrees_with_rustcrypto_and_rfc8439() {
    use poly1305::universal_hash::KeyInit;
    let (_h, _p, slot, s) = raw_user_env("poly1305");
    let m = || mech::<u8>(CKM_POLY1305, None);
    let rfc_key = unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
    let k = s.secret_key(CKK_POLY1305, &rfc_key).unwrap();
    let msg = b"Cryptographic Forum Research Group";
    assert_eq!(hex(&s.sign(&mut m(), k, msg).unwrap()), "a8061dc1305136c6c22b8baf0c0127a9");
    let open = || T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let g = s.generate(CKM_POLY1305_KEY_GEN, &mut open()).unwrap();
    assert_eq!(s.get_bytes(g, CKA_KEY_TYPE).unwrap(), CKK_POLY1305.to_ne_bytes());
    let key = s.get_bytes(g, CKA_VALUE).unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(s.generate(CKM_POLY1305_KEY_GEN, &mut open().ulong(CKA_VALUE_LEN, 16)), Err(CKR_TEMPLATE_INCONSISTENT));
    assert_eq!(s.secret_key(CKK_POLY1305, &data(16)), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    for len in [0usize, 1, 15, 16, 17, 100, 1000] {
        let msg = data(len);
        let want = poly1305::Poly1305::new_from_slice(&key).unwrap().compute_unpadded(&msg).to_vec();
        assert_eq!(s.sign(&mut m(), g, &msg).unwrap(), want, "Poly1305 of {len} bytes");
        assert_eq!(sign_in_parts(&s, &mut m(), g, &msg, 7), want, "Poly1305 of {len} bytes in parts");
        assert_eq!(s.verify(&mut m(), g, &msg, &want), Ok(()));
    }
    let mut tag = s.sign(&mut m(), g, msg).unwrap();
    assert_eq!(s.verify(&mut m(), g, msg, &tag[..15]), Err(CKR_SIGNATURE_LEN_RANGE));
    tag[0] ^= 1;
    assert_eq!(s.verify(&mut m(), g, msg, &tag), Err(CKR_SIGNATURE_INVALID));
    // No parameter; Poly1305 keys only; not an encryption mechanism.
    let mut p = [0u8; 8];
    assert_eq!(s.sign(&mut mech(CKM_POLY1305, Some(&mut p)), g, msg), Err(CKR_MECHANISM_PARAM_INVALID));
    let chacha = s.secret_key(CKK_CHACHA20, &key).unwrap();
    assert_eq!(s.sign(&mut m(), chacha, msg), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.encrypt(&mut m(), g, msg), Err(CKR_MECHANISM_INVALID));
    let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
    // SAFETY: a live CK_MECHANISM_INFO and mechanism.
    unsafe {
        assert_eq!(s.lib.C_GetMechanismInfo(slot.id(), CKM_POLY1305, &mut info), CKR_OK);
        assert_eq!(s.lib.C_MessageSignInit(s.h, &mut m(), g), CKR_MECHANISM_INVALID);
    }
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize, info.flags), (32, 32, CKF_SIGN | CKF_VERIFY));
}

/// CKM_AES_XCBC_MAC and CKM_AES_XCBC_MAC_96 with RFC 3566's test vectors (§4.6, a 128-bit
/// key 000102..0f and messages 00 01 02 ... of 0 to 34 bytes), in parts too.
#[test]
fn aes_xcbc_mac_rfc3566_vectors() {
    let (_h, _p, _slot, s) = raw_user_env("xcbc");
    let k = s.secret_key(CKK_AES, &(0..16).collect::<Vec<u8>>()).unwrap();
    let hex =
        |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<_>>();
    for (len, mac) in [
        (0usize, "75f0251d528ac01c4573dfd584d79f29"),
        (3, "5b376580ae2f19afe7219ceef172756f"),
        (16, "d2a246fa349b68a79998a4394ff7a263"),
        (20, "47f51b4564966215b8985c63055ed308"),
        (32, "f54f0ec8d2b9f3d36807734bd5283fd4"),
        (34, "becbb3bccdb518a30677d5481fb6b4d8"),
    ] {
        let msg: Vec<u8> = (0..len as u8).collect();
        let want = hex(mac);
        assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_XCBC_MAC, None), k, &msg).unwrap(), want, "XCBC {len}");
        assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_XCBC_MAC_96, None), k, &msg).unwrap(), want[..12], "XCBC-96 {len}");
        assert_eq!(sign_in_parts(&s, &mut mech::<u8>(CKM_AES_XCBC_MAC, None), k, &msg, 5), want, "XCBC {len} in parts");
        assert_eq!(s.verify(&mut mech::<u8>(CKM_AES_XCBC_MAC_96, None), k, &msg, &want[..12]), Ok(()));
    }
    // RFC 3566 is for 128-bit keys.
    let k256 = s.secret_key(CKK_AES, &[7; 32]).unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_AES_XCBC_MAC, None), k256, b"x"), Err(CKR_KEY_SIZE_RANGE));
}
