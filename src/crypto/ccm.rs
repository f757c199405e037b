//! AES-CCM (NIST SP 800-38C, RFC 3610) built from AWS-LC's AES: CBC-MAC over the formatted
//! input and CTR for the payload. AWS-LC's own EVP CCM refuses empty messages, which
//! PKCS#11 allows.

use super::evp::{CipherCtx, Mode};
use crate::error::{Error, Result};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

fn ecb(key: &[u8]) -> Result<CipherCtx> {
    CipherCtx::block(Mode::Ecb, key, &[], true, false)
}

fn encrypt_block(e: &mut CipherCtx, block: &[u8; 16]) -> Result<[u8; 16]> {
    let mut out = Vec::with_capacity(32);
    e.update(block, &mut out)?;
    out.truncate(16);
    out.try_into().map_err(|_| Error::Internal("AES block".into()))
}

/// Checks the parameters: nonce 7..=13 bytes, tag 4..=16 and even, length fits in L bytes.
fn check(nonce: &[u8], tag_len: usize, len: usize) -> Result<usize> {
    if !(7..=13).contains(&nonce.len()) || !(4..=16).contains(&tag_len) || !tag_len.is_multiple_of(2) {
        return Err(Error::MechanismParamInvalid);
    }
    let l = 15 - nonce.len();
    if l < 8 && (len as u128) >> (8 * l) != 0 {
        return Err(Error::DataLenRange);
    }
    Ok(l)
}

fn cbc_mac(e: &mut CipherCtx, nonce: &[u8], l: usize, tag_len: usize, aad: &[u8], msg: &[u8]) -> Result<[u8; 16]> {
    let mut b0 = [0u8; 16];
    b0[0] = (if aad.is_empty() { 0 } else { 0x40 }) | ((((tag_len - 2) / 2) as u8) << 3) | (l as u8 - 1);
    b0[1..1 + nonce.len()].copy_from_slice(nonce);
    let len_bytes = (msg.len() as u128).to_be_bytes();
    b0[16 - l..].copy_from_slice(&len_bytes[16 - l..]);
    let mut x = encrypt_block(e, &b0)?;
    let mut absorb = |data: &[u8], x: &mut [u8; 16]| -> Result<()> {
        for chunk in data.chunks(16) {
            for (a, b) in x.iter_mut().zip(chunk) {
                *a ^= b;
            }
            *x = encrypt_block(e, x)?;
        }
        Ok(())
    };
    if !aad.is_empty() {
        let mut a = Vec::with_capacity(aad.len() + 10);
        let n = aad.len() as u64;
        if n < (1 << 16) - (1 << 8) {
            a.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u32::MAX as u64 {
            a.extend_from_slice(&[0xff, 0xfe]);
            a.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            a.extend_from_slice(&[0xff, 0xff]);
            a.extend_from_slice(&n.to_be_bytes());
        }
        a.extend_from_slice(aad);
        absorb(&a, &mut x)?;
    }
    absorb(msg, &mut x)?;
    Ok(x)
}

/// The counter block A_i.
fn counter(nonce: &[u8], l: usize, i: u128) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = l as u8 - 1;
    a[1..1 + nonce.len()].copy_from_slice(nonce);
    a[16 - l..].copy_from_slice(&i.to_be_bytes()[16 - l..]);
    a
}

fn ctr(key: &[u8], nonce: &[u8], l: usize, data: &[u8]) -> Result<Vec<u8>> {
    let mut c = CipherCtx::block(Mode::Ctr, key, &counter(nonce, l, 1), true, false)?;
    let mut out = Vec::with_capacity(data.len() + 16);
    c.update(data, &mut out)?;
    Ok(out)
}

/// Encrypts: returns ciphertext || tag.
pub fn seal(key: &[u8], nonce: &[u8], tag_len: usize, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    let l = check(nonce, tag_len, msg.len())?;
    let mut e = ecb(key)?;
    let t = cbc_mac(&mut e, nonce, l, tag_len, aad, msg)?;
    let s0 = encrypt_block(&mut e, &counter(nonce, l, 0))?;
    let mut out = ctr(key, nonce, l, msg)?;
    out.extend(t.iter().zip(&s0).take(tag_len).map(|(a, b)| a ^ b));
    Ok(out)
}

/// Decrypts ciphertext || tag; nothing is returned unless the tag verifies.
pub fn open(key: &[u8], nonce: &[u8], tag_len: usize, aad: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() < tag_len {
        return Err(Error::EncryptedDataLenRange);
    }
    let (ct, tag) = data.split_at(data.len() - tag_len);
    let l = check(nonce, tag_len, ct.len())?;
    let mut e = ecb(key)?;
    let msg = Zeroizing::new(ctr(key, nonce, l, ct)?);
    let t = cbc_mac(&mut e, nonce, l, tag_len, aad, &msg)?;
    let s0 = encrypt_block(&mut e, &counter(nonce, l, 0))?;
    let expect: Vec<u8> = t.iter().zip(&s0).take(tag_len).map(|(a, b)| a ^ b).collect();
    if bool::from(expect.ct_eq(tag)) { Ok(msg) } else { Err(Error::EncryptedDataInvalid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3610_packet_vector_1() {
        let key: Vec<u8> = (0xc0..=0xcf).collect();
        let nonce = [0x00, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5];
        let input: Vec<u8> = (0x00..=0x1e).collect();
        let (aad, msg) = input.split_at(8);
        let out = seal(&key, &nonce, 8, aad, msg).unwrap();
        assert_eq!(crate::hex::encode(&out), "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");
        assert_eq!(&open(&key, &nonce, 8, aad, &out).unwrap()[..], msg);
        let mut bad = out.clone();
        bad[0] ^= 1;
        assert!(open(&key, &nonce, 8, aad, &bad).is_err());
    }
}
