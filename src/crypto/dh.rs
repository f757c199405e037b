//! PKCS #3 Diffie-Hellman on AWS-LC (aws-lc-sys): keys on the caller's prime and base, the
//! shared secret padded to the prime's length, and SubjectPublicKeyInfo (dhKeyAgreement).

use super::bn::{Bn, bn_bytes};
use super::rsa::PKey;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ptr::NonNull;
use zeroize::Zeroizing;

/// The sizes of the prime a key may have, in bits.
pub const MIN_PRIME_BITS: usize = 1024;
pub const MAX_PRIME_BITS: usize = 8192;

/// A Diffie-Hellman key: prime, base, the public value and, for a private key, the private
/// value.
pub struct DhKey(NonNull<sys::DH>);

// SAFETY: the DH object is owned and only read after construction; AWS-LC computes with a
// const DH (its Montgomery cache is built under its own lock).
unsafe impl Send for DhKey {}
// SAFETY: as above.
unsafe impl Sync for DhKey {}

impl Drop for DhKey {
    fn drop(&mut self) {
        // SAFETY: owned, freed once; freeing clears the private value.
        unsafe { sys::DH_free(self.0.as_ptr()) }
    }
}

impl DhKey {
    /// A key on a prime of 1024 to 8192 bits, odd, and a base with 1 < g < p.
    fn on_domain(p: &[u8], g: &[u8]) -> Result<DhKey> {
        let (p, g) = (Bn::from_bytes(p)?, Bn::from_bytes(g)?);
        // SAFETY: live BIGNUMs.
        let fits = unsafe {
            let bits = sys::BN_num_bits(p.ptr()) as usize;
            (MIN_PRIME_BITS..=MAX_PRIME_BITS).contains(&bits)
                && sys::BN_is_odd(p.ptr()) == 1
                && sys::BN_cmp(g.ptr(), sys::BN_value_one()) > 0
                && sys::BN_cmp(g.ptr(), p.ptr()) < 0
        };
        if !fits {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: allocation; NULL handled.
        let k = DhKey(NonNull::new(unsafe { sys::DH_new() }).ok_or(Error::HostMemory)?);
        // SAFETY: live DH; set0 takes ownership of p and g on success (no q).
        if unsafe { sys::DH_set0_pqg(k.0.as_ptr(), p.0.as_ptr(), std::ptr::null_mut(), g.0.as_ptr()) } != 1 {
            return Err(Error::HostMemory);
        }
        std::mem::forget((p, g));
        Ok(k)
    }

    /// A fresh key pair on `p` and `g`, with a private value of exactly `bits` bits when
    /// given (CKA_VALUE_BITS; PKCS #3's 2^(l-1) <= x < 2^l), else as AWS-LC chooses
    /// (CKR_DOMAIN_PARAMS_INVALID for parameters of the wrong shape).
    pub fn generate(p: &[u8], g: &[u8], bits: Option<usize>) -> Result<DhKey> {
        // AWS-LC draws x below 2^l: half the draws have l bits; 64 in a row that do not
        // happen with probability 2^-64.
        for _ in 0..64 {
            let k = DhKey::on_domain(p, g).map_err(|e| match e {
                Error::AttributeValueInvalid => Error::DomainParamsInvalid,
                e => e,
            })?;
            if let Some(bits) = bits {
                if bits < 160 || bits >= k.prime_bits() {
                    return Err(Error::TemplateInconsistent);
                }
                // SAFETY: live DH.
                unsafe { sys::DH_set_length(k.0.as_ptr(), bits as u32) };
            }
            // SAFETY: live DH with its parameters.
            if unsafe { sys::DH_generate_key(k.0.as_ptr()) } != 1 {
                return Err(Error::DomainParamsInvalid);
            }
            if bits.is_none() || k.private_bits() == bits {
                return Ok(k);
            }
        }
        Err(Error::Internal("DH private value of the requested length".into()))
    }

    /// Fresh PKCS #3 parameters: a safe prime of `bits` bits and the base 2 (slow: a 2048-bit
    /// safe prime takes seconds to minutes). (p, g).
    pub fn generate_parameters(bits: usize) -> Result<(Vec<u8>, Vec<u8>)> {
        if !(MIN_PRIME_BITS..=MAX_PRIME_BITS).contains(&bits) {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: allocation; NULL handled.
        let k = DhKey(NonNull::new(unsafe { sys::DH_new() }).ok_or(Error::HostMemory)?);
        // SAFETY: live DH; no callback.
        if unsafe { sys::DH_generate_parameters_ex(k.0.as_ptr(), bits as std::ffi::c_int, 2, std::ptr::null_mut()) }
            != 1
        {
            return Err(Error::Internal("DH parameter generation".into()));
        }
        let [p, _, g] = k.pqg();
        let bytes = |b| bn_bytes(b).map(|v| v.to_vec()).unwrap_or_default();
        Ok((bytes(p), bytes(g)))
    }

    /// Checks domain parameters as keys on them are checked (`on_domain`).
    pub fn check_domain(p: &[u8], g: &[u8]) -> Result<()> {
        DhKey::on_domain(p, g).map(drop)
    }

    /// A public key: 1 < y < p - 1.
    pub fn from_public(p: &[u8], g: &[u8], y: &[u8]) -> Result<DhKey> {
        let k = DhKey::on_domain(p, g)?;
        let y = Bn::from_bytes(y)?;
        if !k.public_in_range(&y)? {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: live DH; set0 takes ownership of y on success.
        if unsafe { sys::DH_set0_key(k.0.as_ptr(), y.0.as_ptr(), std::ptr::null_mut()) } != 1 {
            return Err(Error::HostMemory);
        }
        std::mem::forget(y);
        Ok(k)
    }

    /// A private key from x (0 < x < p - 1); its public value g^x mod p is computed.
    pub fn from_private(p: &[u8], g: &[u8], x: &[u8]) -> Result<DhKey> {
        let k = DhKey::on_domain(p, g)?;
        let x = Bn::from_bytes(x)?;
        let [p, _, g] = k.pqg();
        let y = Bn::from_bytes(&[])?;
        // SAFETY: live BIGNUMs and a fresh context, freed below; x is secret: constant time.
        let okay = unsafe {
            let ctx = sys::BN_CTX_new();
            let okay = !ctx.is_null()
                && sys::BN_is_zero(x.ptr()) == 0
                && sys::BN_num_bits(x.ptr()) < sys::BN_num_bits(p)
                && sys::BN_mod_exp_mont_consttime(y.0.as_ptr(), g, x.ptr(), p, ctx, std::ptr::null()) == 1;
            sys::BN_CTX_free(ctx);
            okay
        };
        if !okay {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: live DH; set0 takes ownership of both on success.
        if unsafe { sys::DH_set0_key(k.0.as_ptr(), y.0.as_ptr(), x.0.as_ptr()) } != 1 {
            return Err(Error::HostMemory);
        }
        std::mem::forget((y, x));
        Ok(k)
    }

    fn pqg(&self) -> [*const sys::BIGNUM; 3] {
        let [mut p, mut q, mut g] = [std::ptr::null(); 3];
        // SAFETY: live DH; the getter writes borrowed pointers (q stays NULL).
        unsafe { sys::DH_get0_pqg(self.0.as_ptr(), &mut p, &mut q, &mut g) };
        [p, q, g]
    }

    /// 1 < y < p - 1 (SP 800-56A's range check of a peer's public value).
    fn public_in_range(&self, y: &Bn) -> Result<bool> {
        let [p, ..] = self.pqg();
        let p_minus_1 = Bn::from_bytes(&[])?;
        // SAFETY: live BIGNUMs.
        Ok(unsafe {
            sys::BN_sub(p_minus_1.0.as_ptr(), p, sys::BN_value_one()) == 1
                && sys::BN_cmp(y.ptr(), sys::BN_value_one()) > 0
                && sys::BN_cmp(y.ptr(), p_minus_1.ptr()) < 0
        })
    }

    /// The prime and the base, big-endian.
    pub fn domain(&self) -> (Vec<u8>, Vec<u8>) {
        let [p, _, g] = self.pqg();
        let v = |b| bn_bytes(b).map(|v| v.to_vec()).unwrap_or_default();
        (v(p), v(g))
    }

    /// The prime's length in bits.
    pub fn prime_bits(&self) -> usize {
        let [p, ..] = self.pqg();
        // SAFETY: a live BIGNUM.
        unsafe { sys::BN_num_bits(p) as usize }
    }

    /// The private value's length in bits (CKA_VALUE_BITS); `None` for a public key.
    pub fn private_bits(&self) -> Option<usize> {
        // SAFETY: a live DH; the getter returns a borrowed pointer or NULL.
        let x = unsafe { sys::DH_get0_priv_key(self.0.as_ptr()) };
        // SAFETY: a live BIGNUM.
        (!x.is_null()).then(|| unsafe { sys::BN_num_bits(x) as usize })
    }

    /// The public value y, big-endian.
    pub fn public_value(&self) -> Vec<u8> {
        // SAFETY: a live DH; the getter returns a borrowed pointer.
        bn_bytes(unsafe { sys::DH_get0_pub_key(self.0.as_ptr()) }).map(|v| v.to_vec()).unwrap_or_default()
    }

    /// The private value x, big-endian; `None` for a public key.
    pub fn private_value(&self) -> Option<Zeroizing<Vec<u8>>> {
        // SAFETY: a live DH; the getter returns a borrowed pointer or NULL.
        bn_bytes(unsafe { sys::DH_get0_priv_key(self.0.as_ptr()) })
    }

    /// The shared secret with a peer's public value, padded to the prime's length (PKCS #3);
    /// a peer value out of range is CKR_MECHANISM_PARAM_INVALID.
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let y = Bn::from_bytes(peer)?;
        if peer.is_empty() || !self.public_in_range(&y)? {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: a live DH.
        let n = unsafe { sys::DH_size(self.0.as_ptr()) } as usize;
        let mut out = Zeroizing::new(vec![0u8; n]);
        // SAFETY: `out` holds DH_size bytes; live key and peer value.
        let r = unsafe { sys::DH_compute_key_padded(out.as_mut_ptr(), y.ptr(), self.0.as_ptr()) };
        if r < 0 || r as usize != n {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(out)
    }

    /// SubjectPublicKeyInfo DER (dhKeyAgreement with the prime and base).
    pub fn spki(&self) -> Result<Vec<u8>> {
        // SAFETY: set1 takes its own reference to the live DH.
        PKey::holding(|pk| unsafe { sys::EVP_PKEY_set1_DH(pk, self.0.as_ptr()) })?.spki()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_and_checks() {
        // RFC 3526's 2048-bit MODP group, base 2.
        let p = modp2048();
        let a = DhKey::generate(&p, &[2], None).unwrap();
        let b = DhKey::generate(&p, &[2], Some(256)).unwrap();
        assert_eq!(b.private_bits(), Some(256));
        let (ya, xa) = (a.public_value(), a.private_value());
        let yb = b.public_value();
        let s1 = a.agree(&yb).unwrap();
        assert_eq!(s1.len(), 256);
        assert_eq!(s1, b.agree(&ya).unwrap());
        // A private key rebuilt from x has the same public value and agrees alike.
        let a2 = DhKey::from_private(&p, &[2], xa.as_ref().unwrap()).unwrap();
        assert_eq!(a2.public_value(), ya);
        assert_eq!(a2.agree(&yb).unwrap(), s1);
        // Peer values 0, 1, p - 1 and p are refused; so are bad domains.
        let mut pm1 = p.clone();
        *pm1.last_mut().unwrap() -= 1;
        for bad in [&[0u8][..], &[1], &pm1, &p, &[]] {
            assert!(matches!(a.agree(bad), Err(Error::MechanismParamInvalid)));
        }
        assert!(matches!(DhKey::generate(&p[..100], &[2], None), Err(Error::DomainParamsInvalid)));
        assert!(matches!(DhKey::from_public(&p, &[1], &yb), Err(Error::AttributeValueInvalid)));
        assert!(matches!(DhKey::from_public(&p, &[2], &pm1), Err(Error::AttributeValueInvalid)));
        assert!(a.spki().unwrap().starts_with(&[0x30, 0x82]));
    }

    fn modp2048() -> Vec<u8> {
        let hex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }
}
