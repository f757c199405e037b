//! RSA on AWS-LC (aws-lc-sys): key generation with any odd public exponent of up to 32 bits,
//! import from components, raw and PKCS#1 v1.5 signing over a caller's DigestInfo, PSS with
//! any salt length and MGF1 hash, PKCS#1 v1.5 and raw encryption, OAEP with any hashes and a label.

use super::bn::{Bn, bn_bytes};
use super::evp::Hash;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ffi::c_int;
use std::ptr::{NonNull, null_mut};
use zeroize::Zeroizing;

/// The smallest modulus [`RsaKey::generate`] makes, in bits: the smallest this module signs
/// and decrypts with (the RSA mechanisms' CKA_MODULUS_BITS range starts there too), and the
/// size of the zone-signing keys OpenDNSSEC's shipped policy asks of SoftHSMv2.
pub const GENERATE_MIN_BITS: usize = 1024;
/// The largest modulus [`RsaKey::generate`] makes, in bits.
pub const GENERATE_MAX_BITS: usize = 8192;
/// AWS-LC generates moduli of a multiple of 128 bits only (it rounds other sizes down).
pub const GENERATE_STEP_BITS: usize = 128;

/// AWS-LC's raw RSA calls (RSA_encrypt, RSA_decrypt, RSA_sign_raw, RSA_verify_raw).
type RawFn = unsafe extern "C" fn(*mut sys::RSA, *mut usize, *mut u8, usize, *const u8, usize, c_int) -> c_int;

/// RSA key components, big-endian; private ones absent for a public key.
#[derive(Clone, Default)]
pub struct RsaParts {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub d: Option<Zeroizing<Vec<u8>>>,
    pub p: Option<Zeroizing<Vec<u8>>>,
    pub q: Option<Zeroizing<Vec<u8>>>,
    pub dp: Option<Zeroizing<Vec<u8>>>,
    pub dq: Option<Zeroizing<Vec<u8>>>,
    pub qinv: Option<Zeroizing<Vec<u8>>>,
}

/// An RSA encryption scheme's padding, for the input-length rules.
#[derive(Clone, Copy, Debug)]
pub enum RsaPadding {
    Raw,
    Pkcs1,
    /// OAEP with this hash.
    Oaep(Hash),
}

/// An RSA key (public, or private with or without CRT parameters).
pub struct RsaKey(NonNull<sys::RSA>);

// SAFETY: the RSA object is owned; AWS-LC RSA keys are safe to use from several threads
// (their blinding and Montgomery caches are internally locked).
unsafe impl Send for RsaKey {}
// SAFETY: as above.
unsafe impl Sync for RsaKey {}

impl Drop for RsaKey {
    fn drop(&mut self) {
        // SAFETY: owned RSA, freed once; freeing clears private values.
        unsafe { sys::RSA_free(self.0.as_ptr()) }
    }
}

fn ok(r: c_int) -> bool {
    r == 1
}

impl RsaKey {
    /// Takes ownership of an RSA object.
    pub(crate) fn from_raw(p: NonNull<sys::RSA>) -> RsaKey {
        RsaKey(p)
    }

    fn wrap(p: *mut sys::RSA) -> Result<RsaKey> {
        NonNull::new(p).map(RsaKey).ok_or(Error::AttributeValueInvalid)
    }

    /// A fresh key of `bits` (a multiple of [`GENERATE_STEP_BITS`] from
    /// [`GENERATE_MIN_BITS`] to [`GENERATE_MAX_BITS`]) with the odd public exponent `e`, at
    /// least 3 and at most 32 bits (AWS-LC's limit). Another size is
    /// CKR_ATTRIBUTE_VALUE_INVALID: C_GenerateKeyPair's return values have no
    /// CKR_KEY_SIZE_RANGE, and the value of CKA_MODULUS_BITS is what cannot be made.
    /// Another exponent is CKR_TEMPLATE_INCONSISTENT, as the RSA key pair generation section
    /// says of an exponent "the implementation cannot use".
    pub fn generate(bits: usize, e: &[u8]) -> Result<RsaKey> {
        if !(GENERATE_MIN_BITS..=GENERATE_MAX_BITS).contains(&bits) || !bits.is_multiple_of(GENERATE_STEP_BITS) {
            return Err(Error::AttributeValueInvalid);
        }
        let significant = &e[e.iter().position(|b| *b != 0).unwrap_or(e.len())..];
        let odd = significant.last().is_some_and(|l| l & 1 == 1);
        if !odd || significant.len() > 4 || significant == [1] {
            return Err(Error::TemplateInconsistent);
        }
        let e = Bn::from_bytes(e)?;
        // SAFETY: allocation; NULL handled.
        let k = RsaKey::wrap(unsafe { sys::RSA_new() }).map_err(|_| Error::HostMemory)?;
        // SAFETY: live RSA and BIGNUM; no callback.
        if !ok(unsafe { sys::RSA_generate_key_ex(k.0.as_ptr(), bits as c_int, e.ptr(), null_mut()) }) {
            return Err(Error::TemplateInconsistent);
        }
        Ok(k)
    }

    /// A key from components: public with `d` absent; private with `d`, with CRT values when
    /// all five are given. The key is checked for consistency.
    pub fn from_parts(p: &RsaParts) -> Result<RsaKey> {
        let n = Bn::from_bytes(&p.n)?;
        if let (Some(d), true) = (&p.d, p.e.is_empty()) {
            return RsaKey::without_e(&n, &Bn::from_bytes(d)?, p);
        }
        let e = Bn::from_bytes(&p.e)?;
        let k = match (&p.d, &p.p, &p.q, &p.dp, &p.dq, &p.qinv) {
            (None, ..) => {
                // SAFETY: live BIGNUMs; the function copies them.
                RsaKey::wrap(unsafe { sys::RSA_new_public_key(n.ptr(), e.ptr()) })?
            }
            (Some(d), Some(pp), Some(q), Some(dp), Some(dq), Some(qi)) => {
                let (d, pp, q, dp, dq, qi) = (
                    Bn::from_bytes(d)?,
                    Bn::from_bytes(pp)?,
                    Bn::from_bytes(q)?,
                    Bn::from_bytes(dp)?,
                    Bn::from_bytes(dq)?,
                    Bn::from_bytes(qi)?,
                );
                // SAFETY: live BIGNUMs; the function copies and checks them.
                RsaKey::wrap(unsafe {
                    sys::RSA_new_private_key(n.ptr(), e.ptr(), d.ptr(), pp.ptr(), q.ptr(), dp.ptr(), dq.ptr(), qi.ptr())
                })?
            }
            (Some(d), ..) => {
                let d = Bn::from_bytes(d)?;
                // SAFETY: live BIGNUMs; the function copies and checks them.
                RsaKey::wrap(unsafe { sys::RSA_new_private_key_no_crt(n.ptr(), e.ptr(), d.ptr()) })?
            }
        };
        Ok(k)
    }

    /// A private key given without its public exponent (PKCS#11 does not require one;
    /// Java's SunPKCS11 imports an RSAPrivateKeySpec so). The usual exponents are tried
    /// against the key, and the key is made whole with the one that fits; when none does, it
    /// is kept without one (AWS-LC's RSA_new_private_key_no_e: no blinding, no fault check).
    fn without_e(n: &Bn, d: &Bn, parts: &RsaParts) -> Result<RsaKey> {
        // SAFETY: live BIGNUMs; the function copies and checks them.
        let bare = RsaKey::wrap(unsafe { sys::RSA_new_private_key_no_e(n.ptr(), d.ptr()) })?;
        let mut probe = vec![0u8; bare.size()];
        *probe.last_mut().expect("a modulus of some bytes") = 2;
        let signed = bare.raw_private(sys::RSA_sign_raw, &probe, Error::AttributeValueInvalid)?;
        for e in [65_537u32, 3, 5, 17, 257] {
            let e = e.to_be_bytes();
            let e = &e[e.iter().position(|b| *b != 0).unwrap_or(3)..];
            let Ok(public) = RsaKey::from_parts(&RsaParts { n: parts.n.clone(), e: e.to_vec(), ..Default::default() })
            else {
                continue;
            };
            if public.verify_raw(&signed, false).is_ok_and(|m| m == probe) {
                return RsaKey::from_parts(&RsaParts { e: e.to_vec(), ..parts.clone() });
            }
        }
        Ok(bare)
    }

    /// The components of this key.
    pub fn parts(&self) -> RsaParts {
        let (mut n, mut e, mut d) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
        let (mut p, mut q) = (std::ptr::null(), std::ptr::null());
        let (mut dp, mut dq, mut qi) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
        // SAFETY: the getters store pointers owned by the live key into our locals.
        unsafe {
            sys::RSA_get0_key(self.0.as_ptr(), &mut n, &mut e, &mut d);
            sys::RSA_get0_factors(self.0.as_ptr(), &mut p, &mut q);
            sys::RSA_get0_crt_params(self.0.as_ptr(), &mut dp, &mut dq, &mut qi);
        }
        RsaParts {
            n: bn_bytes(n).map(|v| v.to_vec()).unwrap_or_default(),
            e: bn_bytes(e).map(|v| v.to_vec()).unwrap_or_default(),
            d: bn_bytes(d),
            p: bn_bytes(p),
            q: bn_bytes(q),
            dp: bn_bytes(dp),
            dq: bn_bytes(dq),
            qinv: bn_bytes(qi),
        }
    }

    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: live key.
        unsafe { sys::RSA_size(self.0.as_ptr()) as usize }
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        // SAFETY: live key.
        unsafe { sys::RSA_bits(self.0.as_ptr()) as usize }
    }

    fn raw_op(&self, f: RawFn, input: &[u8], padding: c_int, err: Error) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut n = 0usize;
        // SAFETY: `out` holds RSA_size bytes, the most any of these functions writes.
        let r =
            unsafe { f(self.0.as_ptr(), &mut n, out.as_mut_ptr(), out.len(), input.as_ptr(), input.len(), padding) };
        if !ok(r) {
            return Err(err);
        }
        out.truncate(n);
        Ok(out)
    }

    /// Raw RSA's private-key operation on `block` (exactly the modulus length). AWS-LC
    /// refuses the inputs 0, 1 and n-1, whose results are themselves (d is odd): those are
    /// answered here, as the mathematics and other tokens answer them.
    fn raw_private(&self, f: RawFn, block: &[u8], err: Error) -> Result<Vec<u8>> {
        let (last, rest) = block.split_last().ok_or(Error::DataLenRange)?;
        let small = *last <= 1 && rest.iter().all(|b| *b == 0);
        // n is odd: n - 1 is even and differs from n in the last byte only (the modulus is
        // only read for an even block).
        let n_minus_one = !small && last & 1 == 0 && {
            // SAFETY: the getter returns a pointer owned by the live key.
            let n = bn_bytes(unsafe { sys::RSA_get0_n(self.0.as_ptr()) }).unwrap_or_default();
            n.len() == block.len() && n[..rest.len()] == *rest && n.last() == Some(&(last | 1))
        };
        if small || n_minus_one {
            return Ok(block.to_vec());
        }
        self.raw_op(f, block, sys::RSA_NO_PADDING, err)
    }

    /// Private-key operation with PKCS#1 v1.5 type 1 padding (`pkcs1`) or none.
    pub fn sign_raw(&self, input: &[u8], pkcs1: bool) -> Result<Vec<u8>> {
        if pkcs1 && input.len() + 11 > self.size() || !pkcs1 && input.len() > self.size() {
            return Err(Error::DataLenRange);
        }
        if pkcs1 {
            return self.raw_op(sys::RSA_sign_raw, input, sys::RSA_PKCS1_PADDING, Error::DataLenRange);
        }
        // Raw RSA takes the input as a big-endian integer: a shorter one is zero-extended
        // (CKM_RSA_X_509 signs input of at most k bytes).
        let mut block = Zeroizing::new(vec![0u8; self.size()]);
        let at = block.len() - input.len();
        block[at..].copy_from_slice(input);
        self.raw_private(sys::RSA_sign_raw, &block, Error::DataLenRange)
    }

    /// Public-key operation undoing [`RsaKey::sign_raw`]; returns the recovered data.
    pub fn verify_raw(&self, sig: &[u8], pkcs1: bool) -> Result<Vec<u8>> {
        if sig.len() != self.size() {
            return Err(Error::SignatureLenRange);
        }
        let pad = if pkcs1 { sys::RSA_PKCS1_PADDING } else { sys::RSA_NO_PADDING };
        self.raw_op(sys::RSA_verify_raw, sig, pad, Error::SignatureInvalid)
    }

    /// RSASSA-PSS over `digest` (of `hash`), MGF1 with `mgf1`, `salt` bytes of salt.
    pub fn sign_pss(&self, digest: &[u8], hash: Hash, mgf1: Hash, salt: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut n = 0usize;
        // SAFETY: `out` holds RSA_size bytes; static EVP_MDs.
        let r = unsafe {
            sys::RSA_sign_pss_mgf1(
                self.0.as_ptr(),
                &mut n,
                out.as_mut_ptr(),
                out.len(),
                digest.as_ptr(),
                digest.len(),
                hash.md(),
                mgf1.md(),
                salt as c_int,
            )
        };
        if !ok(r) {
            return Err(Error::MechanismParamInvalid);
        }
        out.truncate(n);
        Ok(out)
    }

    /// Verifies RSASSA-PSS.
    pub fn verify_pss(&self, digest: &[u8], hash: Hash, mgf1: Hash, salt: usize, sig: &[u8]) -> Result<()> {
        if sig.len() != self.size() {
            return Err(Error::SignatureLenRange);
        }
        // SAFETY: buffers valid for their lengths; static EVP_MDs.
        let r = unsafe {
            sys::RSA_verify_pss_mgf1(
                self.0.as_ptr(),
                digest.as_ptr(),
                digest.len(),
                hash.md(),
                mgf1.md(),
                salt as c_int,
                sig.as_ptr(),
                sig.len(),
            )
        };
        if ok(r) { Ok(()) } else { Err(Error::SignatureInvalid) }
    }

    /// Whether `n` bytes suit an encryption (`encrypt`) or a decryption with `padding`: the
    /// length error the operation gives otherwise.
    pub fn check_input(&self, padding: RsaPadding, encrypt: bool, n: usize) -> Result<()> {
        let size = self.size();
        let room = match padding {
            RsaPadding::Raw => size,
            RsaPadding::Pkcs1 => size.saturating_sub(11),
            RsaPadding::Oaep(hash) => size.saturating_sub(2 * hash.output_len() + 2),
        };
        match encrypt {
            true if n > room => Err(Error::DataLenRange),
            false if n != size => Err(Error::EncryptedDataLenRange),
            _ => Ok(()),
        }
    }

    /// Encrypts with PKCS#1 v1.5 (`pkcs1`) or raw RSA.
    pub fn encrypt(&self, data: &[u8], pkcs1: bool) -> Result<Vec<u8>> {
        self.check_input(if pkcs1 { RsaPadding::Pkcs1 } else { RsaPadding::Raw }, true, data.len())?;
        let mut input = Zeroizing::new(vec![0u8; if pkcs1 { data.len() } else { self.size() }]);
        let at = input.len() - data.len();
        input[at..].copy_from_slice(data);
        let pad = if pkcs1 { sys::RSA_PKCS1_PADDING } else { sys::RSA_NO_PADDING };
        self.raw_op(sys::RSA_encrypt, &input, pad, Error::DataLenRange)
    }

    /// Decrypts PKCS#1 v1.5 (`pkcs1`) or raw RSA.
    pub fn decrypt(&self, data: &[u8], pkcs1: bool) -> Result<Zeroizing<Vec<u8>>> {
        self.check_input(RsaPadding::Raw, false, data.len())?;
        let out = if pkcs1 {
            self.raw_op(sys::RSA_decrypt, data, sys::RSA_PKCS1_PADDING, Error::EncryptedDataInvalid)
        } else {
            self.raw_private(sys::RSA_decrypt, data, Error::EncryptedDataInvalid)
        };
        out.map(Zeroizing::new)
    }

    fn pkey(&self) -> Result<PKey> {
        // SAFETY: set1 takes its own reference to the live RSA.
        PKey::holding(|pk| unsafe { sys::EVP_PKEY_set1_RSA(pk, self.0.as_ptr()) })
    }

    /// RSAES-OAEP with `hash`, MGF1 `mgf1` and `label`; `encrypt` chooses the direction.
    pub fn oaep(&self, data: &[u8], hash: Hash, mgf1: Hash, label: &[u8], encrypt: bool) -> Result<Zeroizing<Vec<u8>>> {
        self.check_input(RsaPadding::Oaep(hash), encrypt, data.len())?;
        let pk = self.pkey()?;
        // SAFETY: allocation from a live EVP_PKEY; NULL handled.
        let ctx = PKeyCtx(
            NonNull::new(unsafe { sys::EVP_PKEY_CTX_new(pk.0.as_ptr(), null_mut()) }).ok_or(Error::HostMemory)?,
        );
        let c = ctx.0.as_ptr();
        // The label is handed over: AWS-LC frees it with the context.
        // SAFETY: OPENSSL_malloc'd copy of the label, owned by the context from set0.
        let lab = unsafe { sys::OPENSSL_memdup(label.as_ptr().cast(), label.len()) }.cast::<u8>();
        // SAFETY: a live context; static EVP_MDs; `lab` is NULL or label.len() bytes.
        let set = unsafe {
            ok(if encrypt { sys::EVP_PKEY_encrypt_init(c) } else { sys::EVP_PKEY_decrypt_init(c) })
                && ok(sys::EVP_PKEY_CTX_set_rsa_padding(c, sys::RSA_PKCS1_OAEP_PADDING))
                && ok(sys::EVP_PKEY_CTX_set_rsa_oaep_md(c, hash.md()))
                && ok(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(c, mgf1.md()))
                && (label.is_empty() || ok(sys::EVP_PKEY_CTX_set0_rsa_oaep_label(c, lab, label.len())))
        };
        if label.is_empty() && !lab.is_null() {
            // SAFETY: our own allocation, not handed over.
            unsafe { sys::OPENSSL_free(lab.cast()) };
        }
        if !set {
            return Err(Error::MechanismParamInvalid);
        }
        let mut out = Zeroizing::new(vec![0u8; self.size()]);
        let mut n = out.len();
        // SAFETY: `out` holds RSA_size bytes.
        let r = unsafe {
            if encrypt {
                sys::EVP_PKEY_encrypt(c, out.as_mut_ptr(), &mut n, data.as_ptr(), data.len())
            } else {
                sys::EVP_PKEY_decrypt(c, out.as_mut_ptr(), &mut n, data.as_ptr(), data.len())
            }
        };
        if !ok(r) {
            return Err(if encrypt { Error::DataLenRange } else { Error::EncryptedDataInvalid });
        }
        out.truncate(n);
        Ok(out)
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Result<Vec<u8>> {
        self.pkey()?.spki()
    }

    /// PKCS#8 PrivateKeyInfo DER (private keys only).
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.pkey()?.pkcs8()
    }
}

/// An owned EVP_PKEY.
pub(crate) struct PKey(pub(crate) NonNull<sys::EVP_PKEY>);

impl Drop for PKey {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) }
    }
}

struct PKeyCtx(NonNull<sys::EVP_PKEY_CTX>);

impl Drop for PKeyCtx {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::EVP_PKEY_CTX_free(self.0.as_ptr()) }
    }
}

/// Serialises with a CBB-writing function.
fn marshal(f: impl FnOnce(*mut sys::CBB) -> c_int) -> Result<Zeroizing<Vec<u8>>> {
    // SAFETY: CBB is plain data; CBB_init sets it up; CBB_finish hands us a buffer we free.
    unsafe {
        let mut cbb: sys::CBB = std::mem::zeroed();
        if !ok(sys::CBB_init(&mut cbb, 256)) {
            return Err(Error::HostMemory);
        }
        if !ok(f(&mut cbb)) {
            sys::CBB_cleanup(&mut cbb);
            return Err(Error::KeyUnextractable);
        }
        let mut p: *mut u8 = null_mut();
        let mut n = 0usize;
        if !ok(sys::CBB_finish(&mut cbb, &mut p, &mut n)) {
            sys::CBB_cleanup(&mut cbb);
            return Err(Error::HostMemory);
        }
        let v = Zeroizing::new(std::slice::from_raw_parts(p, n).to_vec());
        sys::OPENSSL_cleanse(p.cast(), n);
        sys::OPENSSL_free(p.cast());
        Ok(v)
    }
}

impl PKey {
    /// A new EVP_PKEY holding a key, which `set1` (EVP_PKEY_set1_RSA ...) gives it with a
    /// reference of its own.
    pub(crate) fn holding(set1: impl FnOnce(*mut sys::EVP_PKEY) -> c_int) -> Result<PKey> {
        // SAFETY: allocation; NULL handled.
        let pk = PKey(NonNull::new(unsafe { sys::EVP_PKEY_new() }).ok_or(Error::HostMemory)?);
        if !ok(set1(pk.0.as_ptr())) {
            return Err(Error::HostMemory);
        }
        Ok(pk)
    }

    pub(crate) fn spki(&self) -> Result<Vec<u8>> {
        // SAFETY: a live key and CBB.
        marshal(|cbb| unsafe { sys::EVP_marshal_public_key(cbb, self.0.as_ptr()) }).map(|v| v.to_vec())
    }

    pub(crate) fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        // SAFETY: a live key and CBB.
        marshal(|cbb| unsafe { sys::EVP_marshal_private_key(cbb, self.0.as_ptr()) })
    }
}
