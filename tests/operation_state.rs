//! C_GetOperationState / C_SetOperationState through liboxihsm.so: a digest or HMAC saved
//! half-way and resumed in another session gives the same result as an uninterrupted one;
//! the key rules (CKR_KEY_NEEDED / NOT_NEEDED / CHANGED), tampered states, operations
//! that cannot be saved, and the kind of call (single- or multi-part) a state keeps.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn get_state(s: &RawSession) -> Result<Vec<u8>, CK_RV> {
    let mut n: CK_ULONG = 0;
    // SAFETY: size query, then a buffer of that size.
    unsafe {
        let rv = s.lib.C_GetOperationState(s.h, null_mut(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut small = n - 1;
        let mut v = vec![0u8; n as usize];
        assert_eq!(s.lib.C_GetOperationState(s.h, v.as_mut_ptr(), &mut small), CKR_BUFFER_TOO_SMALL);
        assert_eq!(s.lib.C_GetOperationState(s.h, v.as_mut_ptr(), &mut n), CKR_OK);
        Ok(v)
    }
}

fn set_state(s: &RawSession, state: &[u8], enc: CK_OBJECT_HANDLE, auth: CK_OBJECT_HANDLE) -> CK_RV {
    let mut v = state.to_vec();
    // SAFETY: a live buffer.
    unsafe { s.lib.C_SetOperationState(s.h, v.as_mut_ptr(), v.len() as _, enc, auth) }
}

#[test]
fn digest_and_hmac_states_resume_in_another_session() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "state");
    let s1 = user_session(&p, slot);
    let s2 = p.open_rw_session(slot).unwrap();
    let (a, b) = (RawSession::new(&h, &s1), RawSession::new(&h, &s2));
    let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();

    // SAFETY: raw calls with live buffers of the lengths given.
    unsafe {
        assert_eq!(get_state(&a), Err(CKR_OPERATION_NOT_INITIALIZED));
        for mechanism in [CKM_SHA256, CKM_SHA_1, CKM_SHA512_224, CKM_MD5] {
            let mut m = mech::<u8>(mechanism, None);
            assert_eq!(a.lib.C_DigestInit(a.h, &mut m), CKR_OK);
            let mut d = data.clone();
            assert_eq!(a.lib.C_DigestUpdate(a.h, d.as_mut_ptr(), 100), CKR_OK);
            let saved = get_state(&a).unwrap();
            assert_eq!(set_state(&b, &saved, 0, 0), CKR_OK);
            assert_eq!(b.lib.C_DigestUpdate(b.h, d[100..].as_mut_ptr(), 200), CKR_OK);
            let mut out = [0u8; 64];
            let mut n: CK_ULONG = 64;
            assert_eq!(b.lib.C_DigestFinal(b.h, out.as_mut_ptr(), &mut n), CKR_OK);
            // The same digest uninterrupted, in the first session.
            assert_eq!(a.lib.C_DigestUpdate(a.h, d[100..].as_mut_ptr(), 200), CKR_OK);
            let mut want = [0u8; 64];
            let mut wn: CK_ULONG = 64;
            assert_eq!(a.lib.C_DigestFinal(a.h, want.as_mut_ptr(), &mut wn), CKR_OK);
            assert_eq!(out[..n as usize], want[..wn as usize], "mechanism {mechanism:#x}");
            assert_eq!(set_state(&b, &saved, 0, 5), CKR_KEY_NOT_NEEDED);
            let mut bad = saved.clone();
            bad[20] ^= 1;
            assert_eq!(set_state(&b, &bad, 0, 0), CKR_SAVED_STATE_INVALID);
        }

        // HMAC-SHA-256: the state needs the key back, and the same key.
        let key = a.secret_key(CKK_GENERIC_SECRET, b"an hmac key of some length").unwrap();
        let other = a.secret_key(CKK_GENERIC_SECRET, b"another key").unwrap();
        let want = a.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), key, &data).unwrap();
        let mut m = mech::<u8>(CKM_SHA256_HMAC, None);
        assert_eq!(a.lib.C_SignInit(a.h, &mut m, key), CKR_OK);
        let mut d = data.clone();
        assert_eq!(a.lib.C_SignUpdate(a.h, d.as_mut_ptr(), 150), CKR_OK);
        let saved = get_state(&a).unwrap();
        assert!(!saved.windows(26).any(|w| w == b"an hmac key of some length"), "no key in the state");
        assert_eq!(set_state(&b, &saved, 0, 0), CKR_KEY_NEEDED);
        assert_eq!(set_state(&b, &saved, 0, other), CKR_KEY_CHANGED);
        assert_eq!(set_state(&b, &saved, key, key), CKR_KEY_NOT_NEEDED);
        assert_eq!(set_state(&b, &saved, 0, key), CKR_OK);
        assert_eq!(b.lib.C_SignUpdate(b.h, d[150..].as_mut_ptr(), 150), CKR_OK);
        let mut out = [0u8; 32];
        let mut n: CK_ULONG = 32;
        assert_eq!(b.lib.C_SignFinal(b.h, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out.to_vec(), want);
        assert_eq!(a.lib.C_SessionCancel(a.h, CKF_SIGN), CKR_OK);

        // What cannot be saved.
        let mut m3 = mech::<u8>(CKM_SHA3_256, None);
        assert_eq!(a.lib.C_DigestInit(a.h, &mut m3), CKR_OK);
        assert_eq!(get_state(&a), Err(CKR_STATE_UNSAVEABLE));
        assert_eq!(a.lib.C_SessionCancel(a.h, CKF_DIGEST), CKR_OK);
        let aes = a.secret_key(CKK_AES, &[1u8; 16]).unwrap();
        let mut ecb = mech::<u8>(CKM_AES_ECB, None);
        assert_eq!(a.lib.C_EncryptInit(a.h, &mut ecb, aes), CKR_OK);
        assert_eq!(get_state(&a), Err(CKR_STATE_UNSAVEABLE));
        assert_eq!(a.lib.C_SessionCancel(a.h, CKF_ENCRYPT), CKR_OK);
        let mut cmac = mech::<u8>(CKM_AES_CMAC, None);
        assert_eq!(a.lib.C_SignInit(a.h, &mut cmac, aes), CKR_OK);
        assert_eq!(get_state(&a), Err(CKR_STATE_UNSAVEABLE), "a MAC other than HMAC");
        assert_eq!(a.lib.C_SessionCancel(a.h, CKF_SIGN), CKR_OK);
        // Each other kind of operation, alone; once cancelled, nothing is left to save.
        let hk = a.secret_key(CKK_GENERIC_SECRET, &[2u8; 32]).unwrap();
        let mut hm = mech::<u8>(CKM_SHA256_HMAC, None);
        let mut gcm = mech::<u8>(CKM_AES_GCM, None);
        let mut sig = [0u8; 32];
        for flag in
            [CKF_DECRYPT, CKF_MESSAGE_ENCRYPT, CKF_MESSAGE_DECRYPT, CKF_MESSAGE_SIGN, CKF_MESSAGE_VERIFY, CKF_VERIFY]
        {
            let rv = match flag {
                CKF_DECRYPT => a.lib.C_DecryptInit(a.h, &mut ecb, aes),
                CKF_MESSAGE_ENCRYPT => a.lib.C_MessageEncryptInit(a.h, &mut gcm, aes),
                CKF_MESSAGE_DECRYPT => a.lib.C_MessageDecryptInit(a.h, &mut gcm, aes),
                CKF_MESSAGE_SIGN => a.lib.C_MessageSignInit(a.h, &mut hm, hk),
                CKF_MESSAGE_VERIFY => a.lib.C_MessageVerifyInit(a.h, &mut hm, hk),
                _ => a.lib.C_VerifySignatureInit(a.h, &mut hm, hk, sig.as_mut_ptr(), 32),
            };
            assert_eq!(rv, CKR_OK, "{flag:#x}");
            assert_eq!(get_state(&a), Err(CKR_STATE_UNSAVEABLE), "{flag:#x}");
            assert_eq!(a.lib.C_SessionCancel(a.h, flag), CKR_OK);
            assert_eq!(get_state(&a), Err(CKR_OPERATION_NOT_INITIALIZED), "{flag:#x} cancelled");
        }
        assert_eq!(set_state(&a, &[1, 2, 3], 0, 0), CKR_SAVED_STATE_INVALID);
    }
}

/// A restored operation keeps the kind of call it began with (§5.2): one saved after
/// C_DigestUpdate goes on only with updates (C_Digest is CKR_OPERATION_ACTIVE and ends it);
/// one saved before any data may still be a single-part C_Digest.
#[test]
fn a_restored_operation_keeps_its_stage() {
    let (h, p, slot, a) = raw_user_env("stage");
    let s2 = p.open_rw_session(slot).unwrap();
    let b = RawSession::new(&h, &s2);
    let mut data = *b"abc";
    let want = a.digest(&mut mech::<u8>(CKM_SHA256, None), &data).unwrap();
    // SAFETY: raw calls with live buffers of the lengths given.
    unsafe {
        let mut m = mech::<u8>(CKM_SHA256, None);
        let mut out = [0u8; 32];
        let mut n: CK_ULONG = 32;
        assert_eq!(a.lib.C_DigestInit(a.h, &mut m), CKR_OK);
        let fresh = get_state(&a).unwrap();
        assert_eq!(a.lib.C_DigestUpdate(a.h, data.as_mut_ptr(), 3), CKR_OK);
        let updated = get_state(&a).unwrap();
        assert_eq!(a.lib.C_SessionCancel(a.h, CKF_DIGEST), CKR_OK);

        assert_eq!(set_state(&b, &fresh, 0, 0), CKR_OK);
        assert_eq!(b.lib.C_Digest(b.h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out[..n as usize], want[..]);

        assert_eq!(set_state(&b, &updated, 0, 0), CKR_OK);
        n = 32;
        assert_eq!(b.lib.C_Digest(b.h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OPERATION_ACTIVE);
        assert_eq!(b.lib.C_DigestFinal(b.h, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(set_state(&b, &updated, 0, 0), CKR_OK);
        n = 32;
        assert_eq!(b.lib.C_DigestFinal(b.h, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(out[..n as usize], want[..], "the restored state holds the data digested");
    }
}

/// An HMAC state is restored only with a key that C_SignInit (C_VerifyInit) would still take:
/// turning CKA_SIGN (CKA_VERIFY) off after the state was saved refuses it with
/// CKR_KEY_FUNCTION_NOT_PERMITTED and starts no operation; turned back on, it resumes.
#[test]
fn a_restored_hmac_needs_the_keys_usage_still() {
    let (h, p, slot, a) = raw_user_env("usage");
    let s2 = p.open_rw_session(slot).unwrap();
    let b = RawSession::new(&h, &s2);
    let data = [7u8; 64];
    let key = a.secret_key(CKK_GENERIC_SECRET, &[9u8; 32]).unwrap();
    let want = a.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), key, &data).unwrap();
    for (flag, usage) in [(CKF_SIGN, CKA_SIGN), (CKF_VERIFY, CKA_VERIFY)] {
        let mut m = mech::<u8>(CKM_SHA256_HMAC, None);
        let mut d = data;
        // SAFETY: raw calls with live buffers of the lengths given.
        unsafe {
            let rv = if flag == CKF_SIGN {
                a.lib.C_SignInit(a.h, &mut m, key)
            } else {
                a.lib.C_VerifyInit(a.h, &mut m, key)
            };
            assert_eq!(rv, CKR_OK);
            let rv = if flag == CKF_SIGN {
                a.lib.C_SignUpdate(a.h, d.as_mut_ptr(), 20)
            } else {
                a.lib.C_VerifyUpdate(a.h, d.as_mut_ptr(), 20)
            };
            assert_eq!(rv, CKR_OK);
            let saved = get_state(&a).unwrap();
            assert_eq!(a.lib.C_SessionCancel(a.h, flag), CKR_OK);

            a.set(key, &mut T::default().flag(usage, false)).unwrap();
            assert_eq!(set_state(&b, &saved, 0, key), CKR_KEY_FUNCTION_NOT_PERMITTED, "{usage:#x} off");
            assert_eq!(get_state(&b), Err(CKR_OPERATION_NOT_INITIALIZED), "{usage:#x} off: nothing restored");
            a.set(key, &mut T::default().flag(usage, true)).unwrap();
            assert_eq!(set_state(&b, &saved, 0, key), CKR_OK, "{usage:#x} on");
            if flag == CKF_SIGN {
                let mut out = vec![0u8; want.len()];
                let mut n = out.len() as CK_ULONG;
                assert_eq!(b.lib.C_SignUpdate(b.h, d[20..].as_mut_ptr(), 44), CKR_OK);
                assert_eq!(b.lib.C_SignFinal(b.h, out.as_mut_ptr(), &mut n), CKR_OK);
                assert_eq!(out[..n as usize], want[..]);
            } else {
                let mut sig = want.clone();
                assert_eq!(b.lib.C_VerifyUpdate(b.h, d[20..].as_mut_ptr(), 44), CKR_OK);
                assert_eq!(b.lib.C_VerifyFinal(b.h, sig.as_mut_ptr(), sig.len() as CK_ULONG), CKR_OK);
            }
        }
    }
}
