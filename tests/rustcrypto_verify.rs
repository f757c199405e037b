//! Token signatures verified by the RustCrypto crates (rsa, p256, p384, ed25519-dalek, ml-dsa)
//! as an independent implementation, and RustCrypto signatures verified by the token; RSA-OAEP
//! ciphertexts from the rsa crate decrypted inside and the token's decrypted outside.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn env() -> (Harness, cryptoki::context::Pkcs11, RawSession) {
    let (h, p, _slot, s) = raw_user_env("rustcrypto");
    (h, p, s)
}

fn pair(s: &RawSession, m: CK_MECHANISM_TYPE, mut public: T, mut private: T) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(m, &mut public, &mut private).unwrap()
}

/// The raw point inside a DER-wrapped CKA_EC_POINT.
fn point(s: &RawSession, k: CK_OBJECT_HANDLE) -> Vec<u8> {
    let der = s.get_bytes(k, CKA_EC_POINT).unwrap();
    der[2..].to_vec()
}

#[test]
fn rsa_both_ways() {
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPublicKey};
    use sha2::{Digest, Sha256};
    let (_h, _p, s) = env();
    let (pubk, privk) = pair(&s, CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), T::default());
    let n = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_MODULUS).unwrap());
    let e = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_PUBLIC_EXPONENT).unwrap());
    let key = RsaPublicKey::new(n, e).unwrap();
    assert_eq!(key.size(), 256);
    let msg = b"verified by the rsa crate";
    let digest = Sha256::digest(msg);
    let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), privk, msg).unwrap();
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).unwrap();
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: 32 };
    let sig = s.sign(&mut mech(CKM_SHA256_RSA_PKCS_PSS, Some(&mut pss)), privk, msg).unwrap();
    key.verify(Pss::new_with_salt::<Sha256>(32), &digest, &sig).unwrap();
    // OAEP from outside, decrypted inside.
    let mut rng = rsa::rand_core::OsRng;
    let ct = key.encrypt(&mut rng, Oaep::new::<Sha256>(), msg).unwrap();
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: 0,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    assert_eq!(s.decrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), privk, &ct).unwrap(), msg);
    // The same ciphertext given in two parts (the token gathers them: RSA is one block).
    let mut m = mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep));
    assert_eq!(in_halves(&s, &mut m, privk, false, &ct), msg);

    // Every hash-and-sign PKCS #1 v1.5 mechanism: its DigestInfo as the rsa crate makes it
    // from the hash's OID.
    let pkcs1 = |m: CK_MECHANISM_TYPE, scheme: Pkcs1v15Sign, digest: &[u8]| {
        let sig = s.sign(&mut mech::<u8>(m, None), privk, msg).unwrap();
        key.verify(scheme, digest, &sig).unwrap_or_else(|e| panic!("{m:#x}: {e}"));
    };
    pkcs1(CKM_SHA1_RSA_PKCS, Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(msg));
    pkcs1(CKM_SHA224_RSA_PKCS, Pkcs1v15Sign::new::<sha2::Sha224>(), &sha2::Sha224::digest(msg));
    pkcs1(CKM_SHA256_RSA_PKCS, Pkcs1v15Sign::new::<Sha256>(), &digest);
    pkcs1(CKM_SHA384_RSA_PKCS, Pkcs1v15Sign::new::<sha2::Sha384>(), &sha2::Sha384::digest(msg));
    pkcs1(CKM_SHA512_RSA_PKCS, Pkcs1v15Sign::new::<sha2::Sha512>(), &sha2::Sha512::digest(msg));
    pkcs1(CKM_SHA3_224_RSA_PKCS, Pkcs1v15Sign::new::<sha3::Sha3_224>(), &sha3::Sha3_224::digest(msg));
    pkcs1(CKM_SHA3_256_RSA_PKCS, Pkcs1v15Sign::new::<sha3::Sha3_256>(), &sha3::Sha3_256::digest(msg));
    pkcs1(CKM_SHA3_384_RSA_PKCS, Pkcs1v15Sign::new::<sha3::Sha3_384>(), &sha3::Sha3_384::digest(msg));
    pkcs1(CKM_SHA3_512_RSA_PKCS, Pkcs1v15Sign::new::<sha3::Sha3_512>(), &sha3::Sha3_512::digest(msg));

    // PKCS #1 v1.5 encryption in parts, decrypted in one call and in parts; raw RSA (X.509)
    // in parts against the rsa crate's own arithmetic.
    let mut m = mech::<u8>(CKM_RSA_PKCS, None);
    let ct = in_halves(&s, &mut m, pubk, true, msg);
    assert_eq!(ct.len(), 256);
    assert_eq!(s.decrypt(&mut m, privk, &ct).unwrap(), msg);
    assert_eq!(in_halves(&s, &mut m, privk, false, &ct), msg);
    let mut x509 = mech::<u8>(CKM_RSA_X_509, None);
    let block: Vec<u8> = (0..256u32).map(|i| if i == 0 { 0 } else { (i * 7) as u8 }).collect();
    let raw = in_halves(&s, &mut x509, pubk, true, &block);
    let want = BigUint::from_bytes_be(&block).modpow(key.e(), key.n()).to_bytes_be();
    assert_eq!(raw[256 - want.len()..], want[..]);
    assert_eq!(in_halves(&s, &mut x509, privk, false, &raw), block);
}

#[test]
fn ecdsa_p256_p384_both_ways() {
    use p256::ecdsa::signature::{Signer, Verifier};
    let (_h, _p, s) = env();
    let msg = b"verified by the p256 and p384 crates";
    let (pubk, privk) = pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        T::default(),
    );
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point(&s, pubk)).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), privk, msg).unwrap();
    vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
    // What p256 signs, the token verifies (key imported as a public key).
    let sk = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let ext: p256::ecdsa::Signature = sk.sign(msg);
    let pt = sk.verifying_key().to_encoded_point(false);
    let imported = s
        .create(
            &mut T::key(CKO_PUBLIC_KEY, CKK_EC)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
                .bytes(CKA_EC_POINT, pt.as_bytes()),
        )
        .unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), imported, msg, &ext.to_bytes()).unwrap();

    let (pubk, privk) = pair(
        &s,
        CKM_EC_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
        T::default(),
    );
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point(&s, pubk)).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA384, None), privk, msg).unwrap();
    vk.verify(msg, &p384::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
}

#[test]
fn ed25519_both_ways() {
    use ed25519_dalek::{Signer, Verifier};
    let (_h, _p, s) = env();
    let msg = b"verified by ed25519-dalek";
    let (pubk, privk) = pair(
        &s,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70]),
        T::default(),
    );
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&point(&s, pubk).try_into().unwrap()).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_EDDSA, None), privk, msg).unwrap();
    vk.verify(msg, &ed25519_dalek::Signature::from_slice(&sig).unwrap()).unwrap();
    let sk = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let imported = s
        .create(
            &mut T::key(CKO_PUBLIC_KEY, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])
                .bytes(CKA_EC_POINT, sk.verifying_key().as_bytes()),
        )
        .unwrap();
    s.verify(&mut mech::<u8>(CKM_EDDSA, None), imported, msg, &sk.sign(msg).to_bytes()).unwrap();
    // The same seed inside the token signs identically (Ed25519 is deterministic).
    let inside = s
        .create(
            &mut T::key(CKO_PRIVATE_KEY, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x70])
                .bytes(CKA_VALUE, &[42u8; 32]),
        )
        .unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_EDDSA, None), inside, msg).unwrap(), sk.sign(msg).to_bytes());
    // Ed25519ph (phFlag true: the token hashes the data with SHA-512) with contexts of 0 to
    // 255 bytes, both ways and identical for the same seed; a longer context is refused.
    // Ed25519ctx with the longest context signs and verifies inside (dalek has no ctx).
    use sha2::{Digest, Sha512};
    let mut context = vec![0x3cu8; 256];
    for len in [0usize, 1, 255] {
        let mut p =
            CK_EDDSA_PARAMS { phFlag: 1, ulContextDataLen: len as CK_ULONG, pContextData: context.as_mut_ptr() };
        let ctx = Some(&context[..len]);
        let ours = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), inside, msg).unwrap();
        let theirs = sk.sign_prehashed(Sha512::new().chain_update(msg), ctx).unwrap();
        assert_eq!(ours, theirs.to_bytes(), "Ed25519ph, a context of {len} bytes");
        let vk = sk.verifying_key();
        vk.verify_prehashed(Sha512::new().chain_update(msg), ctx, &theirs).unwrap();
        s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), imported, msg, &theirs.to_bytes()).unwrap();
        p.phFlag = 0;
        if len > 0 {
            let sig = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), inside, msg).unwrap();
            assert_ne!(sig, ours);
            s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), imported, msg, &sig).unwrap();
        }
    }
    for ph in [0, 1] {
        let mut p = CK_EDDSA_PARAMS { phFlag: ph, ulContextDataLen: 256, pContextData: context.as_mut_ptr() };
        let r = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), inside, msg);
        assert_eq!(r, Err(CKR_MECHANISM_PARAM_INVALID), "phFlag {ph}, a context of 256 bytes");
    }
}

/// MD5, as SoftHSMv2 offers it: the digest (RFC 1321's vectors), HMAC (RFC 2202's) and
/// PKCS #1 v1.5 signatures, each checked against RustCrypto's md-5, hmac and rsa.
#[test]
fn md5_digest_hmac_and_rsa_signatures() {
    use hmac::{Hmac, Mac};
    use md5::{Digest, Md5};
    use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
    let (_h, _p, s) = env();
    let hex =
        |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<_>>();
    assert_eq!(s.digest(&mut mech::<u8>(CKM_MD5, None), b"abc").unwrap(), hex("900150983cd24fb0d6963f7d28e17f72"));
    assert_eq!(s.digest(&mut mech::<u8>(CKM_MD5, None), b"").unwrap(), hex("d41d8cd98f00b204e9800998ecf8427e"));
    let long = vec![0x5au8; 1000];
    assert_eq!(s.digest(&mut mech::<u8>(CKM_MD5, None), &long).unwrap(), Md5::digest(&long).to_vec());
    // RFC 2202 test case 2, and a key longer than MD5's block (hashed first).
    let jefe = s.secret_key(CKK_GENERIC_SECRET, b"Jefe").unwrap();
    let data = b"what do ya want for nothing?";
    assert_eq!(
        s.sign(&mut mech::<u8>(CKM_MD5_HMAC, None), jefe, data).unwrap(),
        hex("750c783e6ab0b503eaa86e310a5db738")
    );
    let mut len: CK_ULONG = 12;
    let t = s.sign(&mut mech(CKM_MD5_HMAC_GENERAL, Some(&mut len)), jefe, data).unwrap();
    assert_eq!(t, hex("750c783e6ab0b503eaa86e31"));
    // The same with a key of MD5's own HMAC key type, CKK_MD5_HMAC (as SoftHSMv2 makes them).
    let typed = s.secret_key(CKK_MD5_HMAC, b"Jefe").unwrap();
    assert_eq!(
        s.sign(&mut mech::<u8>(CKM_MD5_HMAC, None), typed, data).unwrap(),
        hex("750c783e6ab0b503eaa86e310a5db738")
    );
    let long_key = vec![0xaau8; 80];
    let k = s.secret_key(CKK_GENERIC_SECRET, &long_key).unwrap();
    let mut want = <Hmac<Md5>>::new_from_slice(&long_key).unwrap();
    want.update(&long);
    assert_eq!(s.sign(&mut mech::<u8>(CKM_MD5_HMAC, None), k, &long).unwrap(), want.finalize().into_bytes().to_vec());
    // MD5 with PKCS #1 v1.5, verified by the rsa crate (its DigestInfo for MD5 is RFC 8017's).
    let (pubk, privk) = pair(&s, CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), T::default());
    let n = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_MODULUS).unwrap());
    let e = BigUint::from_bytes_be(&s.get_bytes(pubk, CKA_PUBLIC_EXPONENT).unwrap());
    let key = RsaPublicKey::new(n, e).unwrap();
    let msg = b"an old signature";
    let sig = s.sign(&mut mech::<u8>(CKM_MD5_RSA_PKCS, None), privk, msg).unwrap();
    key.verify(Pkcs1v15Sign::new::<Md5>(), &Md5::digest(msg), &sig).unwrap();
    assert_eq!(s.verify(&mut mech::<u8>(CKM_MD5_RSA_PKCS, None), pubk, msg, &sig), Ok(()));
    assert_eq!(s.verify(&mut mech::<u8>(CKM_MD5_RSA_PKCS, None), pubk, b"another", &sig), Err(CKR_SIGNATURE_INVALID));
    // MD5 is no parameter's hash: an OAEP or PSS naming it is refused.
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_MD5, mgf: CKG_MGF1_SHA1, sLen: 16 };
    assert_eq!(
        s.sign(&mut mech(CKM_RSA_PKCS_PSS, Some(&mut pss)), privk, &Md5::digest(msg)),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

/// ML-DSA (CKM_ML_DSA, with a context) and every HashML-DSA mechanism the token hashes for
/// (`CKM_HASH_ML_DSA_<hash>`), deterministic and hedged, in each parameter set: the ml-dsa
/// crate verifies each signature over the M' FIPS 204 §5.4 builds (Algorithm 4: 1, the
/// context's length, the context, the hash's DER OID, PH(M)), made here with the sha2 and
/// sha3 crates; the same M' with another PH does not verify.
#[test]
#[cfg(not(feature = "fips"))]
fn ml_dsa_and_hash_ml_dsa_verified_by_the_ml_dsa_crate() {
    use ml_dsa::{KeyInit, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Signature, VerifyingKey};
    use sha2::Digest;
    use sha3::digest::{ExtendableOutput, Update};
    fn verifies<P: MlDsaParams>(pk: &[u8], m_prime: &[u8], sig: &[u8]) -> bool {
        let vk = VerifyingKey::<P>::new_from_slice(pk).expect("public key length");
        vk.verify_internal(m_prime, &Signature::<P>::try_from(sig).expect("signature length"))
    }
    fn xof<X: Default + Update + ExtendableOutput>(data: &[u8], n: usize) -> Vec<u8> {
        let mut x = X::default();
        x.update(data);
        let mut out = vec![0u8; n];
        x.finalize_xof_into(&mut out);
        out
    }
    let (_h, _p, s) = env();
    let msg = b"HashML-DSA, checked outside the token".to_vec();
    // (mechanism, last arc of the hash's OID 2.16.840.1.101.3.4.2.x, PH(M)).
    let hashes: [(CK_MECHANISM_TYPE, u8, Vec<u8>); 10] = [
        (CKM_HASH_ML_DSA_SHA256, 1, sha2::Sha256::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA384, 2, sha2::Sha384::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA512, 3, sha2::Sha512::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA224, 4, sha2::Sha224::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA3_224, 7, sha3::Sha3_224::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA3_256, 8, sha3::Sha3_256::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA3_384, 9, sha3::Sha3_384::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHA3_512, 10, sha3::Sha3_512::digest(&msg).to_vec()),
        (CKM_HASH_ML_DSA_SHAKE128, 11, xof::<sha3::Shake128>(&msg, 32)),
        (CKM_HASH_ML_DSA_SHAKE256, 12, xof::<sha3::Shake256>(&msg, 64)),
    ];
    // Each parameter set with its verifier (public key, M', signature).
    type Verify = fn(&[u8], &[u8], &[u8]) -> bool;
    let sets: [(CK_ULONG, Verify); 3] = [
        (CKP_ML_DSA_44, verifies::<MlDsa44>),
        (CKP_ML_DSA_65, verifies::<MlDsa65>),
        (CKP_ML_DSA_87, verifies::<MlDsa87>),
    ];
    let mut ctx = b"oxihsm context".to_vec();
    for (set, verify) in sets {
        let (pu, pr) = pair(&s, CKM_ML_DSA_KEY_PAIR_GEN, T::default().ulong(CKA_PARAMETER_SET, set), T::default());
        let pk = s.get_bytes(pu, CKA_VALUE).unwrap();
        for hedge in [CKH_DETERMINISTIC_REQUIRED, CKH_HEDGE_REQUIRED] {
            let mut p = CK_SIGN_ADDITIONAL_CONTEXT {
                hedgeVariant: hedge,
                pContext: ctx.as_mut_ptr(),
                ulContextLen: ctx.len() as CK_ULONG,
            };
            // Pure ML-DSA: M' = 0, the context's length, the context, M.
            let sig = s.sign(&mut mech(CKM_ML_DSA, Some(&mut p)), pr, &msg).unwrap();
            let pure = [&[0, ctx.len() as u8][..], &ctx, &msg].concat();
            assert!(verify(&pk, &pure, &sig), "CKM_ML_DSA, set {set}");
            for (m, arc, ph) in &hashes {
                let sig = s.sign(&mut mech(*m, Some(&mut p)), pr, &msg).unwrap();
                let oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, *arc];
                let m_prime = [&[1, ctx.len() as u8][..], &ctx, &oid, ph].concat();
                assert!(verify(&pk, &m_prime, &sig), "mechanism 0x{m:x}, set {set}, hedge {hedge}");
                let other = &hashes[(*arc as usize) % hashes.len()];
                let wrong = [&[1, ctx.len() as u8][..], &ctx, &oid, &other.2].concat();
                assert!(!verify(&pk, &wrong, &sig), "mechanism 0x{m:x}: another PH");
            }
        }
    }
}

/// `input` encrypted (or decrypted) in two parts, its halves.
fn in_halves(s: &RawSession, m: &mut CK_MECHANISM, k: CK_OBJECT_HANDLE, encrypt: bool, input: &[u8]) -> Vec<u8> {
    let (a, b) = input.split_at(input.len() / 2);
    s.crypt_parts(m, k, encrypt, &[a, b]).unwrap()
}
