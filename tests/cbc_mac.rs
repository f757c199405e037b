//! The CBC-MACs of FIPS PUB 113 (CKM_AES_MAC, CKM_DES3_MAC, CKM_DES_MAC and their _GENERAL
//! variants) through liboxihsm.so, against a CBC-MAC computed here with RustCrypto's block
//! ciphers: single- and multi-part, the output lengths, verification and its errors.

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

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(3)).collect()
}

#[test]
fn cbc_macs_agree_with_rustcrypto() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "cbc-mac");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
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
            let mut m = mech::<u8>(plain, None);
            // SAFETY: live mechanism, data and output buffer of the lengths given.
            unsafe {
                assert_eq!(s.lib.C_SignInit(s.h, &mut m, k), CKR_OK);
                for part in msg.chunks(5) {
                    assert_eq!(s.lib.C_SignUpdate(s.h, part.as_ptr().cast_mut(), part.len() as CK_ULONG), CKR_OK);
                }
                let mut out = [0u8; 16];
                let mut n = 16 as CK_ULONG;
                assert_eq!(s.lib.C_SignFinal(s.h, out.as_mut_ptr(), &mut n), CKR_OK);
                assert_eq!(out[..n as usize], want[..block / 2], "{plain:#x} {len} in parts");
            }
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
    std::mem::forget(sess);
}
