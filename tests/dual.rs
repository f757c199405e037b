//! The dual-function calls (C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate,
//! C_DecryptVerifyUpdate) through liboxihsm.so: their ciphertexts, digests and MACs checked
//! against the RustCrypto crates, and the rules of §5.17 — both operations must be active,
//! and a size query, a short buffer or an error passes no plaintext to the digest, signature
//! or verification.

mod common;
use common::*;
use cryptoki_sys::*;
use hmac::Mac;
use sha2::Digest;
use std::ptr::null_mut;

type Dual = unsafe fn(&Pkcs11, CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV;
use cryptoki_sys::Pkcs11;

const DIGEST_ENCRYPT: Dual = Pkcs11::C_DigestEncryptUpdate;
const DECRYPT_DIGEST: Dual = Pkcs11::C_DecryptDigestUpdate;
const SIGN_ENCRYPT: Dual = Pkcs11::C_SignEncryptUpdate;
const DECRYPT_VERIFY: Dual = Pkcs11::C_DecryptVerifyUpdate;

const KEY: [u8; 32] = [0x5a; 32];
const IV: [u8; 16] = [0x24; 16];
const MAC_KEY: &[u8] = b"the dual tests' hmac key";

fn data() -> Vec<u8> {
    (0..1000u32).map(|i| (i * 7 + 3) as u8).collect()
}

/// One dual call with a size query first; the output or the CK_RV.
fn dual(s: &RawSession, f: Dual, part: &[u8]) -> Result<Vec<u8>, CK_RV> {
    let mut p = part.to_vec();
    let mut n: CK_ULONG = 0;
    // SAFETY: live buffers of the lengths given.
    unsafe {
        let rv = f(&s.lib, s.h, p.as_mut_ptr(), p.len() as _, null_mut(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut out = vec![0u8; n as usize];
        let rv = f(&s.lib, s.h, p.as_mut_ptr(), p.len() as _, out.as_mut_ptr(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(n as usize);
        Ok(out)
    }
}

/// A Final call (C_EncryptFinal, C_DigestFinal, C_SignFinal ...) into a 512-byte buffer.
fn finish(
    s: &RawSession,
    f: unsafe fn(&Pkcs11, CK_SESSION_HANDLE, *mut u8, *mut CK_ULONG) -> CK_RV,
) -> Result<Vec<u8>, CK_RV> {
    let mut out = vec![0u8; 512];
    let mut n: CK_ULONG = 512;
    // SAFETY: a live buffer of the length given.
    let rv = unsafe { f(&s.lib, s.h, out.as_mut_ptr(), &mut n) };
    if rv != CKR_OK {
        return Err(rv);
    }
    out.truncate(n as usize);
    Ok(out)
}

fn init(rv: CK_RV) {
    assert_eq!(rv, CKR_OK);
}

fn cbc_pad(data: &[u8]) -> Vec<u8> {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    cbc::Encryptor::<aes::Aes256>::new(&KEY.into(), &IV.into()).encrypt_padded_vec_mut::<Pkcs7>(data)
}

fn hmac(data: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(MAC_KEY).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

#[test]
fn the_token_announces_dual_functions() {
    let (_h, p, s) = user_env("dual");
    let info = p.get_token_info(s.get_session_info().unwrap().slot_id()).unwrap();
    assert!(info.dual_crypto_operations());
}

#[test]
fn digest_encrypt_and_decrypt_digest_in_parts() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let data = data();
    let mut iv = IV;
    let mut cbc = mech(CKM_AES_CBC_PAD, Some(&mut iv));
    let mut sha = mech::<u8>(CKM_SHA256, None);

    // SAFETY: mechanisms live for the calls.
    unsafe {
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_EncryptInit(r.h, &mut cbc, key));
    }
    let mut ct = Vec::new();
    for part in data.chunks(77) {
        ct.extend(dual(&r, DIGEST_ENCRYPT, part).unwrap());
    }
    ct.extend(finish(&r, Pkcs11::C_EncryptFinal).unwrap());
    assert_eq!(ct, cbc_pad(&data));
    assert_eq!(finish(&r, Pkcs11::C_DigestFinal).unwrap(), sha2::Sha256::digest(&data).to_vec());

    // Back: the digest gets the plaintext as it is released; CBC_PAD holds the last block
    // back until C_DecryptFinal, which the caller digests itself (§5.17).
    // SAFETY: as above.
    unsafe {
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_DecryptInit(r.h, &mut cbc, key));
    }
    let mut pt = Vec::new();
    for part in ct.chunks(64) {
        pt.extend(dual(&r, DECRYPT_DIGEST, part).unwrap());
    }
    assert!(pt.len() < data.len());
    let mut last = finish(&r, Pkcs11::C_DecryptFinal).unwrap();
    // SAFETY: a live buffer.
    init(unsafe { r.lib.C_DigestUpdate(r.h, last.as_mut_ptr(), last.len() as _) });
    pt.extend(last);
    assert_eq!(pt, data);
    assert_eq!(finish(&r, Pkcs11::C_DigestFinal).unwrap(), sha2::Sha256::digest(&data).to_vec());
}

#[test]
fn sign_encrypt_and_decrypt_verify_in_parts() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let mac_key = r.secret_key(CKK_GENERIC_SECRET, MAC_KEY).unwrap();
    let data = data();
    let mut iv = IV;
    let mut cbc = mech(CKM_AES_CBC_PAD, Some(&mut iv));
    let mut hm = mech::<u8>(CKM_SHA256_HMAC, None);

    // SAFETY: mechanisms live for the calls.
    unsafe {
        init(r.lib.C_SignInit(r.h, &mut hm, mac_key));
        init(r.lib.C_EncryptInit(r.h, &mut cbc, key));
    }
    let mut ct = Vec::new();
    for part in data.chunks(100) {
        ct.extend(dual(&r, SIGN_ENCRYPT, part).unwrap());
    }
    ct.extend(finish(&r, Pkcs11::C_EncryptFinal).unwrap());
    assert_eq!(ct, cbc_pad(&data));
    let sig = finish(&r, Pkcs11::C_SignFinal).unwrap();
    assert_eq!(sig, hmac(&data));

    // ECB without padding releases every whole block: the verification sees all the data.
    let mut aes_ecb = mech::<u8>(CKM_AES_ECB, None);
    let ecb_ct = aes_ecb_of(&data[..992]);
    for (tamper, want) in [(false, CKR_OK), (true, CKR_SIGNATURE_INVALID)] {
        // SAFETY: mechanisms live for the calls.
        unsafe {
            init(r.lib.C_VerifyInit(r.h, &mut hm, mac_key));
            init(r.lib.C_DecryptInit(r.h, &mut aes_ecb, key));
        }
        let mut pt = Vec::new();
        for part in ecb_ct.chunks(50) {
            pt.extend(dual(&r, DECRYPT_VERIFY, part).unwrap());
        }
        pt.extend(finish(&r, Pkcs11::C_DecryptFinal).unwrap());
        assert_eq!(pt, data[..992]);
        let mut sig = hmac(&data[..992]);
        sig[0] ^= tamper as u8;
        // SAFETY: a live buffer.
        assert_eq!(unsafe { r.lib.C_VerifyFinal(r.h, sig.as_mut_ptr(), sig.len() as _) }, want);
    }
}

#[test]
fn both_operations_must_be_active() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let mac_key = r.secret_key(CKK_GENERIC_SECRET, MAC_KEY).unwrap();
    let block = [9u8; 16];
    let mut ecb = mech::<u8>(CKM_AES_ECB, None);
    let mut sha = mech::<u8>(CKM_SHA256, None);
    let mut hm = mech::<u8>(CKM_SHA256_HMAC, None);

    for f in [DIGEST_ENCRYPT, DECRYPT_DIGEST, SIGN_ENCRYPT, DECRYPT_VERIFY] {
        assert_eq!(dual(&r, f, &block), Err(CKR_OPERATION_NOT_INITIALIZED));
    }
    // An encryption alone: the dual calls that need a digest or a signature refuse, and the
    // encryption goes on unharmed: CBC, so that a block taken by a refused call would show.
    let mut iv = IV;
    let mut cbc = mech(CKM_AES_CBC, Some(&mut iv));
    // SAFETY: mechanisms live for the calls.
    unsafe { init(r.lib.C_EncryptInit(r.h, &mut cbc, key)) };
    assert_eq!(dual(&r, DIGEST_ENCRYPT, &block), Err(CKR_OPERATION_NOT_INITIALIZED));
    assert_eq!(dual(&r, SIGN_ENCRYPT, &block), Err(CKR_OPERATION_NOT_INITIALIZED));
    assert_eq!(dual(&r, DECRYPT_DIGEST, &block), Err(CKR_OPERATION_NOT_INITIALIZED));
    let mut b = block;
    let mut out = [0u8; 16];
    let mut n: CK_ULONG = 16;
    // SAFETY: live buffers.
    unsafe { init(r.lib.C_EncryptUpdate(r.h, b.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)) };
    assert_eq!(out[..], cbc_pad(&block)[..16], "the first block of the encryption");
    assert_eq!(finish(&r, Pkcs11::C_EncryptFinal).unwrap(), Vec::<u8>::new());
    // SAFETY: mechanisms live for the calls.
    unsafe { init(r.lib.C_EncryptInit(r.h, &mut ecb, key)) };

    // A digest and a signature alone: the same, and both go on unharmed.
    // SAFETY: mechanisms live for the calls.
    unsafe {
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_SignInit(r.h, &mut hm, mac_key));
    }
    for f in [DECRYPT_DIGEST, DECRYPT_VERIFY] {
        assert_eq!(dual(&r, f, &block), Err(CKR_OPERATION_NOT_INITIALIZED));
    }
    // SAFETY: live buffer.
    unsafe {
        init(r.lib.C_DigestUpdate(r.h, b.as_mut_ptr(), 16));
        init(r.lib.C_SignUpdate(r.h, b.as_mut_ptr(), 16));
    }
    assert_eq!(finish(&r, Pkcs11::C_DigestFinal).unwrap(), sha2::Sha256::digest(block).to_vec());
    let mut want = hmac::Hmac::<sha2::Sha256>::new_from_slice(MAC_KEY).unwrap();
    want.update(&block);
    assert_eq!(finish(&r, Pkcs11::C_SignFinal).unwrap(), want.finalize().into_bytes().to_vec());
}

#[test]
fn size_queries_and_short_buffers_pass_nothing_on() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let data = data();
    let mut ecb = mech::<u8>(CKM_AES_ECB, None);
    let mut sha = mech::<u8>(CKM_SHA256, None);

    // SAFETY: mechanisms and buffers live for the calls.
    unsafe {
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_EncryptInit(r.h, &mut ecb, key));
        let mut part = data[..64].to_vec();
        let mut out = [0u8; 64];
        // Size queries, repeated, then a buffer one byte short, then room.
        for _ in 0..3 {
            let mut n: CK_ULONG = 0;
            init(r.lib.C_DigestEncryptUpdate(r.h, part.as_mut_ptr(), 64, null_mut(), &mut n));
            assert!(n >= 64, "{n}");
        }
        let mut n: CK_ULONG = 63;
        assert_eq!(
            r.lib.C_DigestEncryptUpdate(r.h, part.as_mut_ptr(), 64, out.as_mut_ptr(), &mut n),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 64);
        init(r.lib.C_DigestEncryptUpdate(r.h, part.as_mut_ptr(), 64, out.as_mut_ptr(), &mut n));
        assert_eq!(n, 64);
        assert_eq!(out.to_vec(), aes_ecb_of(&data[..64]));
    }
    assert_eq!(finish(&r, Pkcs11::C_EncryptFinal).unwrap(), Vec::<u8>::new());
    assert_eq!(finish(&r, Pkcs11::C_DigestFinal).unwrap(), sha2::Sha256::digest(&data[..64]).to_vec());
}

fn aes_ecb_of(data: &[u8]) -> Vec<u8> {
    aes256_ecb(&KEY, data)
}

#[test]
fn errors_end_both_operations_and_parts_may_be_done_in_place() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let mut ecb = mech::<u8>(CKM_AES_ECB, None);
    let mut sha = mech::<u8>(CKM_SHA256, None);
    let mut block = [1u8; 16];

    // SAFETY: mechanisms and buffers live for the calls.
    unsafe {
        // No length pointer: CKR_ARGUMENTS_BAD, and both operations are over.
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_EncryptInit(r.h, &mut ecb, key));
        assert_eq!(
            r.lib.C_DigestEncryptUpdate(r.h, block.as_mut_ptr(), 16, block.as_mut_ptr(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(finish(&r, Pkcs11::C_DigestFinal), Err(CKR_OPERATION_NOT_INITIALIZED));
        assert_eq!(finish(&r, Pkcs11::C_EncryptFinal), Err(CKR_OPERATION_NOT_INITIALIZED));

        // A NULL part with a length: the same.
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_DecryptInit(r.h, &mut ecb, key));
        let mut n: CK_ULONG = 16;
        assert_eq!(r.lib.C_DecryptDigestUpdate(r.h, null_mut(), 16, block.as_mut_ptr(), &mut n), CKR_ARGUMENTS_BAD);
        assert_eq!(finish(&r, Pkcs11::C_DigestFinal), Err(CKR_OPERATION_NOT_INITIALIZED));
        assert_eq!(finish(&r, Pkcs11::C_DecryptFinal), Err(CKR_OPERATION_NOT_INITIALIZED));

        // In place: the output may overwrite the input.
        init(r.lib.C_DigestInit(r.h, &mut sha));
        init(r.lib.C_EncryptInit(r.h, &mut ecb, key));
        let mut n: CK_ULONG = 16;
        init(r.lib.C_DigestEncryptUpdate(r.h, block.as_mut_ptr(), 16, block.as_mut_ptr(), &mut n));
        assert_eq!(block.to_vec(), aes_ecb_of(&[1u8; 16]));
        assert_eq!(finish(&r, Pkcs11::C_EncryptFinal).unwrap(), Vec::<u8>::new());
        assert_eq!(finish(&r, Pkcs11::C_DigestFinal).unwrap(), sha2::Sha256::digest([1u8; 16]).to_vec());
    }
}

#[test]
fn a_signature_waiting_for_its_login_takes_no_part() {
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let (_, privk, vk) = p256_pair(&s, &[cryptoki::object::Attribute::AlwaysAuthenticate(true)]);
    let mut ecb = mech::<u8>(CKM_AES_ECB, None);
    let mut ecdsa = mech::<u8>(CKM_ECDSA_SHA256, None);
    let data = data();
    let mut pin = USER_PIN.as_bytes().to_vec();

    // SAFETY: mechanisms and buffers live for the calls.
    unsafe {
        // Without the context-specific login the call fails as C_SignUpdate would (§5.2)
        // and, failing, ends both operations; nothing was encrypted.
        init(r.lib.C_SignInit(r.h, &mut ecdsa, privk.handle()));
        init(r.lib.C_EncryptInit(r.h, &mut ecb, key));
        assert_eq!(dual(&r, SIGN_ENCRYPT, &data[..16]), Err(CKR_USER_NOT_LOGGED_IN));
        assert_eq!(finish(&r, Pkcs11::C_SignFinal), Err(CKR_OPERATION_NOT_INITIALIZED));
        assert_eq!(finish(&r, Pkcs11::C_EncryptFinal), Err(CKR_OPERATION_NOT_INITIALIZED));

        // With it, the parts are signed as they are encrypted.
        init(r.lib.C_SignInit(r.h, &mut ecdsa, privk.handle()));
        init(r.lib.C_EncryptInit(r.h, &mut ecb, key));
        init(r.lib.C_Login(r.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), pin.len() as _));
    }
    let mut ct = Vec::new();
    for part in data[..992].chunks(32) {
        ct.extend(dual(&r, SIGN_ENCRYPT, part).unwrap());
    }
    assert_eq!(ct, aes_ecb_of(&data[..992]));
    let sig = finish(&r, Pkcs11::C_SignFinal).unwrap();
    use p256::ecdsa::signature::Verifier;
    vk.verify(&data[..992], &p256::ecdsa::Signature::from_slice(&sig).unwrap()).expect("the signature verifies");
}

#[test]
fn the_function_lists_hold_the_dual_functions() {
    let h = Harness::new();
    let raw = h.raw();
    assert_eq!(h.raw_init(&raw), CKR_OK);
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: C_GetFunctionList writes a pointer to a static table.
    unsafe {
        init(raw.C_GetFunctionList(&mut list));
        let l = &*list;
        for f in [l.C_DigestEncryptUpdate, l.C_DecryptDigestUpdate, l.C_SignEncryptUpdate, l.C_DecryptVerifyUpdate] {
            let f = f.expect("in the 2.40 list");
            // No such session: not CKR_FUNCTION_NOT_SUPPORTED.
            let mut n: CK_ULONG = 0;
            assert_eq!(f(77, null_mut(), 0, null_mut(), &mut n), CKR_SESSION_HANDLE_INVALID);
        }
    }
}

/// Block by block, as google/pkcs11test's dual-function test drives them: every block put in
/// comes out at once, in both directions, for the ECB and CBC modes of AES, DES and Triple
/// DES, and the digests of both directions agree.
#[test]
fn block_by_block_for_every_block_cipher() {
    let (h, _p, s) = user_env("dual-blocks");
    let r = RawSession::new(&h, &s);
    let des3_key = unhex("0123456789abcdeffedcba987654321089abcdef01234567");
    let keys = [(CKK_AES, KEY.to_vec(), 16usize), (CKK_DES3, des3_key, 8), (CKK_DES, unhex("0123456789abcdef"), 8)];
    let modes = [(CKM_AES_ECB, CKM_AES_CBC), (CKM_DES3_ECB, CKM_DES3_CBC), (CKM_DES_ECB, CKM_DES_CBC)];
    for ((kt, value, block), (ecb, cbc)) in keys.into_iter().zip(modes) {
        let key = r.secret_key(kt, &value).unwrap();
        let data: Vec<u8> = (0..block * 4).map(|i| i as u8).collect();
        let mut iv = vec![0x42u8; block];
        for m in [ecb, cbc] {
            let mut mm = mech::<u8>(m, None);
            if m == cbc {
                mm.pParameter = iv.as_mut_ptr().cast();
                mm.ulParameterLen = block as CK_ULONG;
            }
            let mut sha = mech::<u8>(CKM_SHA_1, None);
            let mut digests = Vec::new();
            let mut ct = Vec::new();
            for encrypt in [true, false] {
                let (f, input) = if encrypt { (DIGEST_ENCRYPT, data.clone()) } else { (DECRYPT_DIGEST, ct.clone()) };
                // SAFETY: live mechanisms.
                unsafe {
                    init(r.lib.C_DigestInit(r.h, &mut sha));
                    if encrypt {
                        init(r.lib.C_EncryptInit(r.h, &mut mm, key));
                    } else {
                        init(r.lib.C_DecryptInit(r.h, &mut mm, key));
                    }
                }
                let mut out = Vec::new();
                for b in input.chunks(block) {
                    let part = dual(&r, f, b).unwrap();
                    assert_eq!(part.len(), block, "mechanism {m:#x}: a block in, a block out");
                    out.extend(part);
                }
                let fin = if encrypt { Pkcs11::C_EncryptFinal } else { Pkcs11::C_DecryptFinal };
                assert_eq!(finish(&r, fin).unwrap(), Vec::<u8>::new());
                digests.push(finish(&r, Pkcs11::C_DigestFinal).unwrap());
                if encrypt {
                    ct = out;
                } else {
                    assert_eq!(out, data, "mechanism {m:#x}");
                }
            }
            assert_eq!(digests[0], digests[1]);
            assert_eq!(digests[0], sha1::Sha1::digest(&data).to_vec());
        }
    }
}

/// A signature whose mechanism signs in one part only (HashML-DSA over a caller's hash)
/// takes no part of a C_SignEncryptUpdate: refused as C_SignUpdate is, ending the signature
/// before the part is encrypted; the encryption goes on from where it was.
#[test]
fn a_single_part_signature_takes_no_part() {
    if !offered_by_this_build(CKM_HASH_ML_DSA) {
        return;
    }
    let (h, _p, s) = user_env("dual");
    let r = RawSession::new(&h, &s);
    let key = r.secret_key(CKK_AES, &KEY).unwrap();
    let (_, privk) = r
        .keypair(CKM_ML_DSA_KEY_PAIR_GEN, &mut T::default().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44), &mut T::default())
        .unwrap();
    let mut hp = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_HEDGE_PREFERRED,
        pContext: null_mut(),
        ulContextLen: 0,
        hash: CKM_SHA256,
    };
    let mut hashed = mech(CKM_HASH_ML_DSA, Some(&mut hp));
    let mut iv = IV;
    let mut cbc = mech(CKM_AES_CBC, Some(&mut iv));
    let data = data();
    // SAFETY: mechanisms live for the calls.
    unsafe {
        init(r.lib.C_SignInit(r.h, &mut hashed, privk));
        init(r.lib.C_EncryptInit(r.h, &mut cbc, key));
    }
    assert_eq!(dual(&r, SIGN_ENCRYPT, &data[..16]), Err(CKR_OPERATION_NOT_INITIALIZED));
    assert_eq!(finish(&r, Pkcs11::C_SignFinal), Err(CKR_OPERATION_NOT_INITIALIZED));
    let mut first = data[..16].to_vec();
    let mut out = [0u8; 16];
    let mut n: CK_ULONG = 16;
    // SAFETY: live buffers.
    unsafe { init(r.lib.C_EncryptUpdate(r.h, first.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)) };
    assert_eq!(out[..], cbc_pad(&data[..16])[..16], "the first block of the encryption");
}
