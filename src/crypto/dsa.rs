//! DSA (FIPS 186-4) on AWS-LC (aws-lc-sys): keys on the caller's domain parameters, signing
//! a hash with r||s signatures, verification, SubjectPublicKeyInfo and PKCS#8.

use super::bn::{Bn, bn_bytes, rs_join, rs_split};
use super::rsa::PKey;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ptr::{NonNull, null_mut};
use zeroize::Zeroizing;

/// The sizes of p (L) a key may have, in bits; q (N) is 160, 224 or 256 bits.
pub const MIN_P_BITS: usize = 1024;
pub const MAX_P_BITS: usize = 3072;

/// DSA domain parameters and key values, big-endian.
#[derive(Default)]
pub struct DsaParts {
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub g: Vec<u8>,
    /// The public value g^x mod p.
    pub y: Vec<u8>,
    /// The private value (absent for a public key).
    pub x: Option<Zeroizing<Vec<u8>>>,
}

/// A DSA key: domain parameters, the public value and, for a private key, the private value.
pub struct DsaKey(NonNull<sys::DSA>);

// SAFETY: the DSA object is owned and only read after construction; AWS-LC signs and verifies
// with a const DSA (its Montgomery cache is built under its own lock).
unsafe impl Send for DsaKey {}
// SAFETY: as above.
unsafe impl Sync for DsaKey {}

impl Drop for DsaKey {
    fn drop(&mut self) {
        // SAFETY: owned, freed once; freeing clears the private value.
        unsafe { sys::DSA_free(self.0.as_ptr()) }
    }
}

fn bits(bn: &Bn) -> usize {
    // SAFETY: a live BIGNUM.
    unsafe { sys::BN_num_bits(bn.ptr()) as usize }
}

/// 0 < a < b.
fn between_zero_and(a: &Bn, b: &Bn) -> bool {
    // SAFETY: live BIGNUMs.
    unsafe { sys::BN_is_zero(a.ptr()) == 0 && sys::BN_cmp(a.ptr(), b.ptr()) < 0 }
}

impl DsaKey {
    /// A key on domain parameters checked for shape: p of 1024 to 3072 bits and odd, q of
    /// 160, 224 or 256 bits, odd and below p, 1 < g < p. (Whether q divides p - 1 and g has
    /// order q is the parameters' maker's to assure, as FIPS 186-4 leaves it.)
    fn on_domain(p: &[u8], q: &[u8], g: &[u8]) -> Result<DsaKey> {
        let (p, q, g) = (Bn::from_bytes(p)?, Bn::from_bytes(q)?, Bn::from_bytes(g)?);
        let one = Bn::from_bytes(&[1])?;
        // SAFETY: live BIGNUMs.
        let odd = unsafe { sys::BN_is_odd(p.ptr()) == 1 && sys::BN_is_odd(q.ptr()) == 1 };
        if !(MIN_P_BITS..=MAX_P_BITS).contains(&bits(&p))
            || ![160, 224, 256].contains(&bits(&q))
            || !odd
            || !between_zero_and(&q, &p)
            || !between_zero_and(&g, &p)
            || !between_zero_and(&one, &g)
        {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: allocation; NULL handled.
        let k = DsaKey(NonNull::new(unsafe { sys::DSA_new() }).ok_or(Error::HostMemory)?);
        // SAFETY: live DSA; set0 takes ownership of the three BIGNUMs on success.
        if unsafe { sys::DSA_set0_pqg(k.0.as_ptr(), p.0.as_ptr(), q.0.as_ptr(), g.0.as_ptr()) } != 1 {
            return Err(Error::HostMemory);
        }
        std::mem::forget((p, q, g));
        Ok(k)
    }

    /// Fresh domain parameters with a p of `bits` bits (FIPS 186-4 A.1.1.2 generation as
    /// AWS-LC does it: q of 160 bits for 1024-bit p, else 256): (p, q, g).
    pub fn generate_parameters(bits: usize) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        if !(MIN_P_BITS..=MAX_P_BITS).contains(&bits) {
            return Err(Error::AttributeValueInvalid);
        }
        // SAFETY: allocation; NULL handled.
        let k = DsaKey(NonNull::new(unsafe { sys::DSA_new() }).ok_or(Error::HostMemory)?);
        // SAFETY: live DSA; no seed, no callback, outputs not wanted.
        let made = unsafe {
            sys::DSA_generate_parameters_ex(
                k.0.as_ptr(),
                bits as u32,
                std::ptr::null(),
                0,
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        if made != 1 {
            return Err(Error::Internal("DSA parameter generation".into()));
        }
        let parts = k.parts();
        Ok((parts.p, parts.q, parts.g))
    }

    /// Checks domain parameters as keys on them are checked (`on_domain`).
    pub fn check_domain(p: &[u8], q: &[u8], g: &[u8]) -> Result<()> {
        DsaKey::on_domain(p, q, g).map(drop)
    }

    /// Sets the key values (`x` NULL for a public key); takes ownership of the BIGNUMs.
    fn set_key(&self, y: Bn, x: Option<Bn>) -> Result<()> {
        let xp = x.as_ref().map_or(null_mut(), |x| x.0.as_ptr());
        // SAFETY: live DSA; set0 takes ownership of the BIGNUMs on success.
        if unsafe { sys::DSA_set0_key(self.0.as_ptr(), y.0.as_ptr(), xp) } != 1 {
            return Err(Error::HostMemory);
        }
        std::mem::forget((y, x));
        Ok(())
    }

    fn get(&self) -> [*const sys::BIGNUM; 5] {
        let [mut p, mut q, mut g, mut y, mut x] = [std::ptr::null(); 5];
        // SAFETY: live DSA; the getters write borrowed pointers (or NULL).
        unsafe {
            sys::DSA_get0_pqg(self.0.as_ptr(), &mut p, &mut q, &mut g);
            sys::DSA_get0_key(self.0.as_ptr(), &mut y, &mut x);
        }
        [p, q, g, y, x]
    }

    /// A fresh key pair on the given domain parameters (CKR_DOMAIN_PARAMS_INVALID when they
    /// are not of the shape `on_domain` checks).
    pub fn generate(p: &[u8], q: &[u8], g: &[u8]) -> Result<DsaKey> {
        let k = DsaKey::on_domain(p, q, g).map_err(|e| match e {
            Error::AttributeValueInvalid => Error::DomainParamsInvalid,
            e => e,
        })?;
        // SAFETY: live DSA with its parameters.
        if unsafe { sys::DSA_generate_key(k.0.as_ptr()) } != 1 {
            return Err(Error::DomainParamsInvalid);
        }
        Ok(k)
    }

    /// A public key: 0 < y < p.
    pub fn from_public(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<DsaKey> {
        let k = DsaKey::on_domain(p, q, g)?;
        let y = Bn::from_bytes(y)?;
        let [p, ..] = k.get();
        // SAFETY: live BIGNUMs.
        if unsafe { sys::BN_is_zero(y.ptr()) == 1 || sys::BN_cmp(y.ptr(), p) >= 0 } {
            return Err(Error::AttributeValueInvalid);
        }
        k.set_key(y, None)?;
        Ok(k)
    }

    /// A private key from x (0 < x < q); its public value y = g^x mod p is computed.
    pub fn from_private(p: &[u8], q: &[u8], g: &[u8], x: &[u8]) -> Result<DsaKey> {
        let k = DsaKey::on_domain(p, q, g)?;
        let x = Bn::from_bytes(x)?;
        let [p, q, g, ..] = k.get();
        // SAFETY: live BIGNUMs.
        if unsafe { sys::BN_is_zero(x.ptr()) == 1 || sys::BN_cmp(x.ptr(), q) >= 0 } {
            return Err(Error::AttributeValueInvalid);
        }
        let y = Bn::from_bytes(&[])?;
        // SAFETY: live BIGNUMs and a fresh context, freed below; x is secret: constant time.
        let okay = unsafe {
            let ctx = sys::BN_CTX_new();
            let okay = !ctx.is_null()
                && sys::BN_mod_exp_mont_consttime(y.0.as_ptr(), g, x.ptr(), p, ctx, std::ptr::null()) == 1;
            sys::BN_CTX_free(ctx);
            okay
        };
        if !okay {
            return Err(Error::HostMemory);
        }
        k.set_key(y, Some(x))?;
        Ok(k)
    }

    /// The domain parameters and values.
    pub fn parts(&self) -> DsaParts {
        let [p, q, g, y, x] = self.get();
        let public = |b| bn_bytes(b).map(|v| v.to_vec()).unwrap_or_default();
        DsaParts { p: public(p), q: public(q), g: public(g), y: public(y), x: bn_bytes(x) }
    }

    /// The length of q in bytes: each half of a signature.
    pub fn q_len(&self) -> usize {
        let [_, q, ..] = self.get();
        // SAFETY: a live BIGNUM.
        unsafe { sys::BN_num_bytes(q) as usize }
    }

    /// Signs `digest` (truncated to q's length by the algorithm): r || s.
    pub fn sign(&self, digest: &[u8]) -> Result<Vec<u8>> {
        // SAFETY: `digest` valid for its length; a live private key.
        let sig = unsafe { sys::DSA_do_sign(digest.as_ptr(), digest.len(), self.0.as_ptr()) };
        if sig.is_null() {
            return Err(Error::KeyFunctionNotPermitted);
        }
        let (mut r, mut s) = (std::ptr::null(), std::ptr::null());
        // SAFETY: `sig` is live until freed; r and s are below q, so they fit q's length.
        let out = unsafe {
            sys::DSA_SIG_get0(sig, &mut r, &mut s);
            let out = rs_join(r, s, self.q_len());
            sys::DSA_SIG_free(sig);
            out
        };
        Ok(out)
    }

    /// Verifies r || s over `digest`.
    pub fn verify(&self, digest: &[u8], sig: &[u8]) -> Result<()> {
        let (r, ss) = rs_split(sig, self.q_len())?;
        // SAFETY: allocation; set0 takes the BIGNUMs; the signature is freed below.
        let valid = unsafe {
            let s = sys::DSA_SIG_new();
            if s.is_null() {
                return Err(Error::HostMemory);
            }
            sys::DSA_SIG_set0(s, r.into_raw(), ss.into_raw());
            let mut valid = 0;
            let checked = sys::DSA_do_check_signature(&mut valid, digest.as_ptr(), digest.len(), s, self.0.as_ptr());
            sys::DSA_SIG_free(s);
            checked == 1 && valid == 1
        };
        if valid { Ok(()) } else { Err(Error::SignatureInvalid) }
    }

    fn pkey(&self) -> Result<PKey> {
        // SAFETY: set1 takes its own reference to the live DSA.
        PKey::holding(|pk| unsafe { sys::EVP_PKEY_set1_DSA(pk, self.0.as_ptr()) })
    }

    /// SubjectPublicKeyInfo DER (id-dsa with the domain parameters).
    pub fn spki(&self) -> Result<Vec<u8>> {
        self.pkey()?.spki()
    }

    /// PKCS#8 PrivateKeyInfo DER (private keys only).
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.pkey()?.pkcs8()
    }

    /// The X9.42 Diffie-Hellman shared secret ZZ = y^x mod p of this private key with a
    /// peer's public value y, padded to p's length (ANSI X9.42, RFC 2631 §2.1.1). A peer value
    /// outside 1 < y < p - 1, or not in the subgroup of order q (y^q mod p = 1, RFC 2631
    /// §2.1.5), is CKR_MECHANISM_PARAM_INVALID.
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let [p, q, _, _, x] = self.get();
        if x.is_null() {
            return Err(Error::KeyTypeInconsistent);
        }
        let y = Bn::from_bytes(peer)?;
        let (one, t, z) = (Bn::from_bytes(&[1])?, Bn::from_bytes(&[])?, Bn::from_bytes(&[])?);
        // SAFETY: live BIGNUMs and a fresh context, freed below; x is secret: constant time.
        let (valid, okay, n) = unsafe {
            let ctx = sys::BN_CTX_new();
            let mut valid = !ctx.is_null()
                && !peer.is_empty()
                && sys::BN_cmp(y.ptr(), one.ptr()) > 0
                && !sys::BN_copy(t.0.as_ptr(), p).is_null()
                && sys::BN_sub_word(t.0.as_ptr(), 1) == 1
                && sys::BN_cmp(y.ptr(), t.ptr()) < 0;
            valid = valid
                && sys::BN_mod_exp_mont(t.0.as_ptr(), y.ptr(), q, p, ctx, std::ptr::null()) == 1
                && sys::BN_is_one(t.ptr()) == 1;
            let okay = valid && sys::BN_mod_exp_mont_consttime(z.0.as_ptr(), y.ptr(), x, p, ctx, std::ptr::null()) == 1;
            sys::BN_CTX_free(ctx);
            (valid, okay, sys::BN_num_bytes(p) as usize)
        };
        if !valid {
            return Err(Error::MechanismParamInvalid);
        }
        if !okay {
            return Err(Error::HostMemory);
        }
        let mut out = Zeroizing::new(vec![0u8; n]);
        // SAFETY: `out` holds n bytes, enough for z < p.
        if unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), n, z.ptr()) } != 1 {
            return Err(Error::HostMemory);
        }
        Ok(out)
    }

    /// SubjectPublicKeyInfo DER of an X9.42 Diffie-Hellman key (RFC 3279 §2.3.3:
    /// dhpublicnumber, DomainParameters p, g, q; the public value an INTEGER).
    pub fn spki_x942(&self) -> Vec<u8> {
        use super::ec::der_tlv;
        let parts = self.parts();
        let uint = |b: &[u8]| {
            let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..];
            let mut v = if b.first().is_none_or(|x| x & 0x80 != 0) { vec![0u8] } else { Vec::new() };
            v.extend_from_slice(b);
            der_tlv(0x02, &v)
        };
        let domain = der_tlv(0x30, &[uint(&parts.p), uint(&parts.g), uint(&parts.q)].concat());
        // 1.2.840.10046.2.1
        let oid = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3e, 0x02, 0x01];
        let alg = der_tlv(0x30, &[&oid[..], &domain].concat());
        let bits = der_tlv(0x03, &[&[0u8][..], &uint(&parts.y)].concat());
        der_tlv(0x30, &[alg, bits].concat())
    }

    /// Takes ownership of a parsed DSA object (from PKCS#8).
    pub(crate) fn from_raw(p: NonNull<sys::DSA>) -> DsaKey {
        DsaKey(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::hex::decode(s).expect("hex")
    }

    // A 1024/160 group (FIPS 186-3 DSA example, as in RFC 6979 A.2.1).
    const P: &str = "86F5CA03DCFEB225063FF830A0C769B9DD9D6153AD91D7CE27F787C43278B447E6533B86B18BED6E8A48B784A14C252C5BE0DBF60B86D6385BD2F12FB763ED8873ABFD3F5BA2E0A8C0A59082EAC056935E529DAF7C610467899C77ADEDFC846C881870B7B19B2B58F9BE0521A17002E3BDD6B86685EE90B3D9A1B02B782B1779";
    const Q: &str = "996F967F6C8E388D9E28D01E205FBA957A5698B1";
    const G: &str = "07B0F92546150B62514BB771E2A0C0CE387F03BDA6C56B505209FF25FD3C133D89BBCD97E904E09114D9A7DEFDEADFC9078EA544D2E401AEECC40BB9FBBF78FD87995A10A1C27CB7789B594BA7EFB5C4326A9FE59A070E136DB77175464ADCA417BE5DCE2F40D10A46A3A3943F26AB7FD9C0398FF8C76EE0A56826A8A88F1DBD";
    const X: &str = "411602CB19A6CCC34494D79D98EF1E7ED5AF25F7";
    const Y: &str = "5DF5E01DED31D0297E274E1691C192FE5868FEF9E19A84776454B100CF16F65392195A38B90523E2542EE61871C0440CB87C322FC4B4D2EC5E1E7EC766E1BE8D4CE935437DC11C3C8FD426338933EBFE739CB3465F4D3668C5E473508253B1E682F65CBDC4FAE93C2EA212390E54905A86E2223170B44EAA7DA5DD9FFCFB7F3B";

    #[test]
    fn public_value_signatures_and_checks() {
        let k = DsaKey::from_private(&hex(P), &hex(Q), &hex(G), &hex(X)).unwrap();
        assert_eq!(k.parts().y, hex(Y), "y = g^x mod p");
        assert_eq!(k.q_len(), 20);
        let public = DsaKey::from_public(&hex(P), &hex(Q), &hex(G), &hex(Y)).unwrap();
        let digest = [0x42u8; 32];
        let sig = k.sign(&digest).unwrap();
        assert_eq!(sig.len(), 40);
        public.verify(&digest, &sig).unwrap();
        let mut bad = sig.clone();
        bad[39] ^= 1;
        assert!(matches!(public.verify(&digest, &bad), Err(Error::SignatureInvalid)));
        assert!(matches!(public.verify(&digest, &sig[..39]), Err(Error::SignatureLenRange)));
        // Values out of range are refused.
        assert!(DsaKey::from_private(&hex(P), &hex(Q), &hex(G), &hex(Q)).is_err());
        assert!(DsaKey::from_public(&hex(P), &hex(Q), &hex(G), &hex(P)).is_err());
        assert!(DsaKey::from_public(&hex(P), &hex(Q), &[1], &hex(Y)).is_err());
        assert!(DsaKey::from_public(&hex(P)[1..], &hex(Q), &hex(G), &hex(Y)).is_err());
        // A generated key on the same group signs what the public half verifies.
        let g = DsaKey::generate(&hex(P), &hex(Q), &hex(G)).unwrap();
        let parts = g.parts();
        let gp = DsaKey::from_public(&parts.p, &parts.q, &parts.g, &parts.y).unwrap();
        gp.verify(&digest, &g.sign(&digest).unwrap()).unwrap();
    }
}
