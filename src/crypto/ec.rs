//! Elliptic curves on AWS-LC (aws-lc-sys): NIST P-224/P-256/P-384/P-521 and secp256k1 keys,
//! ECDSA over a hash of any length with r||s signatures, ECDH; and Ed25519 (pure, ph, ctx) and X25519.

use super::bn::{rs_join, rs_split};
use super::rsa::PKey;
use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ffi::c_int;
use std::ptr::{NonNull, null_mut};
use zeroize::Zeroizing;

/// The Weierstrass curves oxihsm supports: NIST P-224/P-256/P-384/P-521 and SEC 2's
/// secp256k1 (the short-Weierstrass curves AWS-LC has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    P224,
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    /// Every supported curve.
    pub const ALL: [Curve; 5] = [Curve::P224, Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];

    pub(crate) fn nid(self) -> c_int {
        match self {
            Curve::P224 => sys::NID_secp224r1,
            Curve::P256 => sys::NID_X9_62_prime256v1,
            Curve::P384 => sys::NID_secp384r1,
            Curve::P521 => sys::NID_secp521r1,
            Curve::Secp256k1 => sys::NID_secp256k1,
        }
    }

    /// The curve's named-curve OID, DER-encoded (what CKA_EC_PARAMS holds).
    pub const fn oid(self) -> &'static [u8] {
        match self {
            Curve::P224 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
            Curve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Curve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            Curve::P521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
            Curve::Secp256k1 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        }
    }

    /// Field element length in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Order length in bits.
    pub fn bits(self) -> usize {
        match self {
            Curve::P224 => 224,
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }
}

/// An EC key on a NIST curve.
pub struct EcKey {
    key: NonNull<sys::EC_KEY>,
    curve: Curve,
}

// SAFETY: the EC_KEY is owned and only read after construction; AWS-LC EC keys may be used
// from several threads for signing and ECDH.
unsafe impl Send for EcKey {}
// SAFETY: as above.
unsafe impl Sync for EcKey {}

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: owned, freed once; freeing clears the private scalar.
        unsafe { sys::EC_KEY_free(self.key.as_ptr()) }
    }
}

struct Point(NonNull<sys::EC_POINT>);

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) }
    }
}

impl EcKey {
    /// Takes ownership of a parsed key on `curve`.
    pub(crate) fn from_raw(key: NonNull<sys::EC_KEY>, curve: Curve) -> EcKey {
        EcKey { key, curve }
    }

    fn empty(curve: Curve) -> Result<EcKey> {
        // SAFETY: allocation for a known curve; NULL handled.
        let key = NonNull::new(unsafe { sys::EC_KEY_new_by_curve_name(curve.nid()) }).ok_or(Error::HostMemory)?;
        Ok(EcKey { key, curve })
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: live key with a group.
        unsafe { sys::EC_KEY_get0_group(self.key.as_ptr()) }
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// A fresh key pair.
    pub fn generate(curve: Curve) -> Result<EcKey> {
        let k = EcKey::empty(curve)?;
        // SAFETY: live key.
        if unsafe { sys::EC_KEY_generate_key(k.key.as_ptr()) } != 1 {
            return Err(Error::Internal("EC key generation".into()));
        }
        Ok(k)
    }

    /// A fresh key pair by FIPS 186-4 Appendix B.4.1 ("extra random bits",
    /// CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS): c of len(n) + 64 random bits, d = (c mod (n - 1)) + 1.
    /// (EC_KEY_generate_key draws candidates until one is below n, Appendix B.4.2.)
    pub fn generate_extra_bits(curve: Curve) -> Result<EcKey> {
        let k = EcKey::empty(curve)?;
        // SAFETY: the group's order lives as long as the key.
        let order = unsafe { sys::EC_GROUP_get0_order(k.group()) };
        // SAFETY: a live BIGNUM.
        let n_bits = unsafe { sys::BN_num_bits(order) } as usize;
        let mut c = Zeroizing::new(vec![0u8; (n_bits + 64).div_ceil(8)]);
        super::random_fill(&mut c)?;
        // Whole bytes were drawn: keep len(n) + 64 bits of them.
        c[0] &= 0xff >> (c.len() * 8 - (n_bits + 64));
        let c = super::bn::Bn::from_bytes(&c)?;
        let d = super::bn::Bn::from_bytes(&[])?;
        let n_minus_1 = super::bn::Bn::from_bytes(&[])?;
        let field = curve.field_len().max(n_bits.div_ceil(8));
        let mut scalar = Zeroizing::new(vec![0u8; field]);
        // SAFETY: live BIGNUMs and a context of our own, freed once; `scalar` holds `field`
        // bytes, and d < n fits them.
        let ok = unsafe {
            let ctx = sys::BN_CTX_new();
            let ok = !ctx.is_null()
                && !sys::BN_copy(n_minus_1.0.as_ptr(), order).is_null()
                && sys::BN_sub_word(n_minus_1.0.as_ptr(), 1) == 1
                && sys::BN_nnmod(d.0.as_ptr(), c.ptr(), n_minus_1.ptr(), ctx) == 1
                && sys::BN_add_word(d.0.as_ptr(), 1) == 1
                && sys::BN_bn2bin_padded(scalar.as_mut_ptr(), field, d.ptr()) == 1;
            sys::BN_CTX_free(ctx);
            ok
        };
        if !ok {
            return Err(Error::Internal("EC key generation (extra random bits)".into()));
        }
        EcKey::from_private(curve, &scalar)
    }

    fn parse_point(&self, point: &[u8]) -> Result<Point> {
        // SAFETY: allocation for the key's group; NULL handled.
        let p = Point(NonNull::new(unsafe { sys::EC_POINT_new(self.group()) }).ok_or(Error::HostMemory)?);
        // SAFETY: `point` is valid for its length; the point belongs to the same group.
        let r = unsafe { sys::EC_POINT_oct2point(self.group(), p.0.as_ptr(), point.as_ptr(), point.len(), null_mut()) };
        if r != 1 {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(p)
    }

    /// A public key from an encoded point (uncompressed or compressed).
    pub fn from_public(curve: Curve, point: &[u8]) -> Result<EcKey> {
        let k = EcKey::empty(curve)?;
        let p = k.parse_point(point)?;
        // SAFETY: live key and point (copied by the call).
        if unsafe { sys::EC_KEY_set_public_key(k.key.as_ptr(), p.0.as_ptr()) } != 1 {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(k)
    }

    /// A private key from its scalar; the public point is computed.
    pub fn from_private(curve: Curve, scalar: &[u8]) -> Result<EcKey> {
        let k = EcKey::empty(curve)?;
        // SAFETY: `scalar` valid for its length; NULL ret allocates.
        let d = NonNull::new(unsafe { sys::BN_bin2bn(scalar.as_ptr(), scalar.len(), null_mut()) })
            .ok_or(Error::HostMemory)?;
        // SAFETY: allocation for the group; NULL handled below.
        let pubp = unsafe { sys::EC_POINT_new(k.group()) };
        // SAFETY: live objects; the key copies the scalar and the point.
        let okay = unsafe {
            !pubp.is_null()
                && sys::EC_KEY_set_private_key(k.key.as_ptr(), d.as_ptr()) == 1
                && sys::EC_POINT_mul(k.group(), pubp, d.as_ptr(), null_mut(), null_mut(), null_mut()) == 1
                && sys::EC_KEY_set_public_key(k.key.as_ptr(), pubp) == 1
                && sys::EC_KEY_check_key(k.key.as_ptr()) == 1
        };
        // SAFETY: our own allocations, freed once (NULL is allowed).
        unsafe {
            sys::EC_POINT_free(pubp);
            sys::BN_clear_free(d.as_ptr());
        }
        if okay { Ok(k) } else { Err(Error::AttributeValueInvalid) }
    }

    /// The public point, uncompressed (04 || X || Y).
    pub fn point(&self) -> Vec<u8> {
        let mut out = vec![0u8; 1 + 2 * self.curve.field_len()];
        // SAFETY: live key with a public point; `out` is exactly the uncompressed size.
        let n = unsafe {
            sys::EC_POINT_point2oct(
                self.group(),
                sys::EC_KEY_get0_public_key(self.key.as_ptr()),
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                null_mut(),
            )
        };
        out.truncate(n);
        out
    }

    /// The private scalar, padded to the field length (`None` for a public key).
    pub fn scalar(&self) -> Option<Zeroizing<Vec<u8>>> {
        // SAFETY: live key.
        let d = unsafe { sys::EC_KEY_get0_private_key(self.key.as_ptr()) };
        if d.is_null() {
            return None;
        }
        let mut out = Zeroizing::new(vec![0u8; self.curve.field_len()]);
        // SAFETY: `out` is the padded length for this curve's scalars.
        unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), out.len(), d) };
        Some(out)
    }

    /// ECDSA over `digest` (any length); r || s, each the field length.
    pub fn sign(&self, digest: &[u8]) -> Result<Vec<u8>> {
        // SAFETY: `digest` valid for its length; live private key.
        let sig = unsafe { sys::ECDSA_do_sign(digest.as_ptr(), digest.len(), self.key.as_ptr()) };
        if sig.is_null() {
            return Err(Error::KeyFunctionNotPermitted);
        }
        let (mut r, mut s) = (std::ptr::null(), std::ptr::null());
        // SAFETY: `sig` is live until freed; r and s are below the order, so they fit the
        // field length.
        let out = unsafe {
            sys::ECDSA_SIG_get0(sig, &mut r, &mut s);
            let out = rs_join(r, s, self.curve.field_len());
            sys::ECDSA_SIG_free(sig);
            out
        };
        Ok(out)
    }

    /// Verifies an r || s signature over `digest`.
    pub fn verify(&self, digest: &[u8], sig: &[u8]) -> Result<()> {
        let (r, ss) = rs_split(sig, self.curve.field_len())?;
        // SAFETY: allocation; set0 takes the BIGNUMs; the signature is freed below.
        let okay = unsafe {
            let s = sys::ECDSA_SIG_new();
            if s.is_null() {
                return Err(Error::HostMemory);
            }
            sys::ECDSA_SIG_set0(s, r.into_raw(), ss.into_raw());
            let v = sys::ECDSA_do_verify(digest.as_ptr(), digest.len(), s, self.key.as_ptr()) == 1;
            sys::ECDSA_SIG_free(s);
            v
        };
        if okay { Ok(()) } else { Err(Error::SignatureInvalid) }
    }

    /// ECDH: the x-coordinate of d * peer.
    pub fn ecdh(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let p = self.parse_point(peer).map_err(|_| Error::MechanismParamInvalid)?;
        let mut out = Zeroizing::new(vec![0u8; self.curve.field_len()]);
        // SAFETY: `out` holds the field length; live point and private key; no KDF.
        let n =
            unsafe { sys::ECDH_compute_key(out.as_mut_ptr().cast(), out.len(), p.0.as_ptr(), self.key.as_ptr(), None) };
        if n < 0 {
            return Err(Error::MechanismParamInvalid);
        }
        out.truncate(n as usize);
        Ok(out)
    }

    fn pkey(&self) -> Result<PKey> {
        // SAFETY: set1 takes its own reference to the live key.
        PKey::holding(|pk| unsafe { sys::EVP_PKEY_set1_EC_KEY(pk, self.key.as_ptr()) })
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Result<Vec<u8>> {
        self.pkey()?.spki()
    }

    /// PKCS#8 DER (private keys).
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.pkey()?.pkcs8()
    }
}

/// A new Ed25519 key: (32-byte seed, 32-byte public key).
pub fn ed25519_generate() -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let mut public = vec![0u8; 32];
    let mut private = Zeroizing::new(vec![0u8; 64]);
    // SAFETY: buffers of the documented sizes (32 and 64 bytes).
    unsafe { sys::ED25519_keypair(public.as_mut_ptr(), private.as_mut_ptr()) };
    (Zeroizing::new(private[..32].to_vec()), public)
}

/// The Ed25519 public key of a seed.
pub fn ed25519_public(seed: &[u8]) -> Result<Vec<u8>> {
    Ok(ed25519_expand(seed)?[32..].to_vec())
}

/// The 64-byte signing key (seed ‖ public) of a 32-byte seed.
pub fn ed25519_expand(seed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if seed.len() != 32 {
        return Err(Error::AttributeValueInvalid);
    }
    let mut public = [0u8; 32];
    let mut private = Zeroizing::new(vec![0u8; 64]);
    // SAFETY: 32-byte seed in; 32- and 64-byte buffers out.
    unsafe { sys::ED25519_keypair_from_seed(public.as_mut_ptr(), private.as_mut_ptr(), seed.as_ptr()) };
    Ok(private)
}

/// Ed25519 variants (RFC 8032).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdVariant {
    Pure,
    Ph(Vec<u8>),
    Ctx(Vec<u8>),
}

/// Signs `msg` with the key of a 32-byte `seed`, or of its 64-byte expanded form.
pub fn ed25519_sign(seed: &[u8], msg: &[u8], v: &EdVariant) -> Result<Vec<u8>> {
    let sk = if seed.len() == 64 { Zeroizing::new(seed.to_vec()) } else { ed25519_expand(seed)? };
    let mut sig = vec![0u8; 64];
    // SAFETY: 64-byte signature and private key; message and context valid for their lengths.
    let r = unsafe {
        match v {
            EdVariant::Pure => sys::ED25519_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr()),
            EdVariant::Ph(c) => {
                sys::ED25519ph_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr(), c.as_ptr(), c.len())
            }
            EdVariant::Ctx(c) => {
                sys::ED25519ctx_sign(sig.as_mut_ptr(), msg.as_ptr(), msg.len(), sk.as_ptr(), c.as_ptr(), c.len())
            }
        }
    };
    if r == 1 { Ok(sig) } else { Err(Error::MechanismParamInvalid) }
}

/// Verifies an Ed25519 signature.
pub fn ed25519_verify(public: &[u8], msg: &[u8], sig: &[u8], v: &EdVariant) -> Result<()> {
    if sig.len() != 64 {
        return Err(Error::SignatureLenRange);
    }
    if public.len() != 32 {
        return Err(Error::KeyTypeInconsistent);
    }
    // SAFETY: 64-byte signature, 32-byte key; message and context valid for their lengths.
    let r = unsafe {
        match v {
            EdVariant::Pure => sys::ED25519_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), public.as_ptr()),
            EdVariant::Ph(c) => {
                sys::ED25519ph_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), public.as_ptr(), c.as_ptr(), c.len())
            }
            EdVariant::Ctx(c) => {
                sys::ED25519ctx_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), public.as_ptr(), c.as_ptr(), c.len())
            }
        }
    };
    if r == 1 { Ok(()) } else { Err(Error::SignatureInvalid) }
}

/// A new X25519 key: (private, public).
pub fn x25519_generate() -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let mut public = vec![0u8; 32];
    let mut private = Zeroizing::new(vec![0u8; 32]);
    // SAFETY: 32-byte buffers.
    unsafe { sys::X25519_keypair(public.as_mut_ptr(), private.as_mut_ptr()) };
    (private, public)
}

/// The X25519 public value of a private key.
pub fn x25519_public(private: &[u8]) -> Result<Vec<u8>> {
    if private.len() != 32 {
        return Err(Error::AttributeValueInvalid);
    }
    let mut public = vec![0u8; 32];
    // SAFETY: 32-byte buffers.
    unsafe { sys::X25519_public_from_private(public.as_mut_ptr(), private.as_ptr()) };
    Ok(public)
}

/// X25519 agreement; an all-zero result (small-order peer) is refused.
pub fn x25519(private: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if private.len() != 32 || peer.len() != 32 {
        return Err(Error::MechanismParamInvalid);
    }
    let mut out = Zeroizing::new(vec![0u8; 32]);
    // SAFETY: 32-byte buffers.
    let r = unsafe { sys::X25519(out.as_mut_ptr(), private.as_ptr(), peer.as_ptr()) };
    if r == 1 { Ok(out) } else { Err(Error::MechanismParamInvalid) }
}

/// A DER tag-length-value (definite length; short form below 128 bytes).
pub fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len().to_be_bytes();
    let skip = len.iter().take_while(|b| **b == 0).count();
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(n as u8),
        _ => {
            v.push(0x80 | (len.len() - skip) as u8);
            v.extend_from_slice(&len[skip..]);
        }
    }
    v.extend_from_slice(body);
    v
}

/// SubjectPublicKeyInfo of a public point (as encoded, 04 || X || Y) on a NIST curve, with
/// the curve named (RFC 5480): the DER that AWS-LC writes for the key, without decoding the
/// point again.
pub fn spki_ec(curve: Curve, point: &[u8]) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let named = curve.oid();
    let mut bits = vec![0];
    bits.extend_from_slice(point);
    let mut body = der_tlv(0x30, &[EC_PUBLIC_KEY, named].concat());
    body.extend(der_tlv(0x03, &bits));
    der_tlv(0x30, &body)
}

/// SubjectPublicKeyInfo of an Ed25519 (`ed`) or X25519 public key.
pub fn spki_25519(public: &[u8], ed: bool) -> Vec<u8> {
    let mut v = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, if ed { 0x70 } else { 0x6e }, 0x03, 0x21, 0x00];
    v.extend_from_slice(public);
    v
}

/// A private key parsed from PKCS#8.
pub enum Pkcs8Key {
    Rsa(super::rsa::RsaParts),
    Dsa(super::dsa::DsaParts),
    Ec(Curve, Zeroizing<Vec<u8>>),
    Ed25519(Zeroizing<Vec<u8>>),
    X25519(Zeroizing<Vec<u8>>),
}

/// Parses a PKCS#8 PrivateKeyInfo (RSA, DSA, EC, Ed25519, X25519); anything else, or
/// trailing data, is `WrappedKeyInvalid`.
pub fn parse_pkcs8(der: &[u8]) -> Result<Pkcs8Key> {
    let bad = || Error::WrappedKeyInvalid;
    // SAFETY: CBS is a (pointer, length) view of `der`, which outlives every use below; the
    // parsed EVP_PKEY is owned by `pk` and freed on drop; the getters take references that
    // are released (RSA_free / EC_KEY_free) or views of objects `pk` owns.
    unsafe {
        let mut cbs: sys::CBS = std::mem::zeroed();
        sys::CBS_init(&mut cbs, der.as_ptr(), der.len());
        let pk = PKey(NonNull::new(sys::EVP_parse_private_key(&mut cbs)).ok_or_else(bad)?);
        if sys::CBS_len(&cbs) != 0 {
            return Err(bad());
        }
        match sys::EVP_PKEY_id(pk.0.as_ptr()) {
            sys::EVP_PKEY_RSA => {
                let rsa = NonNull::new(sys::EVP_PKEY_get1_RSA(pk.0.as_ptr())).ok_or_else(bad)?;
                let key = super::rsa::RsaKey::from_raw(rsa);
                Ok(Pkcs8Key::Rsa(key.parts()))
            }
            sys::EVP_PKEY_EC => {
                let ec = NonNull::new(sys::EVP_PKEY_get1_EC_KEY(pk.0.as_ptr())).ok_or_else(bad)?;
                let nid = sys::EC_GROUP_get_curve_name(sys::EC_KEY_get0_group(ec.as_ptr()));
                let curve = Curve::ALL.into_iter().find(|c| c.nid() == nid);
                let key = curve.map(|curve| EcKey { key: ec, curve });
                let Some(key) = key else {
                    sys::EC_KEY_free(ec.as_ptr());
                    return Err(Error::CurveNotSupported);
                };
                let scalar = key.scalar().ok_or_else(bad)?;
                Ok(Pkcs8Key::Ec(key.curve, scalar))
            }
            sys::EVP_PKEY_DSA => {
                let dsa = NonNull::new(sys::EVP_PKEY_get1_DSA(pk.0.as_ptr())).ok_or_else(bad)?;
                Ok(Pkcs8Key::Dsa(super::dsa::DsaKey::from_raw(dsa).parts()))
            }
            id @ (sys::EVP_PKEY_ED25519 | sys::EVP_PKEY_X25519) => {
                let mut out = Zeroizing::new(vec![0u8; 32]);
                let mut n = 32usize;
                if sys::EVP_PKEY_get_raw_private_key(pk.0.as_ptr(), out.as_mut_ptr(), &mut n) != 1 || n != 32 {
                    return Err(bad());
                }
                Ok(if id == sys::EVP_PKEY_ED25519 { Pkcs8Key::Ed25519(out) } else { Pkcs8Key::X25519(out) })
            }
            _ => Err(bad()),
        }
    }
}

/// PKCS#8 PrivateKeyInfo of an Ed25519 (`ed`) or X25519 private key.
pub fn pkcs8_25519(private: &[u8], ed: bool) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(vec![
        0x30,
        0x2e,
        0x02,
        0x01,
        0x00,
        0x30,
        0x05,
        0x06,
        0x03,
        0x2b,
        0x65,
        if ed { 0x70 } else { 0x6e },
        0x04,
        0x22,
        0x04,
        0x20,
    ]);
    v.extend_from_slice(private);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der_tlv(0x04, &[]), [0x04, 0]);
        assert_eq!(der_tlv(0x04, &[7; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(der_tlv(0x04, &[7; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(der_tlv(0x30, &[7; 0x1234])[..4], [0x30, 0x82, 0x12, 0x34]);
        assert_eq!(der_tlv(0x30, &[7; 0x1234]).len(), 4 + 0x1234);
    }

    #[test]
    fn spki_from_the_point_is_what_aws_lc_writes() {
        for c in Curve::ALL {
            let k = EcKey::generate(c).unwrap();
            assert_eq!(spki_ec(c, &k.point()), k.spki().unwrap(), "{c:?}");
        }
    }
}
