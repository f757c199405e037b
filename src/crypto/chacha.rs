//! The ChaCha20 stream cipher and the Poly1305 MAC on their own (RFC 8439 §2.4 and §2.5),
//! on AWS-LC's CRYPTO_chacha_20, CRYPTO_hchacha20 (XChaCha20's subkey) and CRYPTO_poly1305_*.
//! ChaCha20-Poly1305 as an AEAD is [`super::gcm`]'s.

#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a ChaCha20 key (and of a Poly1305 key).
pub const KEY_LEN: usize = 32;
/// Bytes of a keystream block.
pub const BLOCK_LEN: usize = 64;
/// Bytes of a Poly1305 tag.
pub const TAG_LEN: usize = 16;

/// A ChaCha20 key with the state words after the block counter: the IETF variant (RFC 8439:
/// a 32-bit counter in word 12, a 96-bit nonce in words 13 to 15), or the original one (a
/// 64-bit counter in words 12 and 13, a 64-bit nonce in words 14 and 15), which XChaCha20
/// runs under HChaCha20's subkey.
pub struct ChaCha20 {
    key: Zeroizing<[u8; KEY_LEN]>,
    nonce: Nonce,
}

enum Nonce {
    Ietf([u8; 12]),
    Original([u8; 8]),
}

impl ChaCha20 {
    /// The cipher of `key` and `nonce`: 12 bytes (IETF), 8 (original) or 24 (XChaCha20);
    /// `None` for another nonce length.
    pub fn new(key: &[u8; KEY_LEN], nonce: &[u8]) -> Option<ChaCha20> {
        Some(match nonce.len() {
            12 => ChaCha20 { key: Zeroizing::new(*key), nonce: Nonce::Ietf(nonce.try_into().ok()?) },
            8 => ChaCha20 { key: Zeroizing::new(*key), nonce: Nonce::Original(nonce.try_into().ok()?) },
            24 => {
                let mut sub = Zeroizing::new([0u8; KEY_LEN]);
                let (head, tail) = nonce.split_at(16);
                // SAFETY: `sub` holds 32 bytes, `key` 32 and `head` 16, as the function reads
                // and writes.
                unsafe { hchacha20(sub.as_mut_ptr(), key.as_ptr(), head.as_ptr()) };
                ChaCha20 { key: sub, nonce: Nonce::Original(tail.try_into().ok()?) }
            }
            _ => return None,
        })
    }

    /// Whether the block counter is 64 bits wide (the original variant and XChaCha20).
    pub fn wide_counter(&self) -> bool {
        matches!(self.nonce, Nonce::Original(_))
    }

    /// XORs `data` with the keystream from the start of block `counter` on. The caller keeps
    /// the counter from running past its width: the IETF variant's 32 bits wrap.
    pub fn apply(&self, mut counter: u64, data: &mut [u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            let low = counter as u32;
            let words = match &self.nonce {
                Nonce::Ietf(n) => *n,
                Nonce::Original(n) => {
                    let mut w = [0u8; 12];
                    w[..4].copy_from_slice(&((counter >> 32) as u32).to_le_bytes());
                    w[4..].copy_from_slice(n);
                    w
                }
            };
            // AWS-LC counts in word 12 only: a 64-bit counter's carry into word 13 is made
            // here, at the block where word 12 wraps.
            let room = ((1u64 << 32) - u64::from(low)).saturating_mul(BLOCK_LEN as u64);
            let n = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (now, later) = rest.split_at_mut(n);
            // SAFETY: `now` is valid for `n` bytes as input and output (AWS-LC allows them to
            // be the same buffer), the key holds 32 bytes and `words` 12.
            unsafe { sys::CRYPTO_chacha_20(now.as_mut_ptr(), now.as_ptr(), n, self.key.as_ptr(), words.as_ptr(), low) };
            counter = counter.wrapping_add(n.div_ceil(BLOCK_LEN) as u64);
            rest = later;
        }
    }
}

// AWS-LC's HChaCha20 (crypto/chacha/internal.h), not in its public headers.
unsafe extern "C" {
    #[cfg_attr(not(feature = "fips"), link_name = "aws_lc_0_47_0_CRYPTO_hchacha20")]
    #[cfg_attr(feature = "fips", link_name = "aws_lc_fips_0_14_4_CRYPTO_hchacha20")]
    fn hchacha20(out: *mut u8, key: *const u8, nonce: *const u8);
}

/// A running Poly1305 MAC (RFC 8439 §2.5), its one-time key in AWS-LC's state, cleared when
/// dropped.
pub struct Poly1305 {
    // AWS-LC aligns its state inside this buffer by its address: boxed, it never moves.
    state: Box<sys::poly1305_state>,
}

impl Poly1305 {
    pub fn new(key: &[u8; KEY_LEN]) -> Poly1305 {
        let mut state = Box::new([0u8; 512]);
        // SAFETY: `state` is a live poly1305_state, `key` 32 bytes.
        unsafe { sys::CRYPTO_poly1305_init(&mut *state, key.as_ptr()) };
        Poly1305 { state }
    }

    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: the state was initialised by `new`; `data` is valid for its length.
        unsafe { sys::CRYPTO_poly1305_update(&mut *self.state, data.as_ptr(), data.len()) };
    }

    pub fn finish(mut self) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        // SAFETY: the state was initialised by `new`; `tag` holds the 16 bytes written.
        unsafe { sys::CRYPTO_poly1305_finish(&mut *self.state, tag.as_mut_ptr()) };
        tag
    }
}

impl Drop for Poly1305 {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode, encode};

    const KEY: [u8; 32] = {
        let mut k = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            k[i] = i as u8;
            i += 1;
        }
        k
    };

    #[test]
    fn ietf_matches_rfc8439() {
        // RFC 8439 §2.4.2: the "sunscreen" plaintext under key 00..1f, counter 1.
        let nonce = decode("000000000000004a00000000").unwrap();
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let mut data = plain.to_vec();
        ChaCha20::new(&KEY, &nonce).unwrap().apply(1, &mut data);
        assert!(encode(&data).starts_with("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"));
        assert!(encode(&data).ends_with("5af90bbf74a35be6b40b8eedf2785e42874d"));
    }

    #[test]
    fn a_wide_counter_carries_into_the_next_word() {
        let c = ChaCha20::new(&KEY, &[7u8; 8]).unwrap();
        assert!(c.wide_counter());
        // Two blocks from 2^32 - 1 are the block there and the block at 2^32.
        let mut two = [0u8; 128];
        c.apply(u64::from(u32::MAX), &mut two);
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        c.apply(u64::from(u32::MAX), &mut a);
        c.apply(1 << 32, &mut b);
        assert_eq!(two[..64], a);
        assert_eq!(two[64..], b);
        // Not the block at 0 (a counter that wrapped in word 12 alone).
        let mut zero = [0u8; 64];
        c.apply(0, &mut zero);
        assert_ne!(b, zero);
        assert!(ChaCha20::new(&KEY, &[0; 16]).is_none());
    }

    #[test]
    fn poly1305_matches_rfc8439() {
        // RFC 8439 §2.5.2.
        let key: [u8; 32] =
            decode("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b").unwrap().try_into().unwrap();
        let mut p = Poly1305::new(&key);
        p.update(b"Cryptographic Forum ");
        p.update(b"Research Group");
        assert_eq!(encode(&p.finish()), "a8061dc1305136c6c22b8baf0c0127a9");
    }
}
