//! ChaCha20-Poly1305 (PKCS#11 3.0 and later: CKM_CHACHA20_POLY1305, with
//! CK_SALSA20_CHACHA20_POLY1305_PARAMS) on CKK_CHACHA20 keys, on AWS-LC's EVP_AEAD. The
//! nonce's length picks the variant: 64 bits (Bernstein's original nonce, the RFC 8439
//! construction with the block counter's high word zero), 96 bits (RFC 8439) or 192 bits
//! (XChaCha20-Poly1305). Tags are 16 bytes, appended to the ciphertext. The message-based
//! functions (mechanism::message) take it too, with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS.

use super::aes::AeadKeyRef;
use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, Params, Registry, info};
use crate::crypto::gcm::{AeadAlg, AeadKey};
use crate::error::{Error, Result};
use crate::object::Object;
use cryptoki_sys::*;

/// Poly1305's tag length, in bytes.
const TAG_LEN: usize = 16;

pub fn register(r: &mut Registry) {
    let key_len = crate::object::policy::fixed_value_len(CKK_CHACHA20).unwrap_or_default() as CK_ULONG;
    r.add(Entry {
        ty: CKM_CHACHA20_POLY1305,
        info: info(key_len, key_len, CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT),
        params: super::ParamShape::ChaChaPoly,
        key_types: &[CKK_CHACHA20],
        implementation: Implementation::ChaChaPoly,
    });
}

/// The algorithm and 12 or 24-byte nonce AWS-LC takes for a PKCS#11 nonce of 8, 12 or 24
/// bytes.
fn variant(nonce: &[u8]) -> Result<(AeadAlg, Vec<u8>)> {
    Ok(match nonce.len() {
        8 => (AeadAlg::ChaCha20Poly1305, [&[0u8; 4][..], nonce].concat()),
        12 => (AeadAlg::ChaCha20Poly1305, nonce.to_vec()),
        24 => (AeadAlg::XChaCha20Poly1305, nonce.to_vec()),
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// The AWS-LC key made of `value` for the PKCS#11 `nonce`, and the nonce AWS-LC takes.
pub fn key_and_nonce(value: &[u8], nonce: &[u8]) -> Result<(AeadKey, Vec<u8>)> {
    let (alg, nonce) = variant(nonce)?;
    Ok((AeadKey::with_alg(alg, value, TAG_LEN)?, nonce))
}

/// Builds the cipher for the caller's parameters and the key object `obj`; the AAD is taken
/// out of `m`.
pub fn cipher(m: &mut Mechanism, obj: &Object, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let Params::Aead { nonce, aad } = &mut m.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let value = obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
    let (key, nonce) = key_and_nonce(value, nonce)?;
    Ok(super::aes::evp_aead(AeadKeyRef::Own(key), nonce, std::mem::take(aad), TAG_LEN, encrypt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_lengths_pick_the_variant() {
        assert_eq!(variant(&[7; 8]).unwrap(), (AeadAlg::ChaCha20Poly1305, [[0; 4], [7; 4], [7; 4]].concat()));
        assert_eq!(variant(&[7; 12]).unwrap().0, AeadAlg::ChaCha20Poly1305);
        assert_eq!(variant(&[7; 24]).unwrap().0, AeadAlg::XChaCha20Poly1305);
        for n in [0, 7, 11, 13, 16, 32] {
            assert!(matches!(variant(&vec![1; n]), Err(Error::MechanismParamInvalid)), "{n}");
        }
    }
}
