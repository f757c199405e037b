//! ChaCha20-Poly1305 (PKCS#11 3.0 and later: CKM_CHACHA20_POLY1305, with
//! CK_SALSA20_CHACHA20_POLY1305_PARAMS) on CKK_CHACHA20 keys, on AWS-LC's EVP_AEAD. The
//! nonce's length picks the variant: 64 bits (Bernstein's original nonce, the RFC 8439
//! construction with the block counter's high word zero), 96 bits (RFC 8439) or 192 bits
//! (XChaCha20-Poly1305). Tags are 16 bytes, appended to the ciphertext. The message-based
//! functions (mechanism::message) take it too, with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS.
//!
//! The ChaCha20 stream cipher on its own (the "ChaCha20" section: CKM_CHACHA20 with
//! CK_CHACHA20_PARAMS), single- and multi-part: a 96-bit nonce with a 32-bit block counter
//! (RFC 8439), a 64-bit nonce with a 64-bit counter (the original), or XChaCha20's 192-bit
//! nonce (HChaCha20's subkey, then the original with the nonce's last 8 bytes).

use super::aes::AeadKeyRef;
use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, Params, Registry, info};
use crate::crypto::chacha::{BLOCK_LEN, ChaCha20, KEY_LEN};
use crate::crypto::gcm::{AeadAlg, AeadKey};
use crate::error::{Error, Result};
use crate::object::Object;
use cryptoki_sys::*;
use zeroize::Zeroize;

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
    // The section gives CKM_CHACHA20's key sizes in bits.
    let key_bits = key_len * 8;
    r.add(Entry {
        ty: CKM_CHACHA20,
        info: info(key_bits, key_bits, CKF_ENCRYPT | CKF_DECRYPT),
        params: super::ParamShape::ChaCha20,
        key_types: &[CKK_CHACHA20],
        implementation: Implementation::ChaCha20,
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

/// CKM_CHACHA20 for the caller's CK_CHACHA20_PARAMS and the key object `obj`.
pub fn stream(m: &Mechanism, obj: &Object, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let Params::ChaCha20 { counter, counter_bits, nonce } = &m.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let key: &[u8; KEY_LEN] = obj.bytes(CKA_VALUE).and_then(|v| v.try_into().ok()).ok_or(Error::KeyTypeInconsistent)?;
    let cipher = ChaCha20::new(key, nonce).ok_or(Error::MechanismParamInvalid)?;
    // The IETF variant's counter is one 32-bit word: a 64-bit counter does not fit it.
    let width = if cipher.wide_counter() { 64 } else { 32 };
    if *counter_bits > width {
        return Err(Error::MechanismParamInvalid);
    }
    let limit = ((1u128 << width) - u128::from(*counter)) * BLOCK_LEN as u128;
    Ok(Box::new(Stream { cipher, start: *counter, done: 0, limit, encrypt }))
}

/// A ChaCha20 encryption or decryption under way: `done` bytes from block `start` on; the
/// counter may not run past its width, `limit` bytes from the start.
struct Stream {
    cipher: ChaCha20,
    start: u64,
    done: u128,
    limit: u128,
    encrypt: bool,
}

impl Stream {
    /// XORs `data` with the keystream from where the last part ended (within a block too).
    fn xor(&mut self, data: &mut [u8]) {
        let block = self.start.wrapping_add((self.done / BLOCK_LEN as u128) as u64);
        let offset = (self.done % BLOCK_LEN as u128) as usize;
        self.done += data.len() as u128;
        if offset == 0 {
            return self.cipher.apply(block, data);
        }
        let (head, tail) = data.split_at_mut(data.len().min(BLOCK_LEN - offset));
        let mut keystream = [0u8; BLOCK_LEN];
        self.cipher.apply(block, &mut keystream);
        head.iter_mut().zip(&keystream[offset..]).for_each(|(d, k)| *d ^= k);
        keystream.zeroize();
        self.cipher.apply(block.wrapping_add(1), tail);
    }
}

impl Cipher for Stream {
    fn check_len(&self, n: usize) -> Result<()> {
        if self.done + n as u128 > self.limit { Err(super::aes::len_error(self.encrypt)) } else { Ok(()) }
    }

    fn check_update(&self, n: usize) -> Result<()> {
        self.check_len(n)
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.check_len(input.len())?;
        let mut out = input.to_vec();
        self.xor(&mut out);
        Ok(out)
    }

    fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        let Some(out) = out.get_mut(..input.len()) else { return Ok(None) };
        self.check_len(input.len())?;
        out.copy_from_slice(input);
        self.xor(out);
        Ok(Some(input.len()))
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        0
    }
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
