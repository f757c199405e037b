//! Shared by the symmetric-mechanism tests (tests/symmetric.rs, tests/aes_modes.rs,
//! tests/des_chacha_pbkdf2.rs): a logged-in session on a new token, deterministic data,
//! secret keys with extra attributes, ChaCha20-Poly1305 parameters.

use super::*;
use cryptoki_sys::*;

pub struct Env {
    pub _h: Harness,
    pub _p: cryptoki::context::Pkcs11,
    pub s: RawSession,
}

pub fn env() -> Env {
    let (h, p, _slot, raw) = raw_user_env("symmetric");
    Env { _h: h, _p: p, s: raw }
}

pub fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add((n as u8).wrapping_mul(11)) ^ 0x5a;
    }
    v
}

/// Imports a secret key with the given extra boolean/ulong attributes.
pub fn key_with(
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

pub fn chacha_params(nonce: &mut [u8], aad: &mut [u8]) -> CK_SALSA20_CHACHA20_POLY1305_PARAMS {
    CK_SALSA20_CHACHA20_POLY1305_PARAMS {
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: aad.as_mut_ptr(),
        ulAADLen: aad.len() as CK_ULONG,
    }
}
