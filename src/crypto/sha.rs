//! SHA-1, SHA-2 and MD5 on AWS-LC's low-level contexts, whose state is plain data: this is what
//! lets C_GetOperationState save a running digest or HMAC (the EVP interface cannot export
//! its state). HMAC (RFC 2104) is built on these contexts for the same reason.

use super::evp::Hash;
use crate::error::{Error, Result};
use crate::secret::Bytes;
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use zeroize::{Zeroize, Zeroizing};

/// A running SHA-1/SHA-2 (or MD5) computation.
#[derive(Clone)]
pub enum Sha {
    Md5(sys::MD5_CTX),
    Sha1(sys::SHA_CTX),
    Sha224(sys::SHA256_CTX),
    Sha256(sys::SHA256_CTX),
    Sha384(sys::SHA512_CTX),
    Sha512(sys::SHA512_CTX),
    Sha512_224(sys::SHA512_CTX),
    Sha512_256(sys::SHA512_CTX),
}

/// The raw bytes of a plain-data context.
fn raw<T>(ctx: &mut T) -> &mut [u8] {
    // SAFETY: T is one of AWS-LC's SHA contexts: repr(C) structs of integers and byte arrays,
    // so every byte is initialised and may be read or written.
    unsafe { std::slice::from_raw_parts_mut((ctx as *mut T).cast::<u8>(), size_of::<T>()) }
}

macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            Sha::Md5($c) => $body,
            Sha::Sha1($c) => $body,
            Sha::Sha224($c) | Sha::Sha256($c) => $body,
            Sha::Sha384($c) | Sha::Sha512($c) | Sha::Sha512_224($c) | Sha::Sha512_256($c) => $body,
        }
    };
}

impl Sha {
    /// A new computation, or `None` for hashes without a low-level context (SHA-3).
    pub fn new(hash: Hash) -> Option<Sha> {
        // SAFETY: zeroed contexts are valid to initialise; each Init only writes its context.
        unsafe {
            Some(match hash {
                Hash::Md5 => {
                    let mut c = std::mem::zeroed();
                    sys::MD5_Init(&mut c);
                    Sha::Md5(c)
                }
                Hash::Sha1 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA1_Init(&mut c);
                    Sha::Sha1(c)
                }
                Hash::Sha224 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA224_Init(&mut c);
                    Sha::Sha224(c)
                }
                Hash::Sha256 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA256_Init(&mut c);
                    Sha::Sha256(c)
                }
                Hash::Sha384 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA384_Init(&mut c);
                    Sha::Sha384(c)
                }
                Hash::Sha512 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA512_Init(&mut c);
                    Sha::Sha512(c)
                }
                Hash::Sha512_224 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA512_224_Init(&mut c);
                    Sha::Sha512_224(c)
                }
                Hash::Sha512_256 => {
                    let mut c = std::mem::zeroed();
                    sys::SHA512_256_Init(&mut c);
                    Sha::Sha512_256(c)
                }
                _ => return None,
            })
        }
    }

    pub fn hash(&self) -> Hash {
        match self {
            Sha::Md5(_) => Hash::Md5,
            Sha::Sha1(_) => Hash::Sha1,
            Sha::Sha224(_) => Hash::Sha224,
            Sha::Sha256(_) => Hash::Sha256,
            Sha::Sha384(_) => Hash::Sha384,
            Sha::Sha512(_) => Hash::Sha512,
            Sha::Sha512_224(_) => Hash::Sha512_224,
            Sha::Sha512_256(_) => Hash::Sha512_256,
        }
    }

    fn block_len(&self) -> usize {
        match self {
            Sha::Md5(_) | Sha::Sha1(_) | Sha::Sha224(_) | Sha::Sha256(_) => 64,
            _ => 128,
        }
    }

    pub fn update(&mut self, d: &[u8]) {
        let (p, n) = (d.as_ptr().cast(), d.len());
        // SAFETY: `d` is valid for `n` bytes; each context is initialised.
        unsafe {
            match self {
                Sha::Md5(c) => sys::MD5_Update(c, p, n),
                Sha::Sha1(c) => sys::SHA1_Update(c, p, n),
                Sha::Sha224(c) => sys::SHA224_Update(c, p, n),
                Sha::Sha256(c) => sys::SHA256_Update(c, p, n),
                Sha::Sha384(c) => sys::SHA384_Update(c, p, n),
                Sha::Sha512(c) => sys::SHA512_Update(c, p, n),
                Sha::Sha512_224(c) => sys::SHA512_224_Update(c, p, n),
                Sha::Sha512_256(c) => sys::SHA512_256_Update(c, p, n),
            };
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        let mut out = [0u8; 64];
        let n = self.finish_into(&mut out);
        out[..n].to_vec()
    }

    /// Finishes into `out`, returning the digest length. The context is spent: only
    /// dropping it is left (finishing in place spares a copy of the context).
    fn finish_into(&mut self, out: &mut [u8; 64]) -> usize {
        let o = out.as_mut_ptr();
        // SAFETY: `out` has room for the largest digest (64 bytes).
        unsafe {
            match self {
                Sha::Md5(c) => sys::MD5_Final(o, c),
                Sha::Sha1(c) => sys::SHA1_Final(o, c),
                Sha::Sha224(c) => sys::SHA224_Final(o, c),
                Sha::Sha256(c) => sys::SHA256_Final(o, c),
                Sha::Sha384(c) => sys::SHA384_Final(o, c),
                Sha::Sha512(c) => sys::SHA512_Final(o, c),
                Sha::Sha512_224(c) => sys::SHA512_224_Final(o, c),
                Sha::Sha512_256(c) => sys::SHA512_256_Final(o, c),
            };
        }
        self.hash().output_len()
    }

    /// The state as bytes: a tag and the raw context.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut copy = self.clone();
        let tag = self.hash() as u8;
        let mut out = Zeroizing::new(vec![tag]);
        each!(&mut copy, c => out.extend_from_slice(raw(c)));
        out
    }

    /// Restores what [`Sha::to_bytes`] made. Only states this process sealed reach here.
    pub fn from_bytes(b: &[u8]) -> Result<Sha> {
        let bad = || Error::SavedStateInvalid;
        let (&tag, rest) = b.split_first().ok_or_else(bad)?;
        let hash = [
            Hash::Sha1,
            Hash::Sha224,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
            Hash::Sha512_224,
            Hash::Sha512_256,
            Hash::Md5,
        ]
        .into_iter()
        .find(|h| *h as u8 == tag)
        .ok_or_else(bad)?;
        let mut s = Sha::new(hash).ok_or_else(bad)?;
        each!(&mut s, c => {
            let dst = raw(c);
            if dst.len() != rest.len() {
                return Err(bad());
            }
            dst.copy_from_slice(rest);
        });
        Ok(s)
    }
}

impl Drop for Sha {
    fn drop(&mut self) {
        each!(self, c => raw(c).zeroize());
    }
}

/// HMAC (RFC 2104) over a low-level SHA context: inner and outer hashes as plain state.
#[derive(Clone)]
pub struct ShaHmac {
    inner: Sha,
    outer: Sha,
}

impl ShaHmac {
    /// `None` for hashes without a low-level context.
    pub fn new(hash: Hash, key: &[u8]) -> Option<ShaHmac> {
        let mut inner = Sha::new(hash)?;
        let mut outer = Sha::new(hash)?;
        let block = inner.block_len();
        let mut k = Zeroizing::new(if key.len() > block {
            let mut h = Sha::new(hash)?;
            h.update(key);
            h.finish()
        } else {
            key.to_vec()
        });
        k.resize(block, 0);
        let ipad: Zeroizing<Vec<u8>> = Zeroizing::new(k.iter().map(|b| b ^ 0x36).collect());
        let opad: Zeroizing<Vec<u8>> = Zeroizing::new(k.iter().map(|b| b ^ 0x5c).collect());
        inner.update(&ipad);
        outer.update(&opad);
        Some(ShaHmac { inner, outer })
    }

    pub fn output_len(&self) -> usize {
        self.inner.hash().output_len()
    }

    pub fn update(&mut self, d: &[u8]) {
        self.inner.update(d);
    }

    /// The MAC. Finishes in place (no copy of the two contexts): the HMAC is spent, only
    /// dropping it is left.
    pub fn finish(&mut self) -> Bytes {
        let mut out = vec![0u8; self.output_len()];
        self.finish_into(&mut out);
        Bytes::new(out)
    }

    /// As [`ShaHmac::finish`], into `out`: its first `out.len()` bytes (a truncated MAC)
    /// or the whole MAC; returns how many were written.
    pub fn finish_into(&mut self, out: &mut [u8]) -> usize {
        let mut buf = Zeroizing::new([0u8; 64]);
        let n = self.inner.finish_into(&mut buf);
        self.outer.update(&buf[..n]);
        let n = self.outer.finish_into(&mut buf).min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        n
    }

    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let i = self.inner.to_bytes();
        let mut out = Zeroizing::new((i.len() as u32).to_le_bytes().to_vec());
        out.extend_from_slice(&i);
        out.extend_from_slice(&self.outer.to_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<ShaHmac> {
        let n = u32::from_le_bytes(b.get(..4).ok_or(Error::SavedStateInvalid)?.try_into().expect("4")) as usize;
        let inner = Sha::from_bytes(b.get(4..4 + n).ok_or(Error::SavedStateInvalid)?)?;
        let outer = Sha::from_bytes(&b[4 + n..])?;
        Ok(ShaHmac { inner, outer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hex::encode as hex;

    #[test]
    fn state_survives_a_round_trip() {
        let mut s = Sha::new(Hash::Sha256).unwrap();
        s.update(b"a");
        let saved = s.to_bytes();
        drop(s);
        let mut r = Sha::from_bytes(&saved).unwrap();
        r.update(b"bc");
        assert_eq!(hex(&r.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(Sha::from_bytes(&saved[..10]).is_err());
        assert!(Sha::new(Hash::Sha3_256).is_none());
    }

    #[test]
    fn hmac_matches_rfc4231() {
        let mut h = ShaHmac::new(Hash::Sha256, b"Jefe").unwrap();
        h.update(b"what do ya ");
        let mut h = ShaHmac::from_bytes(&h.to_bytes()).unwrap();
        h.update(b"want for nothing?");
        assert_eq!(hex(&h.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // A key longer than the block is hashed first (RFC 4231 case 6).
        let key = [0xaau8; 131];
        let mut h = ShaHmac::new(Hash::Sha512, &key).unwrap();
        h.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert!(hex(&h.finish()).starts_with("80b24263c7c1a3ebb71493c1dd7be8b4"));
    }
}
