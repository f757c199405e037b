//! PKCS#11 3.0 message-based signing and verification through liboxihsm.so
//! (C_MessageSignInit, C_SignMessage, C_SignMessageBegin/Next, C_MessageSignFinal and the
//! verify side): HMACs checked against RustCrypto's hmac, ECDSA signatures against p256,
//! and the rules of the process — one message at a time, size queries and short buffers,
//! errors that end the message and not the process, no per-message parameter.

mod common;
use common::*;
use cryptoki_sys::*;
use hmac::Mac;
use std::ptr::null_mut;

const MAC_KEY: &[u8] = b"message-based MACs, one key";

fn hmac(data: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(MAC_KEY).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// C_SignMessage with a size query first.
fn sign_message(s: &RawSession, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
    let mut d = data.to_vec();
    let mut n: CK_ULONG = 0;
    // SAFETY: live buffers of the lengths given.
    unsafe {
        let rv = s.lib.C_SignMessage(s.h, null_mut(), 0, d.as_mut_ptr(), d.len() as _, null_mut(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut sig = vec![0u8; n as usize];
        let rv = s.lib.C_SignMessage(s.h, null_mut(), 0, d.as_mut_ptr(), d.len() as _, sig.as_mut_ptr(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        sig.truncate(n as usize);
        Ok(sig)
    }
}

/// C_SignMessageBegin, C_SignMessageNext for each part but the last, and the last with the
/// signature.
fn sign_in_parts(s: &RawSession, parts: &[&[u8]]) -> Result<Vec<u8>, CK_RV> {
    let ck = |rv| if rv == CKR_OK { Ok(()) } else { Err(rv) };
    // SAFETY: live buffers of the lengths given.
    unsafe {
        ck(s.lib.C_SignMessageBegin(s.h, null_mut(), 0))?;
        let (last, first) = parts.split_last().unwrap();
        for p in first {
            let mut p = p.to_vec();
            ck(s.lib.C_SignMessageNext(s.h, null_mut(), 0, p.as_mut_ptr(), p.len() as _, null_mut(), null_mut()))?;
        }
        let mut p = last.to_vec();
        let mut sig = vec![0u8; 128];
        let mut n: CK_ULONG = 128;
        ck(s.lib.C_SignMessageNext(s.h, null_mut(), 0, p.as_mut_ptr(), p.len() as _, sig.as_mut_ptr(), &mut n))?;
        sig.truncate(n as usize);
        Ok(sig)
    }
}

fn verify_message(s: &RawSession, data: &[u8], sig: &[u8]) -> CK_RV {
    let (mut d, mut g) = (data.to_vec(), sig.to_vec());
    // SAFETY: live buffers of the lengths given.
    unsafe { s.lib.C_VerifyMessage(s.h, null_mut(), 0, d.as_mut_ptr(), d.len() as _, g.as_mut_ptr(), g.len() as _) }
}

#[test]
fn hmac_messages_one_after_another() {
    let (h, _p, s) = user_env("message-sign");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_GENERIC_SECRET, MAC_KEY).unwrap();
    let slot = s.get_session_info().unwrap().slot_id().id();
    for (ty, offered) in [(CKM_SHA256_HMAC, true), (CKM_ECDSA_SHA256, true), (CKM_AES_CBC, false)] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        // SAFETY: a live CK_MECHANISM_INFO.
        assert_eq!(unsafe { r.lib.C_GetMechanismInfo(slot, ty, &mut info) }, CKR_OK);
        let both = CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY;
        assert_eq!(info.flags & both, if offered { both } else { 0 }, "mechanism {ty:#x}");
    }
    let mut m = mech::<u8>(CKM_SHA256_HMAC, None);

    // SAFETY: live mechanism and buffers.
    unsafe {
        assert_eq!(r.lib.C_SignMessageBegin(r.h, null_mut(), 0), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, key), CKR_OK);
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, key), CKR_OPERATION_ACTIVE);
    }
    for msg in [&b"first"[..], b"", &[7u8; 3000]] {
        assert_eq!(sign_message(&r, msg).unwrap(), hmac(msg));
    }
    // A buffer one byte short: its length, and the process goes on.
    let mut d = b"short".to_vec();
    let mut sig = [0u8; 32];
    let mut n: CK_ULONG = 31;
    // SAFETY: live buffers; the length given is less than the buffer.
    let rv = unsafe { r.lib.C_SignMessage(r.h, null_mut(), 0, d.as_mut_ptr(), 5, sig.as_mut_ptr(), &mut n) };
    assert_eq!((rv, n), (CKR_BUFFER_TOO_SMALL, 32));
    assert_eq!(sign_message(&r, b"short").unwrap(), hmac(b"short"));

    // In parts; no single-part message meanwhile.
    // SAFETY: live buffers.
    unsafe {
        assert_eq!(r.lib.C_SignMessageBegin(r.h, null_mut(), 0), CKR_OK);
        let mut part = b"in ".to_vec();
        assert_eq!(r.lib.C_SignMessageNext(r.h, null_mut(), 0, part.as_mut_ptr(), 3, null_mut(), null_mut()), CKR_OK);
        assert_eq!(sign_message(&r, b"x"), Err(CKR_OPERATION_ACTIVE));
        // A size query too: it answers no length for a call that would be refused.
        let mut x = b"x".to_vec();
        let mut n: CK_ULONG = 0;
        assert_eq!(
            r.lib.C_SignMessage(r.h, null_mut(), 0, x.as_mut_ptr(), 1, null_mut(), &mut n),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(r.lib.C_SignMessageBegin(r.h, null_mut(), 0), CKR_OPERATION_ACTIVE);
        // A size query for the last part adds nothing.
        let mut last = b"parts".to_vec();
        let mut n: CK_ULONG = 0;
        assert_eq!(r.lib.C_SignMessageNext(r.h, null_mut(), 0, last.as_mut_ptr(), 5, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 32);
        let mut sig = [0u8; 32];
        assert_eq!(r.lib.C_SignMessageNext(r.h, null_mut(), 0, last.as_mut_ptr(), 5, sig.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(sig.to_vec(), hmac(b"in parts"));
    }
    assert_eq!(sign_in_parts(&r, &[b"a", b"b", b"c"]).unwrap(), hmac(b"abc"));

    // An error in a part ends that message, not the process.
    // SAFETY: live buffers (and a NULL part with a length, refused).
    unsafe {
        assert_eq!(r.lib.C_SignMessageBegin(r.h, null_mut(), 0), CKR_OK);
        assert_eq!(
            r.lib.C_SignMessageNext(r.h, null_mut(), 0, null_mut(), 4, null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        let mut part = b"p".to_vec();
        assert_eq!(
            r.lib.C_SignMessageNext(r.h, null_mut(), 0, part.as_mut_ptr(), 1, null_mut(), null_mut()),
            CKR_OPERATION_NOT_INITIALIZED
        );
        // No mechanism of the token has a per-message parameter.
        let mut param = [0u8; 8];
        let mut n: CK_ULONG = 32;
        assert_eq!(
            r.lib.C_SignMessage(r.h, param.as_mut_ptr().cast(), 8, part.as_mut_ptr(), 1, null_mut(), &mut n),
            CKR_MECHANISM_PARAM_INVALID
        );
    }
    assert_eq!(sign_message(&r, b"still going").unwrap(), hmac(b"still going"));

    // MACs verify, message by message.
    // SAFETY: live mechanism.
    unsafe { assert_eq!(r.lib.C_MessageVerifyInit(r.h, &mut m, key), CKR_OK) };
    assert_eq!(verify_message(&r, b"checked", &hmac(b"checked")), CKR_OK);
    let mut bad = hmac(b"checked");
    bad[5] ^= 1;
    assert_eq!(verify_message(&r, b"checked", &bad), CKR_SIGNATURE_INVALID);
    assert_eq!(verify_message(&r, b"checked", &bad[..31]), CKR_SIGNATURE_LEN_RANGE);
    assert_eq!(verify_message(&r, b"again", &hmac(b"again")), CKR_OK);

    // C_MessageSignFinal ends the process; C_SessionCancel ends the verify one.
    // SAFETY: a live session.
    unsafe {
        assert_eq!(r.lib.C_MessageSignFinal(r.h), CKR_OK);
        assert_eq!(r.lib.C_MessageSignFinal(r.h), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(r.lib.C_SessionCancel(r.h, CKF_MESSAGE_VERIFY), CKR_OK);
        assert_eq!(r.lib.C_MessageVerifyFinal(r.h), CKR_OPERATION_NOT_INITIALIZED);
    }
    assert_eq!(sign_message(&r, b"after"), Err(CKR_OPERATION_NOT_INITIALIZED));
}

#[test]
fn ecdsa_messages_verified_by_p256() {
    use p256::ecdsa::signature::Verifier;
    let (h, _p, s) = user_env("message-sign");
    let r = RawSession::new(&h, &s);
    let (public, private, vk) = p256_pair(&s, &[]);
    let mut m = mech::<u8>(CKM_ECDSA_SHA256, None);

    // SAFETY: live mechanism.
    unsafe {
        // The public key cannot sign; the private one can.
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, public.handle()), CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, private.handle()), CKR_OK);
        assert_eq!(r.lib.C_MessageVerifyInit(r.h, &mut m, public.handle()), CKR_OK);
    }
    for msg in [&b"one"[..], b"two", &[1u8; 1000]] {
        let sig = sign_message(&r, msg).unwrap();
        vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).expect("p256 verifies it");
        assert_eq!(verify_message(&r, msg, &sig), CKR_OK);
        assert_eq!(verify_message(&r, b"another", &sig), CKR_SIGNATURE_INVALID);
    }
    let sig = sign_in_parts(&r, &[b"signed ", b"in ", b"parts"]).unwrap();
    vk.verify(b"signed in parts", &p256::ecdsa::Signature::from_slice(&sig).unwrap()).expect("p256 verifies it");

    // Verification in parts, the signature with the last one.
    // SAFETY: live buffers.
    unsafe {
        assert_eq!(r.lib.C_VerifyMessageBegin(r.h, null_mut(), 0), CKR_OK);
        let mut a = b"signed in".to_vec();
        assert_eq!(r.lib.C_VerifyMessageNext(r.h, null_mut(), 0, a.as_mut_ptr(), 9, null_mut(), 0), CKR_OK);
        let mut b = b" parts".to_vec();
        let mut sig = sig.clone();
        let rv = r.lib.C_VerifyMessageNext(r.h, null_mut(), 0, b.as_mut_ptr(), 6, sig.as_mut_ptr(), sig.len() as _);
        assert_eq!(rv, CKR_OK);
        // A wrong signature, or one of the wrong length, with the last part: refused, and
        // that message is over; the process goes on.
        let mut bad = sig.clone();
        bad[10] ^= 1;
        for (sig, want) in [(&mut bad, CKR_SIGNATURE_INVALID), (&mut sig[..63].to_vec(), CKR_SIGNATURE_LEN_RANGE)] {
            assert_eq!(r.lib.C_VerifyMessageBegin(r.h, null_mut(), 0), CKR_OK);
            assert_eq!(r.lib.C_VerifyMessageNext(r.h, null_mut(), 0, a.as_mut_ptr(), 9, null_mut(), 0), CKR_OK);
            let rv = r.lib.C_VerifyMessageNext(r.h, null_mut(), 0, b.as_mut_ptr(), 6, sig.as_mut_ptr(), sig.len() as _);
            assert_eq!(rv, want);
            let rv = r.lib.C_VerifyMessageNext(r.h, null_mut(), 0, b.as_mut_ptr(), 6, sig.as_mut_ptr(), sig.len() as _);
            assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED, "the message ended");
        }
        assert_eq!(verify_message(&r, b"signed in parts", &sig), CKR_OK);
        assert_eq!(r.lib.C_MessageVerifyFinal(r.h), CKR_OK);
        assert_eq!(r.lib.C_MessageSignFinal(r.h), CKR_OK);
        // A mechanism that does not sign.
        let mut iv = [0u8; 16];
        let mut cbc = mech(CKM_AES_CBC, Some(&mut iv));
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut cbc, private.handle()), CKR_MECHANISM_INVALID);
    }
}

/// A key with CKA_ALWAYS_AUTHENTICATE signs one message per CKU_CONTEXT_SPECIFIC login.
#[test]
fn always_authenticate_keys_sign_one_message_per_login() {
    use p256::ecdsa::signature::Verifier;
    let (h, _p, s) = user_env("message-auth");
    let r = RawSession::new(&h, &s);
    let (_, private, vk) = p256_pair(&s, &[cryptoki::object::Attribute::AlwaysAuthenticate(true)]);
    let mut m = mech::<u8>(CKM_ECDSA_SHA256, None);
    let mut pin = USER_PIN.as_bytes().to_vec();
    // SAFETY: live mechanism and PIN buffer.
    unsafe {
        assert_eq!(r.lib.C_Login(r.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, private.handle()), CKR_OK);
    }
    assert_eq!(sign_message(&r, b"no login yet"), Err(CKR_USER_NOT_LOGGED_IN));
    for msg in [&b"first"[..], b"second"] {
        // SAFETY: a live PIN buffer.
        assert_eq!(unsafe { r.lib.C_Login(r.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4) }, CKR_OK);
        let sig = sign_message(&r, msg).unwrap();
        vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).expect("p256 verifies it");
        // One message per login.
        assert_eq!(sign_message(&r, msg), Err(CKR_USER_NOT_LOGGED_IN));
    }
    // SAFETY: live session and PIN buffer.
    unsafe {
        assert_eq!(r.lib.C_MessageSignFinal(r.h), CKR_OK);
        assert_eq!(r.lib.C_Login(r.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OPERATION_NOT_INITIALIZED);
    }
    // A signing process on a key without the attribute has nothing for such a login.
    let (_, plain, _) = p256_pair(&s, &[]);
    // SAFETY: live mechanism and PIN buffer.
    unsafe {
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut m, plain.handle()), CKR_OK);
        assert_eq!(r.lib.C_Login(r.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(r.lib.C_MessageSignFinal(r.h), CKR_OK);
    }
}
