//! The crypto backend: AWS-LC through aws-lc-rs (DESIGN §5), plus Argon2id for PIN keys
//! (AWS-LC has no memory-hard KDF; the RustCrypto `argon2` crate fills that gap).
//!
//! This is the second of the two places where `unsafe` is allowed: only for `mlock` of key
//! pages (and, later, the thin aws-lc-sys layer).

pub(crate) mod bn;
pub mod ccm;
pub mod chacha;
pub mod dh;
pub mod dsa;
pub mod ec;
pub mod evp;
pub mod gcm;
pub mod keyfile;
pub mod pqc;
pub mod rsa;
pub mod sha;

use crate::config::KdfParams;
use crate::error::{Error, Result};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::cell::RefCell;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use zeroize::{Zeroize, Zeroizing};

/// Length of a sealed blob's overhead: nonce plus tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// Whether AWS-LC runs as its FIPS 140-3 module: the `fips` build, whose power-on self
/// tests passed (AWS-LC aborts the process when one fails).
pub fn fips_mode() -> bool {
    aws_lc_rs::try_fips_mode().is_ok()
}

/// Fills `buf` from AWS-LC's DRBG.
pub fn random_fill(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Internal("DRBG failure".into()))
}

/// A process's fork generation: bumped in the child of every fork (by a `pthread_atfork`
/// handler registered on first use of [`public_random`]).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static AT_FORK: Once = Once::new();

extern "C" fn count_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Per-thread DRBG output for public values, drawn 512 bytes at a time.
struct PublicPool {
    generation: u64,
    used: usize,
    bytes: [u8; 512],
}

thread_local! {
    static PUBLIC_POOL: RefCell<PublicPool> =
        const { RefCell::new(PublicPool { generation: 0, used: 512, bytes: [0; 512] }) };
}

/// `N` random bytes for a value that is public (CKA_UNIQUE_ID): from the DRBG like any
/// other, but drawn in blocks per thread, as one DRBG call costs about as much as making a
/// small key object. Never for keys, nonces or anything secret. A forked child starts a new
/// block, so parent and child never hand out the same bytes.
pub fn public_random<const N: usize>() -> Result<[u8; N]> {
    const { assert!(N <= 512) };
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only bumps an atomic (async-signal-safe). glibc
        // ties the registration to this library and drops it if the library is unloaded.
        unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
    });
    PUBLIC_POOL.with_borrow_mut(|p| {
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        if p.generation != generation || p.used + N > p.bytes.len() {
            random_fill(&mut p.bytes)?;
            (p.generation, p.used) = (generation, 0);
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&p.bytes[p.used..p.used + N]);
        p.used += N;
        Ok(out)
    })
}

/// `n` random bytes.
pub fn random_vec(n: usize) -> Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    random_fill(&mut v)?;
    Ok(v)
}

/// SHA-256 of `parts` concatenated.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// HMAC-SHA-256 of `parts` concatenated, under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// A 256-bit key that is zeroized on drop and, where the OS allows, locked against swapping.
pub struct SecretKey256 {
    bytes: Box<[u8; 32]>,
    locked: bool,
}

impl SecretKey256 {
    /// A fresh random key.
    pub fn random() -> Result<SecretKey256> {
        let mut k = SecretKey256::zero();
        random_fill(&mut k.bytes[..])?;
        Ok(k)
    }

    /// Takes a copy of `b`, which must be 32 bytes.
    pub fn from_slice(b: &[u8]) -> Result<SecretKey256> {
        if b.len() != 32 {
            return Err(Error::Corrupt("key of wrong length".into()));
        }
        let mut k = SecretKey256::zero();
        k.bytes.copy_from_slice(b);
        Ok(k)
    }

    fn zero() -> SecretKey256 {
        let bytes = Box::new([0u8; 32]);
        let p = bytes.as_ptr();
        // SAFETY: `p` points to 32 bytes owned by `bytes`, which lives (at the same address,
        // being boxed) until `drop`, where the range is unlocked. mlock only changes paging.
        let locked = unsafe { libc::mlock(p.cast(), 32) } == 0;
        SecretKey256 { bytes, locked }
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl Drop for SecretKey256 {
    fn drop(&mut self) {
        self.bytes.zeroize();
        if self.locked {
            let p = self.bytes.as_ptr();
            // SAFETY: the same 32-byte range locked in `zero`, still owned by `self.bytes`.
            unsafe { libc::munlock(p.cast(), 32) };
        }
    }
}

/// AES-256-GCM seal: returns `nonce || ciphertext || tag`, with a random 96-bit nonce.
pub fn seal(key: &SecretKey256, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let k = gcm_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    random_fill(&mut nonce)?;
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = k
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[NONCE_LEN..])
        .map_err(|_| Error::Internal("seal failed".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens what [`seal`] made; any change to the blob or the AAD is `Error::Corrupt`.
pub fn open(key: &SecretKey256, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Error::Corrupt("sealed value too short".into()));
    }
    let k = gcm_key(key)?;
    let nonce =
        Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| Error::Corrupt("bad nonce".into()))?;
    let mut buf = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
    let n = k
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| Error::Corrupt("authentication failed".into()))?
        .len();
    buf.truncate(n);
    Ok(buf)
}

fn gcm_key(key: &SecretKey256) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key.as_bytes())
        .map(LessSafeKey::new)
        .map_err(|_| Error::Internal("AES-256-GCM key".into()))
}

/// Derives a 256-bit key-encryption key from a PIN with Argon2id.
pub fn pin_kek(pin: &[u8], salt: &[u8], p: KdfParams) -> Result<SecretKey256> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| Error::Corrupt(format!("Argon2 parameters: {e}")))?;
    let mut k = SecretKey256::zero();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin, salt, &mut k.bytes[..])
        .map_err(|e| Error::Internal(format!("Argon2: {e}")))?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_random_differs_across_draws_threads_and_fork() {
        let a: [u8; 16] = public_random().unwrap();
        let b: [u8; 16] = public_random().unwrap();
        let other: [u8; 16] = std::thread::spawn(|| public_random().unwrap()).join().unwrap();
        assert!(a != b && a != other && b != other);
        // Over a block boundary: 40 draws of 16 bytes span two blocks of 512.
        let many: std::collections::HashSet<[u8; 16]> = (0..40).map(|_| public_random().unwrap()).collect();
        assert_eq!(many.len(), 40);
        // A forked child must not hand out what the parent hands out next from its block.
        let mut fds = [0; 2];
        // SAFETY: a pipe, then fork; the child only draws, writes 16 bytes and _exits.
        let pid = unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::fork()
        };
        assert!(pid >= 0);
        if pid == 0 {
            let c: [u8; 16] = public_random().unwrap_or([0; 16]);
            // SAFETY: our own pipe end and a 16-byte buffer; the child ends here.
            unsafe {
                libc::write(fds[1], c.as_ptr().cast(), 16);
                libc::_exit(0);
            }
        }
        let parent: [u8; 16] = public_random().unwrap();
        let mut child = [0u8; 16];
        let mut status = 0;
        // SAFETY: reads up to 16 bytes into `child`, then reaps the child.
        let n = unsafe {
            libc::close(fds[1]);
            let n = libc::read(fds[0], child.as_mut_ptr().cast(), 16);
            libc::close(fds[0]);
            libc::waitpid(pid, &mut status, 0);
            n
        };
        assert_eq!(n, 16);
        assert_ne!(child, [0; 16]);
        assert_ne!(child, parent, "a forked child reused the parent's block");
    }

    #[test]
    fn seal_roundtrip_and_tamper() {
        let k = SecretKey256::random().unwrap();
        let s = seal(&k, b"aad", b"hello").unwrap();
        assert_eq!(s.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(&open(&k, b"aad", &s).unwrap()[..], b"hello");
        assert!(open(&k, b"aaX", &s).is_err());
        let mut t = s.clone();
        t[NONCE_LEN] ^= 1;
        assert!(open(&k, b"aad", &t).is_err());
        assert!(open(&k, b"aad", &s[..10]).is_err());
    }

    #[test]
    fn argon2id_known_answer() {
        // RFC 9106 §5.3 uses secret/AD; check determinism and salt sensitivity instead, and the
        // length of output, against the crate's own encoder being independent of ours.
        let p = KdfParams { memory_kib: 32, iterations: 1, parallelism: 1 };
        let a = pin_kek(b"1234", b"saltsaltsaltsalt", p).unwrap();
        let b = pin_kek(b"1234", b"saltsaltsaltsalt", p).unwrap();
        let c = pin_kek(b"1234", b"saltsaltsaltsalX", p).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
    }

    #[test]
    fn sha256_known_answer() {
        let d = sha256(&[b"a", b"bc"]);
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf], "SHA-256(\"abc\") starts ba7816bf");
    }
}
