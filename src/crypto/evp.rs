//! A thin, audited layer over AWS-LC's EVP, HMAC and CMAC interfaces (aws-lc-sys) for what
//! aws-lc-rs does not expose: AES in ECB/CBC/CTR with caller-controlled padding, CMAC, HMAC
//! and digests over every SHA-2/SHA-3 hash.
//!
//! Each context owns its C object exclusively and frees it on drop. Every unsafe block
//! states why the call is sound; lengths are checked before they reach C.

use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ffi::c_int;
use std::ptr::{NonNull, null, null_mut};
use zeroize::Zeroizing;

fn check(ok: c_int, what: &str) -> Result<()> {
    if ok == 1 { Ok(()) } else { Err(Error::Internal(format!("AWS-LC {what} failed"))) }
}

fn c_len(n: usize) -> Result<c_int> {
    c_int::try_from(n).map_err(|_| Error::DataLenRange)
}

/// AES modes of operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ecb,
    Cbc,
    Ctr,
    /// The stream modes of SP 800-38A: output feedback, and cipher feedback of 1, 8 and
    /// 128 bits.
    Ofb,
    Cfb1,
    Cfb8,
    Cfb128,
}

fn aes(mode: Mode, key_len: usize) -> Result<*const sys::EVP_CIPHER> {
    // SAFETY: these functions return pointers to static, immutable cipher descriptions.
    let c = unsafe {
        match (mode, key_len) {
            (Mode::Ecb, 16) => sys::EVP_aes_128_ecb(),
            (Mode::Ecb, 24) => sys::EVP_aes_192_ecb(),
            (Mode::Ecb, 32) => sys::EVP_aes_256_ecb(),
            (Mode::Cbc, 16) => sys::EVP_aes_128_cbc(),
            (Mode::Cbc, 24) => sys::EVP_aes_192_cbc(),
            (Mode::Cbc, 32) => sys::EVP_aes_256_cbc(),
            (Mode::Ctr, 16) => sys::EVP_aes_128_ctr(),
            (Mode::Ctr, 24) => sys::EVP_aes_192_ctr(),
            (Mode::Ctr, 32) => sys::EVP_aes_256_ctr(),
            (Mode::Ofb, 16) => sys::EVP_aes_128_ofb(),
            (Mode::Ofb, 24) => sys::EVP_aes_192_ofb(),
            (Mode::Ofb, 32) => sys::EVP_aes_256_ofb(),
            (Mode::Cfb1, 16) => sys::EVP_aes_128_cfb1(),
            (Mode::Cfb1, 24) => sys::EVP_aes_192_cfb1(),
            (Mode::Cfb1, 32) => sys::EVP_aes_256_cfb1(),
            (Mode::Cfb8, 16) => sys::EVP_aes_128_cfb8(),
            (Mode::Cfb8, 24) => sys::EVP_aes_192_cfb8(),
            (Mode::Cfb8, 32) => sys::EVP_aes_256_cfb8(),
            (Mode::Cfb128, 16) => sys::EVP_aes_128_cfb128(),
            (Mode::Cfb128, 24) => sys::EVP_aes_192_cfb128(),
            (Mode::Cfb128, 32) => sys::EVP_aes_256_cfb128(),
            _ => return Err(Error::KeySizeRange),
        }
    };
    Ok(c)
}

/// Single (8-byte), two-key (16-byte) or three-key (24-byte) DES, in ECB or CBC.
fn des3(cbc: bool, key_len: usize) -> Result<*const sys::EVP_CIPHER> {
    // SAFETY: these functions return pointers to static, immutable cipher descriptions.
    let c = unsafe {
        match (cbc, key_len) {
            (false, 8) => sys::EVP_des_ecb(),
            (true, 8) => sys::EVP_des_cbc(),
            (false, 16) => sys::EVP_des_ede(),
            (false, 24) => sys::EVP_des_ede3_ecb(),
            (true, 16) => sys::EVP_des_ede_cbc(),
            (true, 24) => sys::EVP_des_ede3_cbc(),
            _ => return Err(Error::KeySizeRange),
        }
    };
    Ok(c)
}

/// One AES block encrypted under `key` (16, 24 or 32 bytes), without a cipher context: the
/// key schedule lives on the stack and is cleansed before returning.
pub fn aes_encrypt_block(key: &[u8], block: &[u8; 16]) -> Result<[u8; 16]> {
    let bits = match key.len() {
        16 | 24 | 32 => (key.len() * 8) as std::ffi::c_uint,
        _ => return Err(Error::KeySizeRange),
    };
    let mut schedule = std::mem::MaybeUninit::<sys::AES_KEY>::uninit();
    // SAFETY: `key` holds `bits` / 8 bytes; the schedule is written before it is read.
    if unsafe { sys::AES_set_encrypt_key(key.as_ptr(), bits, schedule.as_mut_ptr()) } != 0 {
        return Err(Error::KeySizeRange);
    }
    let mut out = [0u8; 16];
    // SAFETY: the schedule was set above; input and output are 16-byte blocks; the schedule's
    // bytes are cleansed (it is derived from the key) before the storage goes out of scope.
    unsafe {
        sys::AES_encrypt(block.as_ptr(), out.as_mut_ptr(), schedule.as_ptr());
        sys::OPENSSL_cleanse(schedule.as_mut_ptr().cast(), size_of::<sys::AES_KEY>());
    }
    Ok(out)
}

/// A block cipher context (AES, or Triple DES).
pub struct CipherCtx {
    ctx: NonNull<sys::EVP_CIPHER_CTX>,
}

// SAFETY: the context is owned exclusively by this value and AWS-LC keeps no thread affinity.
unsafe impl Send for CipherCtx {}

impl Drop for CipherCtx {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from EVP_CIPHER_CTX_new and is freed once; freeing cleanses keys.
        unsafe { sys::EVP_CIPHER_CTX_free(self.ctx.as_ptr()) }
    }
}

impl CipherCtx {
    fn alloc() -> Result<CipherCtx> {
        // SAFETY: allocation with no preconditions; NULL is handled.
        let p = unsafe { sys::EVP_CIPHER_CTX_new() };
        NonNull::new(p).map(|ctx| CipherCtx { ctx }).ok_or(Error::HostMemory)
    }

    fn init(&mut self, cipher: *const sys::EVP_CIPHER, key: *const u8, iv: *const u8, encrypt: bool) -> Result<()> {
        // SAFETY: `ctx` is live; `cipher` is NULL or static; key and iv are NULL or point to
        // buffers of the lengths the cipher (and any IV-length ctrl set before) expects.
        check(
            unsafe { sys::EVP_CipherInit_ex(self.ctx.as_ptr(), cipher, null_mut(), key, iv, encrypt as c_int) },
            "cipher init",
        )
    }

    /// ECB, CBC, CTR, OFB or CFB. `iv` is empty for ECB and 16 bytes otherwise; `padding`
    /// is PKCS#7.
    pub fn block(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool, padding: bool) -> Result<CipherCtx> {
        let want_iv = if mode == Mode::Ecb { 0 } else { 16 };
        if iv.len() != want_iv {
            return Err(Error::MechanismParamInvalid);
        }
        CipherCtx::keyed(aes(mode, key.len())?, key, iv, encrypt, padding)
    }

    /// A context of `cipher` keyed with `key` and `iv` (empty for none); `padding` is PKCS#7.
    fn keyed(cipher: *const sys::EVP_CIPHER, key: &[u8], iv: &[u8], encrypt: bool, padding: bool) -> Result<CipherCtx> {
        let mut c = CipherCtx::alloc()?;
        c.init(cipher, key.as_ptr(), if iv.is_empty() { null() } else { iv.as_ptr() }, encrypt)?;
        // SAFETY: `ctx` is live.
        check(unsafe { sys::EVP_CIPHER_CTX_set_padding(c.ctx.as_ptr(), padding as c_int) }, "set padding")?;
        Ok(c)
    }

    /// DES or Triple DES, ECB or CBC, with a single (8-byte), two-key (16-byte) or three-key
    /// (24-byte) key. `iv` is
    /// empty for ECB and 8 bytes for CBC; `padding` is PKCS#7.
    pub fn des3(cbc: bool, key: &[u8], iv: &[u8], encrypt: bool, padding: bool) -> Result<CipherCtx> {
        if iv.len() != if cbc { 8 } else { 0 } {
            return Err(Error::MechanismParamInvalid);
        }
        CipherCtx::keyed(des3(cbc, key.len())?, key, iv, encrypt, padding)
    }

    /// AES-GCM encryption as a stream (EVP_CIPHER): `update` gives the ciphertext of each
    /// part at once, [`CipherCtx::gcm_tag`] the tag at the end. `iv` is 1 byte or more.
    pub(super) fn gcm_encrypt(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<CipherCtx> {
        // SAFETY: these return pointers to static, immutable cipher descriptions.
        let cipher = unsafe {
            match key.len() {
                16 => sys::EVP_aes_128_gcm(),
                24 => sys::EVP_aes_192_gcm(),
                32 => sys::EVP_aes_256_gcm(),
                _ => return Err(Error::KeySizeRange),
            }
        };
        if iv.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        let mut c = CipherCtx::alloc()?;
        c.init(cipher, null(), null(), true)?;
        // SAFETY: `ctx` is live with a GCM cipher; the IV length is a plain integer.
        let set = unsafe {
            sys::EVP_CIPHER_CTX_ctrl(c.ctx.as_ptr(), sys::EVP_CTRL_AEAD_SET_IVLEN, c_len(iv.len())?, null_mut())
        };
        check(set, "GCM IV length")?;
        c.init(null(), key.as_ptr(), iv.as_ptr(), true)?;
        if !aad.is_empty() {
            // SAFETY: a NULL output makes the update take `aad` as additional data.
            unsafe { c.update_raw(aad, null_mut()) }?;
        }
        Ok(c)
    }

    /// More additional data for a [`CipherCtx::gcm_encrypt`] stream that has had no
    /// plaintext yet (GMAC's data).
    pub(super) fn gcm_aad(&mut self, aad: &[u8]) -> Result<()> {
        if aad.is_empty() {
            return Ok(());
        }
        // SAFETY: a NULL output makes the update take `aad` as additional data.
        unsafe { self.update_raw(aad, null_mut()) }.map(|_| ())
    }

    /// Ends a [`CipherCtx::gcm_encrypt`] stream: its 16-byte tag.
    pub(super) fn gcm_tag(&mut self) -> Result<[u8; 16]> {
        let mut n: c_int = 0;
        let mut rest = [0u8; 16];
        // SAFETY: GCM writes nothing at the end (a stream mode); one block of room is given.
        check(unsafe { sys::EVP_CipherFinal_ex(self.ctx.as_ptr(), rest.as_mut_ptr(), &mut n) }, "GCM final")?;
        let mut tag = [0u8; 16];
        // SAFETY: the tag buffer is 16 bytes, the length asked.
        let got = unsafe {
            sys::EVP_CIPHER_CTX_ctrl(self.ctx.as_ptr(), sys::EVP_CTRL_AEAD_GET_TAG, 16, tag.as_mut_ptr().cast())
        };
        check(got, "GCM tag")?;
        Ok(tag)
    }

    /// Processes `input`, appending what it produces to `out`.
    /// Empty input is passed on too: CCM computes its tag only once data was processed.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.reserve(input.len() + 16);
        let room = &mut out.spare_capacity_mut()[..input.len() + 16];
        // SAFETY: `room` is input.len() + one block of writable (uninitialised) bytes, the
        // most EVP writes; EVP only writes to it.
        let n = unsafe { self.update_raw(input, room.as_mut_ptr().cast()) }?;
        // SAFETY: EVP initialised the first `n` bytes after `start`.
        unsafe { out.set_len(start + n) };
        Ok(())
    }

    /// # Safety
    /// `out` is writable for as many bytes as the cipher writes for `input`.
    unsafe fn update_raw(&mut self, input: &[u8], out: *mut u8) -> Result<usize> {
        // EVP takes an `int` length: longer input goes in parts of whole blocks, which every
        // mode here processes as one (GCM's data and additional data too; CCM is made of an
        // ECB and a CTR context). Unit tests take parts of 4 KiB, to reach this with little
        // data.
        const PART: usize = if cfg!(test) { 4096 } else { 1 << 30 };
        if input.len() > PART {
            let mut total = 0;
            for part in input.chunks(PART) {
                // A NULL output (additional data) stays NULL; otherwise each part's output
                // follows the last's, inside the room the caller's contract gives.
                let at = if out.is_null() { out } else { out.wrapping_add(total) };
                // SAFETY: as for the whole input: the parts' outputs add up to what the whole
                // would write, from `out` on.
                total += unsafe { self.update_raw(part, at) }?;
            }
            return Ok(total);
        }
        let mut n: c_int = 0;
        // SAFETY: the caller's contract for `out`; `input` is valid for its length.
        let ok = unsafe { sys::EVP_CipherUpdate(self.ctx.as_ptr(), out, &mut n, input.as_ptr(), c_len(input.len())?) };
        if ok != 1 {
            return Err(Error::EncryptedDataInvalid);
        }
        Ok(n as usize)
    }

    /// Finishes; a bad padding or a failed tag check is `EncryptedDataInvalid`.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + 16, 0);
        let mut n: c_int = 0;
        // SAFETY: at most one block is written at the end of `out`.
        let ok = unsafe { sys::EVP_CipherFinal_ex(self.ctx.as_ptr(), out[start..].as_mut_ptr(), &mut n) };
        if ok != 1 {
            out.truncate(start);
            return Err(Error::EncryptedDataInvalid);
        }
        out.truncate(start + n as usize);
        Ok(())
    }
}

/// Hash functions, by their EVP descriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Hash {
    Sha1 = 1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    /// MD5 (RFC 1321): for SoftHSMv2's CKM_MD5, CKM_MD5_HMAC and CKM_MD5_RSA_PKCS only, never
    /// a parameter's hash.
    Md5,
}

impl Hash {
    pub(crate) fn md(self) -> *const sys::EVP_MD {
        // SAFETY: these return pointers to static, immutable digest descriptions.
        unsafe {
            match self {
                Hash::Sha1 => sys::EVP_sha1(),
                Hash::Sha224 => sys::EVP_sha224(),
                Hash::Sha256 => sys::EVP_sha256(),
                Hash::Sha384 => sys::EVP_sha384(),
                Hash::Sha512 => sys::EVP_sha512(),
                Hash::Sha512_224 => sys::EVP_sha512_224(),
                Hash::Sha512_256 => sys::EVP_sha512_256(),
                Hash::Sha3_224 => sys::EVP_sha3_224(),
                Hash::Sha3_256 => sys::EVP_sha3_256(),
                Hash::Sha3_384 => sys::EVP_sha3_384(),
                Hash::Sha3_512 => sys::EVP_sha3_512(),
                Hash::Md5 => sys::EVP_md5(),
            }
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        // SAFETY: `md()` is a valid static EVP_MD.
        unsafe { sys::EVP_MD_size(self.md()) }
    }
}

/// PBKDF2 (RFC 8018 §5.2) with HMAC over `hash`: fills `out` from `password`, `salt` and
/// `iterations` (at least 1).
pub fn pbkdf2(hash: Hash, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) -> Result<()> {
    if iterations == 0 || out.is_empty() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: every buffer is valid for the length passed with it; `hash.md()` is a static
    // EVP_MD; AWS-LC writes exactly `out.len()` bytes.
    let ok = unsafe {
        sys::PKCS5_PBKDF2_HMAC(
            password.as_ptr().cast(),
            password.len(),
            salt.as_ptr(),
            salt.len(),
            iterations,
            hash.md(),
            out.len(),
            out.as_mut_ptr(),
        )
    };
    check(ok, "PKCS5_PBKDF2_HMAC")
}

/// The PKCS #12 key derivation (RFC 7292 appendix B.2, the PKCS #11 section "PKCS #12
/// password-based encryption/authentication mechanisms") over SHA-1: fills `out` with the
/// pseudo-random bits of diversifier `id` (1: a key, 2: an IV, 3: a MAC key) from `password`
/// and `salt` (as given: the caller chooses the password's encoding) and `iterations` (at
/// least 1).
pub fn pkcs12_kdf(password: &[u8], salt: &[u8], id: u8, iterations: u32, out: &mut [u8]) -> Result<()> {
    // SHA-1's output (u) and block (v) in bytes.
    const U: usize = 20;
    const V: usize = 64;
    if iterations == 0 {
        return Err(Error::MechanismParamInvalid);
    }
    // S and P: copies of the salt and of the password filling whole blocks (none if empty).
    let fill = |s: &[u8]| -> Vec<u8> { (0..s.len().div_ceil(V) * V).map(|i| s[i % s.len()]).collect() };
    let mut i_blocks = zeroize::Zeroizing::new([fill(salt), fill(password)].concat());
    let d = [id; V];
    let mut chunks = out.chunks_mut(U).peekable();
    while let Some(chunk) = chunks.next() {
        let mut ctx = DigestCtx::new(Hash::Sha1)?;
        ctx.update(&d);
        ctx.update(&i_blocks);
        let mut a = zeroize::Zeroizing::new(ctx.finish());
        for _ in 1..iterations {
            let mut ctx = DigestCtx::new(Hash::Sha1)?;
            ctx.update(&a);
            *a = ctx.finish();
        }
        chunk.copy_from_slice(&a[..chunk.len()]);
        if chunks.peek().is_none() {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^v for each v-bit block, B being copies of A.
        let b: zeroize::Zeroizing<Vec<u8>> = zeroize::Zeroizing::new((0..V).map(|i| a[i % U]).collect());
        for block in i_blocks.chunks_mut(V) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().zip(b.iter()).rev() {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    Ok(())
}

/// An EVP_MD_CTX running a digest: what [`DigestCtx`] and [`Shake`] share.
struct MdCtx(NonNull<sys::EVP_MD_CTX>);

// SAFETY: exclusively owned C object without thread affinity.
unsafe impl Send for MdCtx {}

impl Drop for MdCtx {
    fn drop(&mut self) {
        // SAFETY: allocated by EVP_MD_CTX_new, freed once (freeing cleanses the state).
        unsafe { sys::EVP_MD_CTX_free(self.0.as_ptr()) }
    }
}

impl MdCtx {
    fn new(md: *const sys::EVP_MD, what: &str) -> Result<MdCtx> {
        // SAFETY: allocation with no preconditions; NULL is handled.
        let ctx = MdCtx(NonNull::new(unsafe { sys::EVP_MD_CTX_new() }).ok_or(Error::HostMemory)?);
        // SAFETY: live context and a static EVP_MD.
        check(unsafe { sys::EVP_DigestInit_ex(ctx.0.as_ptr(), md, null_mut()) }, what)?;
        Ok(ctx)
    }

    fn update(&mut self, data: &[u8]) {
        // SAFETY: `data` is valid for its length. Updates cannot fail on an initialised context.
        unsafe { sys::EVP_DigestUpdate(self.0.as_ptr(), data.as_ptr().cast(), data.len()) };
    }
}

/// A running digest.
pub struct DigestCtx {
    ctx: MdCtx,
    hash: Hash,
}

impl DigestCtx {
    pub fn new(hash: Hash) -> Result<DigestCtx> {
        Ok(DigestCtx { ctx: MdCtx::new(hash.md(), "digest init")?, hash })
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = vec![0u8; self.hash.output_len()];
        let mut n: std::ffi::c_uint = 0;
        // SAFETY: `out` has the digest's size.
        unsafe { sys::EVP_DigestFinal_ex(self.ctx.0.as_ptr(), out.as_mut_ptr(), &mut n) };
        out.truncate(n as usize);
        out
    }
}

/// A running SHAKE128 or SHAKE256 (FIPS 202): ML-DSA's message representative (SHAKE256,
/// 64 bytes) and HashML-DSA's SHAKE pre-hashes.
pub struct Shake(MdCtx);

impl Shake {
    /// SHAKE256 when `wide`, else SHAKE128.
    pub fn new(wide: bool) -> Result<Shake> {
        // SAFETY: returns pointers to static, immutable digest descriptions.
        let md = unsafe { if wide { sys::EVP_shake256() } else { sys::EVP_shake128() } };
        Ok(Shake(MdCtx::new(md, "SHAKE init")?))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The first `out.len()` bytes of the output.
    pub fn finish_into(self, out: &mut [u8]) -> Result<()> {
        // SAFETY: `out` is valid for the length asked for.
        check(unsafe { sys::EVP_DigestFinalXOF(self.0.0.as_ptr(), out.as_mut_ptr(), out.len()) }, "SHAKE final")
    }

    /// The first 64 bytes of the output.
    pub fn finish_64(self) -> Result<[u8; 64]> {
        let mut out = [0u8; 64];
        self.finish_into(&mut out)?;
        Ok(out)
    }
}

/// SHAKE128 or SHAKE256 (FIPS 202) of `data`, as many bytes as `out` holds.
pub fn shake(wide: bool, data: &[u8], out: &mut [u8]) -> Result<()> {
    let mut s = Shake::new(wide)?;
    s.update(data);
    s.finish_into(out)
}

/// A running HMAC over any hash.
pub struct HmacCtx {
    ctx: NonNull<sys::HMAC_CTX>,
    len: usize,
}

// SAFETY: exclusively owned C object without thread affinity.
unsafe impl Send for HmacCtx {}

impl Drop for HmacCtx {
    fn drop(&mut self) {
        // SAFETY: allocated by HMAC_CTX_new, freed once; freeing cleanses the key.
        unsafe { sys::HMAC_CTX_free(self.ctx.as_ptr()) }
    }
}

impl HmacCtx {
    pub fn new(hash: Hash, key: &[u8]) -> Result<HmacCtx> {
        // SAFETY: allocation with no preconditions; NULL is handled.
        let ctx = NonNull::new(unsafe { sys::HMAC_CTX_new() }).ok_or(Error::HostMemory)?;
        let h = HmacCtx { ctx, len: hash.output_len() };
        check(
            // SAFETY: `key` is valid for its length; static EVP_MD.
            unsafe { sys::HMAC_Init_ex(h.ctx.as_ptr(), key.as_ptr().cast(), key.len(), hash.md(), null_mut()) },
            "HMAC init",
        )?;
        Ok(h)
    }

    pub fn output_len(&self) -> usize {
        self.len
    }

    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: `data` is valid for its length.
        unsafe { sys::HMAC_Update(self.ctx.as_ptr(), data.as_ptr(), data.len()) };
    }

    /// The MAC; the context is not to be used again.
    pub fn finish(&mut self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; self.len]);
        let mut n: std::ffi::c_uint = 0;
        // SAFETY: `out` has the hash's output size.
        unsafe { sys::HMAC_Final(self.ctx.as_ptr(), out.as_mut_ptr(), &mut n) };
        out.truncate(n as usize);
        out
    }
}

/// A running CMAC (AES or Triple DES).
pub struct CmacCtx {
    ctx: NonNull<sys::CMAC_CTX>,
}

// SAFETY: exclusively owned C object without thread affinity.
unsafe impl Send for CmacCtx {}

impl Drop for CmacCtx {
    fn drop(&mut self) {
        // SAFETY: allocated by CMAC_CTX_new, freed once.
        unsafe { sys::CMAC_CTX_free(self.ctx.as_ptr()) }
    }
}

impl CmacCtx {
    /// AES-CMAC with a 16-, 24- or 32-byte key.
    pub fn new(key: &[u8]) -> Result<CmacCtx> {
        CmacCtx::with_cipher(key, aes(Mode::Cbc, key.len())?)
    }

    /// Triple DES CMAC (an 8-byte MAC) with a two-key or three-key key.
    pub fn des3(key: &[u8]) -> Result<CmacCtx> {
        CmacCtx::with_cipher(key, des3(true, key.len())?)
    }

    fn with_cipher(key: &[u8], cipher: *const sys::EVP_CIPHER) -> Result<CmacCtx> {
        // SAFETY: allocation with no preconditions; NULL is handled.
        let ctx = NonNull::new(unsafe { sys::CMAC_CTX_new() }).ok_or(Error::HostMemory)?;
        let c = CmacCtx { ctx };
        check(
            // SAFETY: `key` is valid for its length, which matches `cipher`.
            unsafe { sys::CMAC_Init(c.ctx.as_ptr(), key.as_ptr().cast(), key.len(), cipher, null_mut()) },
            "CMAC init",
        )?;
        Ok(c)
    }

    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: `data` is valid for its length.
        unsafe { sys::CMAC_Update(self.ctx.as_ptr(), data.as_ptr(), data.len()) };
    }

    pub fn finish(self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; 16]);
        let mut n: usize = 0;
        // SAFETY: a CMAC is one cipher block: 16 bytes (AES) or 8 (Triple DES).
        unsafe { sys::CMAC_Final(self.ctx.as_ptr(), out.as_mut_ptr(), &mut n) };
        out.truncate(n);
        out
    }
}

/// An expanded AES encryption or decryption key, cleared when dropped.
struct AesKey(sys::AES_KEY);

impl AesKey {
    fn new(kek: &[u8], encrypt: bool) -> Result<AesKey> {
        if !matches!(kek.len(), 16 | 24 | 32) {
            return Err(Error::KeySizeRange);
        }
        // SAFETY: AES_KEY is plain data; all-zero is a valid (unset) value.
        let mut k = AesKey(unsafe { std::mem::zeroed() });
        let bits = (kek.len() * 8) as std::ffi::c_uint;
        // SAFETY: `kek` holds bits/8 bytes; `k.0` is a valid AES_KEY to fill.
        let r = unsafe {
            if encrypt {
                sys::AES_set_encrypt_key(kek.as_ptr(), bits, &mut k.0)
            } else {
                sys::AES_set_decrypt_key(kek.as_ptr(), bits, &mut k.0)
            }
        };
        if r == 0 { Ok(k) } else { Err(Error::KeySizeRange) }
    }
}

impl Drop for AesKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.rd_key.zeroize();
    }
}

/// RFC 3394 AES key wrap. `data` is a multiple of 8 bytes, at least 16; `iv` defaults to
/// A6A6A6A6A6A6A6A6.
pub fn kw_wrap(kek: &[u8], iv: Option<&[u8; 8]>, data: &[u8]) -> Result<Vec<u8>> {
    if data.len() < 16 || !data.len().is_multiple_of(8) {
        return Err(Error::DataLenRange);
    }
    let k = AesKey::new(kek, true)?;
    let mut out = vec![0u8; data.len() + 8];
    let ivp = iv.map_or(null(), |v| v.as_ptr());
    // SAFETY: `out` has room for in_len + 8 bytes; `ivp` is NULL or 8 bytes.
    let n = unsafe { sys::AES_wrap_key(&k.0, ivp, out.as_mut_ptr(), data.as_ptr(), data.len()) };
    if n < 0 {
        return Err(Error::Internal("AES key wrap".into()));
    }
    out.truncate(n as usize);
    Ok(out)
}

/// RFC 3394 AES key unwrap; a failed integrity check is `EncryptedDataInvalid`.
pub fn kw_unwrap(kek: &[u8], iv: Option<&[u8; 8]>, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() < 24 || !data.len().is_multiple_of(8) {
        return Err(Error::EncryptedDataLenRange);
    }
    let k = AesKey::new(kek, false)?;
    let mut out = Zeroizing::new(vec![0u8; data.len() - 8]);
    let ivp = iv.map_or(null(), |v| v.as_ptr());
    // SAFETY: `out` has room for in_len - 8 bytes; `ivp` is NULL or 8 bytes.
    let n = unsafe { sys::AES_unwrap_key(&k.0, ivp, out.as_mut_ptr(), data.as_ptr(), data.len()) };
    if n < 0 {
        return Err(Error::EncryptedDataInvalid);
    }
    out.truncate(n as usize);
    Ok(out)
}

/// RFC 5649 AES key wrap with padding (any length from 1 byte).
pub fn kwp_wrap(kek: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    if data.is_empty() {
        return Err(Error::DataLenRange);
    }
    let k = AesKey::new(kek, true)?;
    let mut out = vec![0u8; data.len() + 15];
    let mut n = 0usize;
    // SAFETY: `out` has room for the padded length plus 8 (at most in_len + 15).
    let ok = unsafe { sys::AES_wrap_key_padded(&k.0, out.as_mut_ptr(), &mut n, out.len(), data.as_ptr(), data.len()) };
    check(ok, "AES key wrap with padding")?;
    out.truncate(n);
    Ok(out)
}

/// RFC 5649 AES key unwrap with padding.
pub fn kwp_unwrap(kek: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() < 16 || !data.len().is_multiple_of(8) {
        return Err(Error::EncryptedDataLenRange);
    }
    let k = AesKey::new(kek, false)?;
    let mut out = Zeroizing::new(vec![0u8; data.len()]);
    let mut n = 0usize;
    // SAFETY: `out` has room for in_len bytes, more than any unwrapped result.
    let ok =
        unsafe { sys::AES_unwrap_key_padded(&k.0, out.as_mut_ptr(), &mut n, out.len(), data.as_ptr(), data.len()) };
    if ok != 1 {
        return Err(Error::EncryptedDataInvalid);
    }
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hex::encode as hex;

    #[test]
    fn sp800_38a_cbc_first_block() {
        // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, block 1.
        let key = [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c];
        let iv: Vec<u8> = (0u8..16).collect();
        let pt = [0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a];
        let mut c = CipherCtx::block(Mode::Cbc, &key, &iv, true, false).unwrap();
        let mut out = Vec::new();
        c.update(&pt, &mut out).unwrap();
        c.finish(&mut out).unwrap();
        assert_eq!(hex(&out), "7649abac8119b246cee98e9b12e9197d");
    }

    /// Input longer than a part (4 KiB in unit tests, 1 GiB otherwise) is processed as
    /// parts give it: the same output as the same data in small updates, in every mode.
    #[test]
    fn long_input_goes_in_parts() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 255) as u8).collect();
        let (key, iv) = ([0x42u8; 32], [0x24u8; 16]);
        for mode in [Mode::Ecb, Mode::Cbc, Mode::Ctr, Mode::Ofb, Mode::Cfb1, Mode::Cfb8, Mode::Cfb128] {
            for (encrypt, padding) in [(true, false), (false, false), (true, true)] {
                if padding && !matches!(mode, Mode::Ecb | Mode::Cbc) {
                    continue;
                }
                let iv = if mode == Mode::Ecb { &[][..] } else { &iv[..] };
                let run = |step: usize| {
                    let mut c = CipherCtx::block(mode, &key, iv, encrypt, padding).unwrap();
                    let mut out = Vec::new();
                    for part in data.chunks(step) {
                        c.update(part, &mut out).unwrap();
                    }
                    c.finish(&mut out).unwrap();
                    out
                };
                let whole = run(data.len());
                assert_eq!(whole.len(), if padding { 10_000 + 16 } else { 10_000 });
                assert_eq!(whole, run(1000), "{mode:?} encrypt {encrypt} padding {padding}");
                // Into the caller's buffer (the direct path of a single-part call).
                if !padding {
                    let mut c = CipherCtx::block(mode, &key, iv, encrypt, false).unwrap();
                    let mut out = vec![0u8; data.len() + 16];
                    // SAFETY: `out` has room for the input and a block.
                    let n = unsafe { c.update_raw(&data, out.as_mut_ptr()) }.unwrap();
                    assert_eq!(out[..n], whole[..n], "{mode:?} encrypt {encrypt} into a buffer");
                }
            }
        }
    }

    #[test]
    fn digests_and_macs() {
        let mut d = DigestCtx::new(Hash::Sha512_224).unwrap();
        d.update(b"abc");
        assert_eq!(hex(&d.finish()), "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa");
        let mut d = DigestCtx::new(Hash::Sha3_224).unwrap();
        d.update(b"abc");
        assert_eq!(hex(&d.finish()), "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf");
        // RFC 4231 test case 2.
        let mut h = HmacCtx::new(Hash::Sha256, b"Jefe").unwrap();
        h.update(b"what do ya want for nothing?");
        assert_eq!(hex(&h.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // RFC 4493 example 1 (empty message).
        let key = [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c];
        assert_eq!(hex(&CmacCtx::new(&key).unwrap().finish()), "bb1d6929e95937287fa37d129b756746");
    }
}
