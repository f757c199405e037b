//! AES-GCM and ChaCha20-Poly1305 on AWS-LC's EVP_AEAD interface. An [`AeadKey`] holds the
//! expanded key (for AES-GCM the key schedule and GHASH table), computed once; sealing and
//! opening then only read it, so one key serves every message and every thread (AWS-LC's AEAD
//! contexts are safe to share once initialised). AES-GCM takes any nonce length from 1 byte
//! up, as PKCS#11's CK_GCM_PARAMS allows; ChaCha20-Poly1305 (RFC 8439) a 12-byte nonce and
//! XChaCha20-Poly1305 a 24-byte one.

use super::evp::CipherCtx;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ptr::NonNull;
use zeroize::Zeroizing;

/// The AEAD algorithms an [`AeadKey`] can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-GCM with a 16, 24 or 32-byte key.
    AesGcm,
    /// ChaCha20-Poly1305 (RFC 8439): a 32-byte key, a 12-byte nonce.
    ChaCha20Poly1305,
    /// XChaCha20-Poly1305: a 32-byte key, a 24-byte nonce.
    XChaCha20Poly1305,
}

/// An initialised AEAD key with a fixed tag length.
pub struct AeadKey {
    ctx: NonNull<sys::EVP_AEAD_CTX>,
    alg: AeadAlg,
    tag_len: usize,
    /// The key itself (its first `raw_len` bytes), for [`AeadKey::encryptor`]: EVP_AEAD is
    /// single-shot, a stream needs an EVP_CIPHER context made from the key.
    raw: Zeroizing<[u8; 32]>,
    raw_len: u8,
}

// SAFETY: the context is owned exclusively by this value; after EVP_AEAD_CTX_init AWS-LC only
// reads it in seal/open (they take a const pointer), so it may move between threads and be
// used from several at once.
unsafe impl Send for AeadKey {}
// SAFETY: as above: every method takes `&self` and AWS-LC's seal/open do not write the context.
unsafe impl Sync for AeadKey {}

impl AeadKey {
    /// An AES-GCM key of 16, 24 or 32 bytes producing and checking tags of `tag_len` bytes
    /// (1..=16).
    pub fn new(key: &[u8], tag_len: usize) -> Result<AeadKey> {
        AeadKey::with_alg(AeadAlg::AesGcm, key, tag_len)
    }

    /// A key of `alg` producing and checking tags of `tag_len` bytes (1..=16).
    pub fn with_alg(alg: AeadAlg, key: &[u8], tag_len: usize) -> Result<AeadKey> {
        if !(1..=16).contains(&tag_len) {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: these return pointers to static, immutable AEAD descriptions.
        let aead = unsafe {
            match (alg, key.len()) {
                (AeadAlg::AesGcm, 16) => sys::EVP_aead_aes_128_gcm(),
                (AeadAlg::AesGcm, 24) => sys::EVP_aead_aes_192_gcm(),
                (AeadAlg::AesGcm, 32) => sys::EVP_aead_aes_256_gcm(),
                (AeadAlg::ChaCha20Poly1305, 32) => sys::EVP_aead_chacha20_poly1305(),
                (AeadAlg::XChaCha20Poly1305, 32) => sys::EVP_aead_xchacha20_poly1305(),
                _ => return Err(Error::KeySizeRange),
            }
        };
        // SAFETY: `aead` is a valid description and `key` is valid for its length; AWS-LC
        // copies what it needs. A NULL return (allocation or init failure) is checked.
        let ctx = unsafe { sys::EVP_AEAD_CTX_new(aead, key.as_ptr(), key.len(), tag_len) };
        let ctx = NonNull::new(ctx).ok_or_else(|| Error::Internal("AWS-LC EVP_AEAD_CTX_new failed".into()))?;
        let mut raw = Zeroizing::new([0u8; 32]);
        raw[..key.len()].copy_from_slice(key);
        Ok(AeadKey { ctx, alg, tag_len, raw, raw_len: key.len() as u8 })
    }

    /// Whether [`AeadKey::encryptor`] can stream under this key (AES-GCM only).
    pub fn streams(&self) -> bool {
        self.alg == AeadAlg::AesGcm
    }

    /// A multi-part AES-GCM encryption under this key with `nonce` and `aad`: the ciphertext
    /// of each part as it comes, the tag at the end.
    pub fn encryptor(&self, nonce: &[u8], aad: &[u8]) -> Result<GcmEncryptor> {
        if !self.streams() {
            return Err(Error::Internal("only AES-GCM encrypts in parts".into()));
        }
        Ok(GcmEncryptor(CipherCtx::gcm_encrypt(&self.raw[..usize::from(self.raw_len)], nonce, aad)?))
    }

    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// Encrypts `input` into `out` (ciphertext then tag); `out` holds at least
    /// `input.len() + tag_len` bytes. Returns how many bytes were written.
    pub fn seal_into(&self, nonce: &[u8], aad: &[u8], input: &[u8], out: &mut [u8]) -> Result<usize> {
        if out.len() < input.len() + self.tag_len {
            return Err(Error::BufferTooSmall);
        }
        // SAFETY: `out` is writable for its length, which is passed as the maximum; `input`
        // cannot overlap it (shared and exclusive borrows); nonce and aad are valid for their
        // lengths.
        unsafe { self.seal_raw(nonce, aad, input, out.as_mut_ptr(), out.len()) }
    }

    /// Encrypts `input` into `out` (exactly as long) and its tag into `tag` (at least the
    /// key's tag length): PKCS#11 3.0's message-based encryption returns the two apart.
    pub fn seal_scatter(&self, nonce: &[u8], aad: &[u8], input: &[u8], out: &mut [u8], tag: &mut [u8]) -> Result<()> {
        if nonce.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        if out.len() != input.len() || tag.len() < self.tag_len {
            return Err(Error::BufferTooSmall);
        }
        let mut n = 0usize;
        // SAFETY: `out` is writable for input.len() bytes and `tag` for its length (passed as
        // the maximum); `input` cannot overlap `out` (shared and exclusive borrows); nonce
        // and aad are valid for their lengths; no extra input.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_seal_scatter(
                self.ctx.as_ptr(),
                out.as_mut_ptr(),
                tag.as_mut_ptr(),
                &mut n,
                tag.len(),
                nonce.as_ptr(),
                nonce.len(),
                input.as_ptr(),
                input.len(),
                std::ptr::null(),
                0,
                aad.as_ptr(),
                aad.len(),
            )
        };
        if ok != 1 || n != self.tag_len {
            return Err(Error::DataLenRange);
        }
        Ok(())
    }

    /// Encrypts `input`, returning ciphertext and tag.
    pub fn seal(&self, nonce: &[u8], aad: &[u8], input: &[u8]) -> Result<Vec<u8>> {
        let room = input.len() + self.tag_len;
        let mut out = Vec::with_capacity(room);
        // SAFETY: `out` has capacity for `room` bytes (uninitialised, only written by AWS-LC)
        // and does not overlap `input`.
        let n = unsafe { self.seal_raw(nonce, aad, input, out.as_mut_ptr(), room) }?;
        // SAFETY: AWS-LC initialised the first `n <= room` bytes.
        unsafe { out.set_len(n) };
        Ok(out)
    }

    /// # Safety
    /// `out` is writable for `max` bytes and does not overlap `input`.
    unsafe fn seal_raw(&self, nonce: &[u8], aad: &[u8], input: &[u8], out: *mut u8, max: usize) -> Result<usize> {
        if nonce.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        let mut n = 0usize;
        // SAFETY: the caller's contract for `out`; the context is initialised; the other
        // buffers are valid for the lengths passed.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_seal(
                self.ctx.as_ptr(),
                out,
                &mut n,
                max,
                nonce.as_ptr(),
                nonce.len(),
                input.as_ptr(),
                input.len(),
                aad.as_ptr(),
                aad.len(),
            )
        };
        if ok != 1 || n > max {
            return Err(Error::DataLenRange);
        }
        Ok(n)
    }

    /// Decrypts `sealed` (ciphertext then a tag of `tag_len` bytes). A wrong tag, or input
    /// shorter than a tag, is `EncryptedDataInvalid`; no plaintext is returned then.
    pub fn open(&self, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if nonce.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        if sealed.len() < self.tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        let room = sealed.len() - self.tag_len;
        let mut out = Zeroizing::new(Vec::with_capacity(room));
        let mut n = 0usize;
        // SAFETY: `out` has capacity for `room` bytes, passed as the maximum, and does not
        // overlap `sealed`; the other buffers are valid for the lengths passed. On failure
        // AWS-LC wipes what it wrote and the length stays 0.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_open(
                self.ctx.as_ptr(),
                out.as_mut_ptr(),
                &mut n,
                room,
                nonce.as_ptr(),
                nonce.len(),
                sealed.as_ptr(),
                sealed.len(),
                aad.as_ptr(),
                aad.len(),
            )
        };
        if ok != 1 || n > room {
            return Err(Error::EncryptedDataInvalid);
        }
        // SAFETY: AWS-LC initialised the first `n <= room` bytes.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

/// A multi-part AES-GCM encryption ([`AeadKey::encryptor`]).
pub struct GcmEncryptor(CipherCtx);

impl GcmEncryptor {
    /// Encrypts `input`, appending exactly as many bytes to `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.0.update(input, out)
    }

    /// More additional data, before any [`GcmEncryptor::update`] (GMAC authenticates
    /// nothing else).
    pub fn aad(&mut self, aad: &[u8]) -> Result<()> {
        self.0.gcm_aad(aad)
    }

    /// The tag, `tag_len` bytes (1..=16): a shorter GCM tag is the full tag's leading bytes
    /// (SP 800-38D §7.1).
    pub fn finish(&mut self, tag_len: usize) -> Result<Vec<u8>> {
        Ok(self.0.gcm_tag()?[..tag_len.min(16)].to_vec())
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        // SAFETY: the context came from EVP_AEAD_CTX_new and is freed once; AWS-LC's free
        // wipes the allocation (the expanded key) before releasing it.
        unsafe { sys::EVP_AEAD_CTX_free(self.ctx.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::hex::decode(s).expect("hex")
    }

    /// NIST GCM test case 4 (AES-128, 60-byte plaintext, 20-byte AAD) and case 6 (60-byte IV).
    #[test]
    fn matches_nist_vectors() {
        let key = unhex("feffe9928665731c6d6a8f9467308308");
        let pt = unhex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let k = AeadKey::new(&key, 16).unwrap();
        let iv = unhex("cafebabefacedbaddecaf888");
        let sealed = k.seal(&iv, &aad, &pt).unwrap();
        assert_eq!(
            sealed,
            unhex(
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47"
            )
        );
        assert_eq!(&k.open(&iv, &aad, &sealed).unwrap()[..], &pt[..]);
        let iv6 = unhex(
            "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
        );
        let mut out = vec![0u8; pt.len() + 16];
        assert_eq!(k.seal_into(&iv6, &aad, &pt, &mut out).unwrap(), pt.len() + 16);
        assert_eq!(
            out,
            unhex(
                "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca701e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5619cc5aefffe0bfa462af43c1699d050"
            )
        );
        let mut bad = out.clone();
        bad[3] ^= 1;
        assert!(matches!(k.open(&iv6, &aad, &bad), Err(Error::EncryptedDataInvalid)));
        assert!(k.seal(&[], &aad, &pt).is_err());
        assert!(AeadKey::new(&key[..15], 16).is_err());
        assert!(AeadKey::new(&key, 17).is_err());
    }
}
