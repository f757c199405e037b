//! DES (PKCS#11 Historical Mechanisms) and Triple DES (PKCS#11 3.2 §6.12): single
//! (CKK_DES), two-key (CKK_DES2) and three-key (CKK_DES3) keys in ECB, CBC and CBC_PAD, on
//! AWS-LC's EVP ciphers through the AES engine's ECB/CBC code with an 8-byte block. They are
//! here for keys made by SoftHSMv2 and other tokens of the same age, and for the clients and
//! test suites that still make DES keys; single DES (a 56-bit key) is broken by exhaustive
//! search, and a store's `mechanisms` setting can leave it out ("-CKM_DES_KEY_GEN,-CKM_DES_ECB,...").

use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::CipherCtx;
use crate::error::{Error, Result};
use crate::object::Object;
use cryptoki_sys::*;

/// The Triple DES modes a registry entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Des3Mode {
    Ecb,
    Cbc,
    CbcPad,
}

/// The key types the DES3 mechanisms take.
pub const KEY_TYPES: &[CK_KEY_TYPE] = &[CKK_DES2, CKK_DES3];
/// The key type the (single) DES mechanisms take.
pub const DES_KEY_TYPES: &[CK_KEY_TYPE] = &[CKK_DES];

pub fn register(r: &mut Registry) {
    for (ty, mode, params, key_types, (min, max)) in [
        (CKM_DES3_ECB, Des3Mode::Ecb, ParamShape::None, KEY_TYPES, (16, 24)),
        (CKM_DES3_CBC, Des3Mode::Cbc, ParamShape::Iv8, KEY_TYPES, (16, 24)),
        (CKM_DES3_CBC_PAD, Des3Mode::CbcPad, ParamShape::Iv8, KEY_TYPES, (16, 24)),
        (CKM_DES_ECB, Des3Mode::Ecb, ParamShape::None, DES_KEY_TYPES, (8, 8)),
        (CKM_DES_CBC, Des3Mode::Cbc, ParamShape::Iv8, DES_KEY_TYPES, (8, 8)),
        (CKM_DES_CBC_PAD, Des3Mode::CbcPad, ParamShape::Iv8, DES_KEY_TYPES, (8, 8)),
    ] {
        r.add(Entry {
            ty,
            info: info(min, max, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP),
            params,
            key_types,
            implementation: Implementation::Des3(mode),
        });
    }
}

/// Builds the cipher for `mode` with the caller's parameters and the key object `obj`.
pub fn cipher(mode: Des3Mode, m: &Mechanism, obj: &Object, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let key = obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
    let ctx = match (mode, &m.params) {
        (Des3Mode::Ecb, Params::None) => CipherCtx::des3(false, key, &[], encrypt, false)?,
        (Des3Mode::Cbc, Params::Iv(iv)) => CipherCtx::des3(true, key, iv, encrypt, false)?,
        (Des3Mode::CbcPad, Params::Iv(iv)) => CipherCtx::des3(true, key, iv, encrypt, true)?,
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(super::aes::block_engine(ctx, 8, encrypt, mode == Des3Mode::CbcPad))
}

/// Gives the value of a new key of `key_type` odd parity if it is a DES key (single, double
/// or triple length), as their generation and derivation sections say; other keys are left
/// as they are.
pub fn set_parity_for(key_type: CK_KEY_TYPE, key: &mut [u8]) {
    if matches!(key_type, CKK_DES | CKK_DES2 | CKK_DES3) {
        set_odd_parity(key);
    }
}

/// Sets each byte's low bit so that the byte has odd parity, as DES keys have (FIPS 46-3).
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        *b = (*b & 0xfe) | u8::from((*b & 0xfe).count_ones() % 2 == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_is_odd_and_keeps_the_high_bits() {
        let mut k: Vec<u8> = (0u8..=255).collect();
        set_odd_parity(&mut k);
        for (i, b) in k.iter().enumerate() {
            assert_eq!(b.count_ones() % 2, 1, "byte {i:#x} became {b:#x}");
            assert_eq!(b & 0xfe, i as u8 & 0xfe);
        }
    }
}
