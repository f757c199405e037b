//! RSA, EC, Ed25519 and X25519 through liboxihsm.so, checked by an independent
//! implementation (the `openssl` command) both ways: token signatures verified by openssl,
//! openssl signatures verified by the token, OAEP ciphertexts crossing in both directions,
//! ECDH agreeing with openssl, keys made by `openssl genpkey` imported with C_CreateObject.
//! DSA and Diffie-Hellman are in tests/dsa_dh.rs.

mod common;
use common::asymmetric::*;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

#[test]
fn generated_keys_have_the_spec_attributes() {
    let e = env();
    let s = &e.s;
    let (pubk, privk) = rsa_pair(s, 2048);
    assert_eq!(s.get_bytes(pubk, CKA_MODULUS_BITS).unwrap(), 2048u64.to_ne_bytes());
    assert_eq!(s.get_bytes(pubk, CKA_PUBLIC_EXPONENT).unwrap(), [1, 0, 1]);
    assert_eq!(
        s.get_bytes(privk, CKA_MODULUS).unwrap(),
        s.get_bytes(pubk, CKA_MODULUS).unwrap(),
        "public attributes on the private key too"
    );
    assert_eq!(s.get_bytes(privk, CKA_PUBLIC_KEY_INFO).unwrap(), s.get_bytes(pubk, CKA_PUBLIC_KEY_INFO).unwrap());
    assert_eq!(s.get_bytes(privk, CKA_PRIVATE_EXPONENT), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert_eq!(s.get_bytes(privk, CKA_PRIME_1), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert!(
        s.get_bool(privk, CKA_LOCAL)
            && s.get_bool(privk, CKA_ALWAYS_SENSITIVE)
            && s.get_bool(privk, CKA_NEVER_EXTRACTABLE)
    );
    assert_eq!(s.get_bytes(privk, CKA_KEY_GEN_MECHANISM).unwrap(), CKM_RSA_PKCS_KEY_PAIR_GEN.to_ne_bytes());
    assert!(s.get_bool(pubk, CKA_VERIFY) && s.get_bool(pubk, CKA_ENCRYPT) && !s.get_bool(pubk, CKA_PRIVATE));
    assert!(s.get_bool(privk, CKA_SIGN) && s.get_bool(privk, CKA_DECRYPT) && s.get_bool(privk, CKA_PRIVATE));
    // A chosen public exponent.
    let (p3, _) = s
        .keypair(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            &mut T::default().ulong(CKA_MODULUS_BITS, 3072).bytes(CKA_PUBLIC_EXPONENT, &[3]),
            &mut T::default(),
        )
        .unwrap();
    assert_eq!(s.get_bytes(p3, CKA_PUBLIC_EXPONENT).unwrap(), [3]);
    assert_eq!(s.get_bytes(p3, CKA_MODULUS).unwrap().len(), 384);

    for (params, len) in [(P256, 65usize), (P384, 97), (P521, 133)] {
        let (pubk, privk) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, params);
        let point = s.get_bytes(pubk, CKA_EC_POINT).unwrap();
        assert_eq!(point[0], 0x04, "CKA_EC_POINT is DER-wrapped");
        assert_eq!(&point[point.len() - len..][..1], &[0x04], "an uncompressed point inside");
        assert_eq!(s.get_bytes(privk, CKA_EC_POINT).unwrap(), point);
        // The SubjectPublicKeyInfo carries the same point, on both objects.
        let spki = s.get_bytes(pubk, CKA_PUBLIC_KEY_INFO).unwrap();
        assert_eq!(spki[spki.len() - len..], point[point.len() - len..]);
        assert_eq!(s.get_bytes(privk, CKA_PUBLIC_KEY_INFO).unwrap(), spki);
        assert_eq!(s.get_bytes(privk, CKA_EC_PARAMS).unwrap(), params);
        assert_eq!(s.get_bytes(privk, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
        assert!(s.get_bool(privk, CKA_DERIVE) && s.get_bool(privk, CKA_SIGN) && !s.get_bool(privk, CKA_DECRYPT));
    }
    let (edp, eds) = ec_pair(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519);
    assert_eq!(s.get_bytes(edp, CKA_EC_POINT).unwrap().len(), 34);
    assert!(s.get_bool(eds, CKA_SIGN) && !s.get_bool(eds, CKA_DERIVE));
    let (xp, xs) = ec_pair(s, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X25519);
    assert_eq!(s.get_bytes(xp, CKA_EC_POINT).unwrap().len(), 34);
    assert!(s.get_bool(xs, CKA_DERIVE) && !s.get_bool(xs, CKA_SIGN));
    for (p, k) in [(edp, eds), (xp, xs)] {
        let spki = s.get_bytes(p, CKA_PUBLIC_KEY_INFO).unwrap();
        assert_eq!(spki[spki.len() - 32..], s.get_bytes(p, CKA_EC_POINT).unwrap()[2..]);
        assert_eq!(s.get_bytes(k, CKA_PUBLIC_KEY_INFO).unwrap(), spki);
        assert_eq!(s.get_bytes(k, CKA_EC_POINT).unwrap(), s.get_bytes(p, CKA_EC_POINT).unwrap());
    }
    // Printable curve names work too, in any case; the point's length shows the curve.
    for (name, m, point) in [
        ("prime256v1", CKM_EC_KEY_PAIR_GEN, 65),
        ("secp256r1", CKM_EC_KEY_PAIR_GEN, 65),
        ("P-256", CKM_EC_KEY_PAIR_GEN, 65),
        ("secp384r1", CKM_EC_KEY_PAIR_GEN, 97),
        ("P-384", CKM_EC_KEY_PAIR_GEN, 97),
        ("secp521r1", CKM_EC_KEY_PAIR_GEN, 133),
        ("p-521", CKM_EC_KEY_PAIR_GEN, 133),
        ("edwards25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, 32),
        ("Ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, 32),
        ("curve25519", CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 32),
        ("X25519", CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 32),
    ] {
        let printable = der(0x13, name.as_bytes());
        let (p, _) = ec_pair(s, m, &printable);
        let header = if point > 127 { 3 } else { 2 };
        assert_eq!(s.get_bytes(p, CKA_EC_POINT).unwrap().len(), header + point, "{name}");
        assert_eq!(s.get_bytes(p, CKA_EC_PARAMS).unwrap(), printable, "{name}: the parameters are kept as given");
    }
    let unknown = der(0x13, b"secp192r1");
    assert_eq!(
        s.keypair(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, &unknown), &mut T::default()).err(),
        Some(CKR_CURVE_NOT_SUPPORTED)
    );

    // Refusals.
    let e = |m, p: &mut T| s.keypair(m, p, &mut T::default()).err();
    assert_eq!(e(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default()), Some(CKR_TEMPLATE_INCOMPLETE));
    let refused = e(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, 768));
    assert_eq!(refused, Some(CKR_ATTRIBUTE_VALUE_INVALID));
    assert_eq!(e(CKM_EC_KEY_PAIR_GEN, &mut T::default()), Some(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(
        e(CKM_EC_EDWARDS_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x71])),
        Some(CKR_CURVE_NOT_SUPPORTED),
        "Ed448"
    );
    assert_eq!(
        e(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, &[0x06, 0x03, 0x2b, 0x65, 0x6f])),
        Some(CKR_CURVE_NOT_SUPPORTED),
        "X448"
    );
    assert_eq!(e(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, ED25519)), Some(CKR_CURVE_NOT_SUPPORTED));
    assert_eq!(
        e(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, &[1, 2, 3])),
        Some(CKR_DOMAIN_PARAMS_INVALID)
    );
    assert_eq!(
        e(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, P256).bytes(CKA_EC_POINT, &[4])),
        Some(CKR_ATTRIBUTE_READ_ONLY)
    );
}

/// CKA_EC_PARAMS spelt out (specifiedCurve, `openssl ecparam -param_enc explicit`) are
/// accepted for the curves they equal, kept as given, and give keys that interoperate; explicit
/// parameters of another curve are CKR_CURVE_NOT_SUPPORTED, a truncated SEQUENCE invalid.
#[test]
fn explicit_curve_parameters() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let explicit =
        |name: &str| openssl_ok(dir, &["ecparam", "-name", name, "-param_enc", "explicit", "-outform", "DER"]);
    let p384 = explicit("secp384r1");
    assert_eq!(p384[0], 0x30);
    let (pubk, privk) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, &p384);
    assert_eq!(s.get_bytes(pubk, CKA_EC_PARAMS).unwrap(), p384);
    assert_eq!(s.get_bytes(privk, CKA_EC_PARAMS).unwrap(), p384);
    // The SPKI names the curve; openssl verifies the token's signature with it.
    spki_file(s, pubk, dir, "ec.der");
    let text =
        String::from_utf8(openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "ec.der", "-text"])).unwrap();
    assert!(text.contains("secp384r1"), "{text}");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "ec.der", "-out", "ec.pem"]);
    let msg = b"signed under explicit parameters";
    std::fs::write(dir.join("msg"), msg).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA384, None), privk, msg).unwrap();
    assert!(openssl_verifies(dir, "-sha384", "ec.pem", &der_sig(&sig)));
    // A public key imported with explicit P-256 parameters verifies what a named-curve twin signs.
    let p256 = explicit("prime256v1");
    let (named_pub, named_priv) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    let point = s.get_bytes(named_pub, CKA_EC_POINT).unwrap();
    let mut t = T::key(CKO_PUBLIC_KEY, CKK_EC).bytes(CKA_EC_PARAMS, &p256).bytes(CKA_EC_POINT, &point);
    let imported = s.create(&mut t).unwrap();
    assert_eq!(s.get_bytes(imported, CKA_EC_PARAMS).unwrap(), p256);
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), named_priv, msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), imported, msg, &sig).unwrap();
    // A curve the backend lacks, spelt out or named; and a SEQUENCE cut short.
    let brainpool = explicit("brainpoolP256r1");
    let refused =
        |p: &[u8]| s.keypair(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, p), &mut T::default());
    assert_eq!(refused(&brainpool).err(), Some(CKR_CURVE_NOT_SUPPORTED));
    // Spelt out in more than 255 bytes (a two-byte DER length).
    let brainpool384 = explicit("brainpoolP384r1");
    assert_eq!(brainpool384[..2], [0x30, 0x82]);
    assert_eq!(refused(&brainpool384).err(), Some(CKR_CURVE_NOT_SUPPORTED));
    let brainpool_oid = [0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
    assert_eq!(refused(&brainpool_oid).err(), Some(CKR_CURVE_NOT_SUPPORTED));
    // Parameters that are no X9.62 Parameters at all (cut short, empty, implicitlyCA's NULL,
    // a bare byte): CKR_DOMAIN_PARAMS_INVALID, the EC section's code for an invalid
    // representation; for a key object made with them too.
    for bad in [&p256[..p256.len() - 1], &[], &[0x05, 0x00], &[0x06]] {
        assert_eq!(refused(bad).err(), Some(CKR_DOMAIN_PARAMS_INVALID), "{bad:02x?}");
    }
    let mut t = T::key(CKO_PUBLIC_KEY, CKK_EC).bytes(CKA_EC_PARAMS, &[0x05, 0x00]).bytes(CKA_EC_POINT, &point);
    assert_eq!(s.create(&mut t), Err(CKR_DOMAIN_PARAMS_INVALID));
}

/// The RSA sizes OpenDNSSEC's `ods-hsmutil test` asks of SoftHSMv2 (its shipped policy signs
/// zones with 1024-bit keys): 1024 to 8192 bits in AWS-LC's steps of 128, as the mechanism
/// information says; the sizes and public exponents AWS-LC cannot make are refused with the
/// specification's codes, not a generation failure.
#[test]
fn rsa_key_sizes_from_1024_to_8192_bits() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let slot = e.p.get_slots_with_token().unwrap()[0];
    let info = e.p.get_mechanism_info(slot, cryptoki::mechanism::MechanismType::RSA_PKCS_KEY_PAIR_GEN).unwrap();
    assert_eq!((info.min_key_size(), info.max_key_size()), (1024, 8192));
    let msg = b"example.org. DNSKEY".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();
    for bits in [1024u64, 1536] {
        let (pubk, privk) = rsa_pair(s, bits);
        assert_eq!(s.get_bytes(pubk, CKA_MODULUS_BITS).unwrap(), bits.to_ne_bytes());
        assert_eq!(s.get_bytes(pubk, CKA_MODULUS).unwrap().len() as u64, bits / 8);
        let name = format!("rsa{bits}");
        spki_file(s, pubk, dir, &format!("{name}.der"));
        openssl_ok(
            dir,
            &["pkey", "-pubin", "-inform", "DER", "-in", &format!("{name}.der"), "-out", &format!("{name}.pem")],
        );
        let text =
            String::from_utf8(openssl_ok(dir, &["pkey", "-pubin", "-in", &format!("{name}.pem"), "-text"])).unwrap();
        assert!(text.contains(&format!("({bits} bit)")), "{text}");
        let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), privk, &msg).unwrap();
        std::fs::write(dir.join("sig"), &sig).unwrap();
        let out = openssl_ok(dir, &["dgst", "-sha256", "-verify", &format!("{name}.pem"), "-signature", "sig", "msg"]);
        assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    }
    let refused = |bits: CK_ULONG, exponent: &[u8]| {
        let mut t = T::default().ulong(CKA_MODULUS_BITS, bits).bytes(CKA_PUBLIC_EXPONENT, exponent);
        s.keypair(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut t, &mut T::default()).err()
    };
    let f4 = [1u8, 0, 1];
    // Sizes it does not make: an invalid CKA_MODULUS_BITS (C_GenerateKeyPair's return values
    // have no CKR_KEY_SIZE_RANGE).
    for bits in [0, 512, 768, 1000, 2056, 4095, 8320, 16384, CK_ULONG::MAX] {
        assert_eq!(refused(bits, &f4), Some(CKR_ATTRIBUTE_VALUE_INVALID), "{bits} bits");
    }
    // AWS-LC makes keys with an odd exponent of 3 to 32 bits; a leading zero byte is fine.
    // Another is CKR_TEMPLATE_INCONSISTENT: "shall be returned if the implementation cannot
    // use the supplied exponent value" (RSA key pair generation).
    for exponent in [&[][..], &[0], &[1], &[0, 1], &[1, 0, 0], &[1, 0, 0, 0, 1], &[0xff, 0xff, 0xff, 0xff, 0xff]] {
        assert_eq!(refused(2048, exponent), Some(CKR_TEMPLATE_INCONSISTENT), "exponent {exponent:?}");
    }
    let (pubk, privk) = s
        .keypair(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            &mut T::default().ulong(CKA_MODULUS_BITS, 1024).bytes(CKA_PUBLIC_EXPONENT, &[0, 0xff, 0xff, 0xff, 0xff]),
            &mut T::default(),
        )
        .unwrap();
    for k in [pubk, privk] {
        let exponent = s.get_bytes(k, CKA_PUBLIC_EXPONENT).unwrap();
        assert_eq!(exponent.into_iter().skip_while(|b| *b == 0).collect::<Vec<_>>(), [0xff; 4]);
    }
}

/// RSA key objects are kept from 512 bits (SoftHSMv2's own tests make 512-bit ones), but
/// every RSA mechanism starts at 1024: C_*Init with a smaller key is CKR_KEY_SIZE_RANGE
/// (CKR_WRAPPING_KEY_SIZE_RANGE as a wrapping key, CKR_UNWRAPPING_KEY_SIZE_RANGE as an
/// unwrapping one). A modulus under 512 bits is no key (CKR_ATTRIBUTE_VALUE_INVALID).
#[test]
fn rsa_keys_under_1024_bits_are_kept_not_used() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    openssl_ok(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:512", "-out", "small.pem"]);
    let pem = std::fs::read_to_string(dir.join("small.pem")).unwrap();
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let (n, e_) = (k.n().to_bytes_be(), k.e().to_bytes_be());
    let public = |t: T| {
        t.ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_RSA)
            .bytes(CKA_MODULUS, &n)
            .bytes(CKA_PUBLIC_EXPONENT, &e_)
    };
    let pubk = s.create(&mut public(T::default()).flag(CKA_WRAP, true)).unwrap();
    assert_eq!(s.get_ulong(pubk, CKA_MODULUS_BITS), Ok(512));
    let privk = s
        .create(
            &mut T::key(CKO_PRIVATE_KEY, CKK_RSA)
                .bytes(CKA_MODULUS, &n)
                .bytes(CKA_PUBLIC_EXPONENT, &e_)
                .bytes(CKA_PRIVATE_EXPONENT, &k.d().to_bytes_be())
                .bytes(CKA_PRIME_1, &k.primes()[0].to_bytes_be())
                .bytes(CKA_PRIME_2, &k.primes()[1].to_bytes_be())
                .flag(CKA_UNWRAP, true),
        )
        .unwrap();
    let msg = b"too short a key".to_vec();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), privk, &msg), Err(CKR_KEY_SIZE_RANGE));
    assert_eq!(s.verify(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), pubk, &msg, &[0; 64]), Err(CKR_KEY_SIZE_RANGE));
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_RSA_PKCS, None), pubk, &msg), Err(CKR_KEY_SIZE_RANGE));
    let aes = s.secret_key(CKK_AES, &[3u8; 16]).unwrap();
    assert_eq!(s.wrap(&mut mech::<u8>(CKM_RSA_PKCS, None), pubk, aes), Err(CKR_WRAPPING_KEY_SIZE_RANGE));
    let mut t = T::secret(CKK_AES);
    let rv = s.unwrap(&mut mech::<u8>(CKM_RSA_PKCS, None), privk, &[0; 64], &mut t);
    assert_eq!(rv, Err(CKR_UNWRAPPING_KEY_SIZE_RANGE));
    // Under 512 bits: not kept.
    let tiny = [&[0xc5][..], &[0x11; 30], &[0x35]].concat();
    let mut t = T::key(CKO_PUBLIC_KEY, CKK_RSA).bytes(CKA_MODULUS, &tiny).bytes(CKA_PUBLIC_EXPONENT, &e_);
    assert_eq!(s.create(&mut t), Err(CKR_ATTRIBUTE_VALUE_INVALID));
}

#[test]
fn token_signatures_verify_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let msg = b"a message signed inside the token".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();
    let (rp, rs) = rsa_pair(s, 2048);
    spki_file(s, rp, dir, "rsa.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "rsa.der", "-out", "rsa.pem"]);
    let verify = |sig: &[u8], extra: &[&str]| {
        std::fs::write(dir.join("sig"), sig).unwrap();
        let mut args = vec!["dgst"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-verify", "rsa.pem", "-signature", "sig", "msg"]);
        let out = openssl_ok(dir, &args);
        assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    };
    verify(&s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rs, &msg).unwrap(), &["-sha256"]);
    verify(&s.sign(&mut mech::<u8>(CKM_SHA512_RSA_PKCS, None), rs, &msg).unwrap(), &["-sha512"]);
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA384, mgf: CKG_MGF1_SHA384, sLen: 48 };
    verify(
        &s.sign(&mut mech(CKM_SHA384_RSA_PKCS_PSS, Some(&mut pss)), rs, &msg).unwrap(),
        &["-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48"],
    );
    // SHA-3 with PKCS #1 v1.5 and PSS (MGF1 over the same SHA-3, salt of the hash's length).
    for (name, len, pkcs, pss_m, hash, mgf) in [
        ("sha3-224", 28, CKM_SHA3_224_RSA_PKCS, CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_224, CKG_MGF1_SHA3_224),
        ("sha3-256", 32, CKM_SHA3_256_RSA_PKCS, CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_256, CKG_MGF1_SHA3_256),
        ("sha3-384", 48, CKM_SHA3_384_RSA_PKCS, CKM_SHA3_384_RSA_PKCS_PSS, CKM_SHA3_384, CKG_MGF1_SHA3_384),
        ("sha3-512", 64, CKM_SHA3_512_RSA_PKCS, CKM_SHA3_512_RSA_PKCS_PSS, CKM_SHA3_512, CKG_MGF1_SHA3_512),
    ] {
        let flag = format!("-{name}");
        verify(&s.sign(&mut mech::<u8>(pkcs, None), rs, &msg).unwrap(), &[&flag]);
        let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: hash, mgf, sLen: len };
        let (salt, mgf_md) = (format!("rsa_pss_saltlen:{len}"), format!("rsa_mgf1_md:{name}"));
        verify(
            &s.sign(&mut mech(pss_m, Some(&mut pss)), rs, &msg).unwrap(),
            &[&flag, "-sigopt", "rsa_padding_mode:pss", "-sigopt", &salt, "-sigopt", &mgf_md],
        );
    }
    // PSS over a caller's hash, with an MGF1 hash different from the message hash.
    let digest = openssl_ok(dir, &["dgst", "-sha256", "-binary", "msg"]);
    let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA1, sLen: 20 };
    let sig = s.sign(&mut mech(CKM_RSA_PKCS_PSS, Some(&mut pss)), rs, &digest).unwrap();
    verify(
        &sig,
        &["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:20", "-sigopt", "rsa_mgf1_md:sha1"],
    );
    s.verify(&mut mech(CKM_RSA_PKCS_PSS, Some(&mut pss)), rp, &digest, &sig).unwrap();
    assert_eq!(s.sign(&mut mech(CKM_RSA_PKCS_PSS, Some(&mut pss)), rs, &digest[..31]), Err(CKR_DATA_LEN_RANGE));
    // CKM_RSA_PKCS over a caller's DigestInfo equals SHA256_RSA_PKCS.
    let mut info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    info.extend_from_slice(&digest);
    assert_eq!(
        s.sign(&mut mech::<u8>(CKM_RSA_PKCS, None), rs, &info).unwrap(),
        s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rs, &msg).unwrap()
    );
    // Raw RSA: the token's X.509 signature is the public operation's preimage.
    let mut block = vec![0u8; 256];
    block[255] = 42;
    let raw = s.sign(&mut mech::<u8>(CKM_RSA_X_509, None), rs, &block).unwrap();
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_RSA_X_509, None), rp, &block[..]).map(|v| v.len()).unwrap(), 256);
    s.verify(&mut mech::<u8>(CKM_RSA_X_509, None), rp, &block, &raw).unwrap();
    // Shorter input is the same integer: zero-extended on the left, so the same signature
    // (SoftHSMv2 and PyKCS11 sign text this way); longer than the modulus is refused.
    assert_eq!(s.sign(&mut mech::<u8>(CKM_RSA_X_509, None), rs, &[42]).unwrap(), raw);
    s.verify(&mut mech::<u8>(CKM_RSA_X_509, None), rp, &[42], &raw).unwrap();
    assert_eq!(s.sign(&mut mech::<u8>(CKM_RSA_X_509, None), rs, &[1u8; 257]), Err(CKR_DATA_LEN_RANGE));
    // The inputs AWS-LC does not put through the private key (0, 1 and n - 1) are their own
    // results (d and e are odd), for signing and decryption alike; the public operation
    // agrees. (Java's RSA/ECB/NoPadding decrypts 00..01 this way.)
    let mut n_minus_one = s.get_bytes(rp, CKA_MODULUS).unwrap();
    *n_minus_one.last_mut().unwrap() -= 1;
    let mut one = vec![0u8; 256];
    one[255] = 1;
    let mut two = one.clone();
    two[255] = 2;
    let x509 = || mech::<u8>(CKM_RSA_X_509, None);
    for block in [vec![0u8; 256], one, n_minus_one] {
        assert_eq!(s.sign(&mut x509(), rs, &block).unwrap(), block);
        assert_eq!(s.decrypt(&mut x509(), rs, &block).unwrap(), block);
        assert_eq!(s.encrypt(&mut x509(), rp, &block).unwrap(), block);
    }
    let m = s.decrypt(&mut x509(), rs, &two).unwrap();
    assert_ne!(m, two);
    assert_eq!(s.encrypt(&mut x509(), rp, &m).unwrap(), two);

    // ECDSA on P-224, P-256, P-384 and secp256k1, verified by openssl from the token's SPKI.
    for (params, n, hash, m) in [
        (P224, 28, "-sha224", CKM_ECDSA_SHA224),
        (P256, 32, "-sha256", CKM_ECDSA_SHA256),
        (P384, 48, "-sha384", CKM_ECDSA_SHA384),
        (SECP256K1, 32, "-sha256", CKM_ECDSA_SHA256),
    ] {
        let (ep, es) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, params);
        spki_file(s, ep, dir, "ec.der");
        openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "ec.der", "-out", "ec.pem"]);
        let sig = s.sign(&mut mech::<u8>(m, None), es, &msg).unwrap();
        assert_eq!(sig.len(), 2 * n);
        assert!(openssl_verifies(dir, hash, "ec.pem", &der_sig(&sig)));
        // CKM_ECDSA over a hash of any length.
        for len in [20usize, 32, 64] {
            let h = vec![0x5au8; len];
            let sig = s.sign(&mut mech::<u8>(CKM_ECDSA, None), es, &h).unwrap();
            s.verify(&mut mech::<u8>(CKM_ECDSA, None), ep, &h, &sig).unwrap();
            let mut bad = sig.clone();
            bad[3] ^= 1;
            assert_eq!(s.verify(&mut mech::<u8>(CKM_ECDSA, None), ep, &h, &bad), Err(CKR_SIGNATURE_INVALID));
        }
    }

    // ECDSA with SHA-3, on P-256.
    let (ep, es) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    spki_file(s, ep, dir, "ec.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "ec.der", "-out", "ec.pem"]);
    for (hash, m) in [
        ("-sha3-224", CKM_ECDSA_SHA3_224),
        ("-sha3-256", CKM_ECDSA_SHA3_256),
        ("-sha3-384", CKM_ECDSA_SHA3_384),
        ("-sha3-512", CKM_ECDSA_SHA3_512),
    ] {
        let sig = s.sign(&mut mech::<u8>(m, None), es, &msg).unwrap();
        assert!(openssl_verifies(dir, hash, "ec.pem", &der_sig(&sig)), "{hash}");
    }

    // Ed25519.
    let (dp, ds) = ec_pair(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519);
    spki_file(s, dp, dir, "ed.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "ed.der", "-out", "ed.pem"]);
    let sig = s.sign(&mut mech::<u8>(CKM_EDDSA, None), ds, &msg).unwrap();
    std::fs::write(dir.join("sig"), &sig).unwrap();
    let out = openssl_ok(
        dir,
        &["pkeyutl", "-verify", "-pubin", "-inkey", "ed.pem", "-rawin", "-in", "msg", "-sigfile", "sig"],
    );
    assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"));
    // Ed25519ctx and Ed25519ph verify inside, and differ from pure.
    let mut ctx = b"context".to_vec();
    let mut p = CK_EDDSA_PARAMS { phFlag: 0, ulContextDataLen: 7, pContextData: ctx.as_mut_ptr() };
    let sctx = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), ds, &msg).unwrap();
    assert_ne!(sctx, sig);
    s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), dp, &msg, &sctx).unwrap();
    p.phFlag = 1;
    let sph = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), ds, &msg).unwrap();
    s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), dp, &msg, &sph).unwrap();
    assert_eq!(s.verify(&mut mech::<u8>(CKM_EDDSA, None), dp, &msg, &sph), Err(CKR_SIGNATURE_INVALID));
    // A parameter with phFlag false is Ed25519ctx, whose context must not be empty (RFC
    // 8032): refused, not answered with a pure signature. Ed25519ph takes an empty one.
    p.ulContextDataLen = 0;
    let sph_empty = s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), ds, &msg).unwrap();
    s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), dp, &msg, &sph_empty).unwrap();
    p.phFlag = 0;
    assert_eq!(s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), ds, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(s.verify(&mut mech(CKM_EDDSA, Some(&mut p)), dp, &msg, &sig), Err(CKR_MECHANISM_PARAM_INVALID));
    p.pContextData = null_mut();
    assert_eq!(s.sign(&mut mech(CKM_EDDSA, Some(&mut p)), ds, &msg), Err(CKR_MECHANISM_PARAM_INVALID));
    // Wrong key for the mechanism, public key used to sign.
    assert_eq!(s.sign(&mut mech::<u8>(CKM_ECDSA, None), rs, &msg), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rp, &msg), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
}

/// P-224 and secp256k1 (beside the NIST curves of the tests above): keys made by openssl
/// imported and used both ways, ECDH agreeing with openssl, curve names, PKCS#8 wrapping.
#[test]
fn p224_and_secp256k1_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let msg = b"a message on a smaller or a Koblitz curve".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();
    let kek = aes_kek(s);
    for (params, name, n, hash, m) in
        [(P224, "P-224", 28, "-sha224", CKM_ECDSA_SHA224), (SECP256K1, "secp256k1", 32, "-sha256", CKM_ECDSA_SHA256)]
    {
        let (es, ep, point) = openssl_ec_key(s, dir, name, name, params);
        let (key, public) = (format!("{name}.pem"), format!("{name}.pub.pem"));
        assert_eq!(s.get_bytes(es, CKA_EC_POINT).unwrap()[2..], point[..], "{name}: computed point");
        // The token's SPKI is openssl's.
        let spki = spki_file(s, ep, dir, "other.der");
        let theirs = openssl_ok(dir, &["pkey", "-pubin", "-in", &public, "-outform", "DER"]);
        assert_eq!(std::fs::read(spki).unwrap(), theirs, "{name}: SPKI");
        // openssl signs, the token verifies; the token signs, openssl verifies.
        openssl_ok(dir, &["dgst", hash, "-sign", &key, "-out", "sig", "msg"]);
        let sig = raw_sig(&std::fs::read(dir.join("sig")).unwrap(), n);
        s.verify(&mut mech::<u8>(m, None), ep, &msg, &sig).unwrap();
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert_eq!(s.verify(&mut mech::<u8>(m, None), ep, &msg, &bad), Err(CKR_SIGNATURE_INVALID), "{name}");
        let sig = s.sign(&mut mech::<u8>(m, None), es, &msg).unwrap();
        assert_eq!(sig.len(), 2 * n);
        assert!(openssl_verifies(dir, hash, &public, &der_sig(&sig)), "{name}");
        // ECDH with a token pair: both sides agree.
        let (tp, ts) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, params);
        spki_file(s, tp, dir, "tokenpub.der");
        openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "tokenpub.der", "-out", "tokenpub.pem"]);
        let outside = openssl_ok(dir, &["pkeyutl", "-derive", "-inkey", &key, "-peerkey", "tokenpub.pem"]);
        assert_eq!(outside.len(), n);
        assert_eq!(ecdh(s, ts, &point).unwrap(), outside, "{name}: ECDH");
        // A point of another curve is refused as the peer.
        let other = s.get_bytes(ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256).0, CKA_EC_POINT).unwrap();
        assert_eq!(ecdh(s, ts, &other), Err(CKR_MECHANISM_PARAM_INVALID), "{name}");
        // The curve by its printable name.
        let (np, _) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, &der(0x13, name.as_bytes()));
        assert_eq!(s.get_bytes(np, CKA_EC_POINT).unwrap().len(), 2 + 1 + 2 * n);
        // PKCS#8 under RFC 5649: the unwrapped key is the same key.
        let (gp, gs) = s
            .keypair(
                CKM_EC_KEY_PAIR_GEN,
                &mut T::default().bytes(CKA_EC_PARAMS, params),
                &mut T::default().flag(CKA_EXTRACTABLE, true),
            )
            .unwrap();
        let wrapped = s.wrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, gs).unwrap();
        let back = s
            .unwrap(
                &mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None),
                kek,
                &wrapped,
                &mut T::key(CKO_PRIVATE_KEY, CKK_EC).flag(CKA_SIGN, true),
            )
            .unwrap();
        assert_eq!(s.get_bytes(back, CKA_EC_PARAMS).unwrap(), params);
        assert_eq!(s.get_bytes(back, CKA_EC_POINT).unwrap(), s.get_bytes(gp, CKA_EC_POINT).unwrap(), "{name}");
        let sig = s.sign(&mut mech::<u8>(m, None), back, &msg).unwrap();
        s.verify(&mut mech::<u8>(m, None), gp, &msg, &sig).unwrap();
    }
}

#[test]
fn openssl_keys_imported_and_used_both_ways() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let msg = b"signed outside, verified inside".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();

    // RSA.
    let (rs, rp, f) = openssl_rsa_key(s, dir, "rsa");
    assert_eq!(s.get_bytes(rs, CKA_MODULUS_BITS).unwrap(), 2048u64.to_ne_bytes());
    assert!(!s.get_bool(rs, CKA_ALWAYS_SENSITIVE) && !s.get_bool(rs, CKA_LOCAL));
    openssl_ok(dir, &["dgst", "-sha256", "-sign", "rsa.pem", "-out", "sig", "msg"]);
    s.verify(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rp, &msg, &std::fs::read(dir.join("sig")).unwrap()).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rs, &msg).unwrap();
    assert!(openssl_verifies(dir, "-sha256", "rsa.pub.pem", &sig));
    // A corrupted private key is refused at import.
    let mut bad = f["privateExponent"].clone();
    bad[10] ^= 1;
    let mut badt = T::key(CKO_PRIVATE_KEY, CKK_RSA);
    for (attr, field) in RSA_FIELDS {
        badt = badt.bytes(attr, if attr == CKA_PRIVATE_EXPONENT { &bad } else { &f[field] });
    }
    assert_eq!(s.create(&mut badt), Err(CKR_ATTRIBUTE_VALUE_INVALID));

    // OAEP: SHA-256 with a label, both ways.
    let mut label = b"oxihsm label".to_vec();
    let (mut oaep, opts) = oaep_sha256(&mut label);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", "rsa.pub.pem", "-in", "msg", "-out", "ct"];
    args.extend_from_slice(&opts);
    openssl_ok(dir, &args);
    let ct = std::fs::read(dir.join("ct")).unwrap();
    assert_eq!(
        s.decrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rs, &ct).unwrap(),
        msg,
        "openssl's OAEP decrypted inside"
    );
    let ct = s.encrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rp, &msg).unwrap();
    std::fs::write(dir.join("ct"), &ct).unwrap();
    let mut args = vec!["pkeyutl", "-decrypt", "-inkey", "rsa.pem", "-in", "ct"];
    args.extend_from_slice(&opts);
    assert_eq!(openssl_ok(dir, &args), msg, "the token's OAEP decrypted by openssl");
    let mut bad = ct.clone();
    bad[5] ^= 1;
    assert_eq!(s.decrypt(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rs, &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    // PKCS#1 v1.5 encryption both ways.
    let ct = s.encrypt(&mut mech::<u8>(CKM_RSA_PKCS, None), rp, &msg).unwrap();
    std::fs::write(dir.join("ct"), &ct).unwrap();
    assert_eq!(openssl_ok(dir, &["pkeyutl", "-decrypt", "-inkey", "rsa.pem", "-in", "ct"]), msg);

    // EC P-256: the public point given raw here (DER-wrapped elsewhere): both are accepted.
    let (es, ep, point) = openssl_ec_key(s, dir, "ec", "P-256", P256);
    assert_eq!(s.get_bytes(ep, CKA_EC_POINT).unwrap()[2..], point[..], "returned DER-wrapped");
    assert_eq!(s.get_bytes(es, CKA_EC_POINT).unwrap()[2..], point[..], "computed on the private key");
    openssl_ok(dir, &["dgst", "-sha256", "-sign", "ec.pem", "-out", "sig", "msg"]);
    let sig = raw_sig(&std::fs::read(dir.join("sig")).unwrap(), 32);
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), ep, &msg, &sig).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), es, &msg).unwrap();
    assert!(openssl_verifies(dir, "-sha256", "ec.pub.pem", &der_sig(&sig)));
    // A scalar that does not match the curve is refused.
    assert_eq!(
        s.create(&mut T::key(CKO_PRIVATE_KEY, CKK_EC).bytes(CKA_EC_PARAMS, P256).bytes(CKA_VALUE, &[0u8; 32])),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );

    // ECDH with openssl as the peer: both sides get the same secret.
    let (tp, ts) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    spki_file(s, tp, dir, "tokenpub.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "tokenpub.der", "-out", "tokenpub.pem"]);
    let outside = openssl_ok(dir, &["pkeyutl", "-derive", "-inkey", "ec.pem", "-peerkey", "tokenpub.pem"]);
    let mut peer = point.clone();
    let mut dp = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: peer.len() as _,
        pPublicData: peer.as_mut_ptr(),
    };
    let readable = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let k = s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), outside);
    // The peer point DER-wrapped gives the same, and an X9.63 KDF on top is deterministic.
    let mut wrapped = vec![0x04, 65];
    wrapped.extend_from_slice(&point);
    dp.pPublicData = wrapped.as_mut_ptr();
    dp.ulPublicDataLen = wrapped.len() as _;
    let k2 = s.derive(&mut mech(CKM_ECDH1_COFACTOR_DERIVE, Some(&mut dp)), ts, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k2, CKA_VALUE).unwrap(), outside);
    dp.kdf = CKD_SHA256_KDF;
    let k3 =
        s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut readable().ulong(CKA_VALUE_LEN, 40)).unwrap();
    use sha2::Digest;
    let mut want = sha2::Sha256::new().chain_update(&outside).chain_update(1u32.to_be_bytes()).finalize().to_vec();
    want.extend(sha2::Sha256::new().chain_update(&outside).chain_update(2u32.to_be_bytes()).finalize());
    assert_eq!(s.get_bytes(k3, CKA_VALUE).unwrap(), want[..40]);
    // A bad peer point.
    let mut junk = vec![4u8; 65];
    dp.pPublicData = junk.as_mut_ptr();
    dp.ulPublicDataLen = junk.len() as _;
    dp.kdf = CKD_NULL;
    assert_eq!(
        s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );

    // Ed25519 and X25519 from openssl.
    openssl_ok(dir, &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "ed.pem", "-text", "-noout"])).unwrap());
    let eds = s
        .create(&mut T::key(CKO_PRIVATE_KEY, CKK_EC_EDWARDS).bytes(CKA_EC_PARAMS, ED25519).bytes(CKA_VALUE, &f["priv"]))
        .unwrap();
    assert_eq!(s.get_bytes(eds, CKA_EC_POINT).unwrap()[2..], f["pub"][..]);
    openssl_ok(dir, &["pkeyutl", "-sign", "-inkey", "ed.pem", "-rawin", "-in", "msg", "-out", "sig"]);
    assert_eq!(
        s.sign(&mut mech::<u8>(CKM_EDDSA, None), eds, &msg).unwrap(),
        std::fs::read(dir.join("sig")).unwrap(),
        "Ed25519 is deterministic"
    );
    openssl_ok(dir, &["genpkey", "-algorithm", "X25519", "-out", "x.pem"]);
    openssl_ok(dir, &["pkey", "-in", "x.pem", "-pubout", "-out", "xpub.pem"]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "x.pem", "-text", "-noout"])).unwrap());
    let (xp, xs) = ec_pair(s, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X25519);
    spki_file(s, xp, dir, "xtok.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "xtok.der", "-out", "xtok.pem"]);
    let outside = openssl_ok(dir, &["pkeyutl", "-derive", "-inkey", "x.pem", "-peerkey", "xtok.pem"]);
    assert_eq!(ecdh(s, xs, &f["pub"]).unwrap(), outside);
}

/// A generic secret that can be read back (with a KDF, 32 bytes of it).
fn kem_template(m: &CK_MECHANISM) -> T {
    let t = T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    if m.ulParameterLen == 0 { t } else { t.ulong(CKA_VALUE_LEN, 32) }
}

/// C_EncapsulateKey / C_DecapsulateKey with a template whose key can be read back: the
/// ciphertext and the new key's value.
fn encapsulate(s: &RawSession, m: &mut CK_MECHANISM, public: CK_OBJECT_HANDLE) -> Result<(Vec<u8>, Vec<u8>), CK_RV> {
    let (ct, key) = s.encapsulate(m, public, &mut kem_template(m))?;
    Ok((ct, s.get_bytes(key, CKA_VALUE).unwrap()))
}

fn decapsulate(s: &RawSession, m: &mut CK_MECHANISM, private: CK_OBJECT_HANDLE, ct: &[u8]) -> Result<Vec<u8>, CK_RV> {
    let key = s.decapsulate(m, private, ct, &mut kem_template(m))?;
    Ok(s.get_bytes(key, CKA_VALUE).unwrap())
}

/// ECDH as a KEM (3.2 §6.3: CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE in
/// C_EncapsulateKey / C_DecapsulateKey): the ciphertext is an ephemeral public key, and the
/// shared secret is what `openssl pkeyutl -derive` computes from it with the recipient's
/// private key (made by openssl and imported); with a KDF, the X9.63 KDF of it.
#[test]
fn ecdh_as_a_kem() {
    use sha2::Digest;
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let slot = {
        let mut info = CK_SESSION_INFO { slotID: 0, state: 0, flags: 0, ulDeviceError: 0 };
        // SAFETY: a live CK_SESSION_INFO.
        assert_eq!(unsafe { s.lib.C_GetSessionInfo(s.h, &mut info) }, CKR_OK);
        info.slotID
    };
    for ty in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        // SAFETY: a live CK_MECHANISM_INFO.
        assert_eq!(unsafe { s.lib.C_GetMechanismInfo(slot, ty, &mut info) }, CKR_OK);
        let want = CKF_DERIVE | CKF_ENCAPSULATE | CKF_DECAPSULATE;
        assert_eq!(info.flags & want, want, "{ty:#x}");
    }
    // openssl's view of the shared secret for a ciphertext (an ephemeral public key whose
    // SubjectPublicKeyInfo is `spki_prefix || ct`) and the recipient's private key file.
    let outside = |spki_prefix: &str, ct: &[u8], key: &str| {
        std::fs::write(dir.join("eph.der"), [unhex(spki_prefix), ct.to_vec()].concat()).unwrap();
        openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "eph.der", "-out", "eph.pem"]);
        openssl_ok(dir, &["pkeyutl", "-derive", "-inkey", key, "-peerkey", "eph.pem"])
    };
    let (p256_private, p256_public, _) = openssl_ec_key(s, dir, "recipient", "P-256", P256);
    openssl_ok(dir, &["genpkey", "-algorithm", "X25519", "-out", "x.pem"]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "x.pem", "-text", "-noout"])).unwrap());
    let x_key = |class, attr, v: &[u8]| {
        let t = T::key(class, CKK_EC_MONTGOMERY).bytes(CKA_EC_PARAMS, X25519);
        s.create(&mut t.bytes(attr, v)).unwrap()
    };
    let x_private = x_key(CKO_PRIVATE_KEY, CKA_VALUE, &f["priv"]);
    let x_public = x_key(CKO_PUBLIC_KEY, CKA_EC_POINT, &f["pub"]);
    let curves = [
        (p256_public, p256_private, "recipient.pem", "3059301306072a8648ce3d020106082a8648ce3d030107034200", 65),
        (x_public, x_private, "x.pem", "302a300506032b656e032100", 32),
    ];
    for (public, private, pem, prefix, ct_len) in curves {
        for ty in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
            // No parameter: the raw shared secret.
            let (ct, value) = encapsulate(s, &mut mech::<u8>(ty, None), public).unwrap();
            assert_eq!(ct.len(), ct_len);
            let z = outside(prefix, &ct, pem);
            assert_eq!(value, z, "{ty:#x} {pem}");
            assert_eq!(decapsulate(s, &mut mech::<u8>(ty, None), private, &ct).unwrap(), z);
            // A fresh ephemeral key each time.
            assert_ne!(encapsulate(s, &mut mech::<u8>(ty, None), public).unwrap().0, ct);
        }
        // With a KDF and shared data (and no public data): SHA-256(z || 00000001 || shared).
        let mut shared = b"kem shared info".to_vec();
        let mut p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_SHA256_KDF,
            ulSharedDataLen: shared.len() as _,
            pSharedData: shared.as_mut_ptr(),
            ulPublicDataLen: 0,
            pPublicData: null_mut(),
        };
        let (ct, value) = encapsulate(s, &mut mech(CKM_ECDH1_DERIVE, Some(&mut p)), public).unwrap();
        let z = outside(prefix, &ct, pem);
        let want = sha2::Sha256::new().chain_update(&z).chain_update([0, 0, 0, 1]).chain_update(&shared).finalize();
        assert_eq!(value, want.to_vec(), "{pem} with a KDF");
        assert_eq!(decapsulate(s, &mut mech(CKM_ECDH1_DERIVE, Some(&mut p)), private, &ct).unwrap(), want.to_vec());

        // The other party's public data belongs to C_DeriveKey, not here.
        let mut point = ct.clone();
        p.ulPublicDataLen = point.len() as _;
        p.pPublicData = point.as_mut_ptr();
        let mut m = || mech(CKM_ECDH1_DERIVE, Some(&mut p));
        assert_eq!(encapsulate(s, &mut m(), public), Err(CKR_MECHANISM_PARAM_INVALID));
        assert_eq!(decapsulate(s, &mut m(), private, &ct), Err(CKR_MECHANISM_PARAM_INVALID));
        // A ciphertext of another length; a point not on the curve.
        let none = || mech::<u8>(CKM_ECDH1_DERIVE, None);
        assert_eq!(decapsulate(s, &mut none(), private, &ct[1..]), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
        if ct_len == 65 {
            let mut off = ct.clone();
            off[64] ^= 1;
            assert_eq!(decapsulate(s, &mut none(), private, &off), Err(CKR_ENCRYPTED_DATA_INVALID));
        }
        // The usage attributes: CKA_ENCAPSULATE and CKA_DECAPSULATE, true by default.
        assert!(s.get_bool(public, CKA_ENCAPSULATE) && s.get_bool(private, CKA_DECAPSULATE));
        let no = |k, a| s.copy(k, &mut T::default().flag(a, false)).unwrap();
        assert_eq!(encapsulate(s, &mut none(), no(public, CKA_ENCAPSULATE)), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
        let r = decapsulate(s, &mut none(), no(private, CKA_DECAPSULATE), &ct);
        assert_eq!(r, Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
        // The private key cannot encapsulate, the public one cannot decapsulate.
        assert_eq!(encapsulate(s, &mut none(), private), Err(CKR_KEY_TYPE_INCONSISTENT));
        assert_eq!(decapsulate(s, &mut none(), public, &ct), Err(CKR_KEY_TYPE_INCONSISTENT));
    }
    // Edwards keys sign only.
    let (ed_public, _) = ec_pair(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, ED25519);
    assert_eq!(s.get_bytes(ed_public, CKA_ENCAPSULATE), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    assert_eq!(encapsulate(s, &mut mech::<u8>(CKM_ECDH1_DERIVE, None), ed_public), Err(CKR_KEY_TYPE_INCONSISTENT));
    // C_DeriveKey still needs the other party's public data.
    let mut t = T::secret(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 16);
    assert_eq!(
        s.derive(&mut mech::<u8>(CKM_ECDH1_DERIVE, None), p256_private, &mut t),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

/// CKA_PUBLIC_KEY_INFO given when a key is created: this key's, as DER or as another
/// encoding of it (here openssl's), is accepted and read back as the token's; another key's
/// is CKR_ATTRIBUTE_VALUE_INVALID ("the token MUST verify correspondence ... If there is a
/// mismatch, the command SHALL return CKR_ATTRIBUTE_VALUE_INVALID"); an empty one is the
/// default. Generation and unwrapping still refuse it (CKR_ATTRIBUTE_READ_ONLY: the key is
/// not known yet). And CKA_ALWAYS_AUTHENTICATE "may only be set to CK_TRUE when CKA_PRIVATE is
/// also CK_TRUE".
#[test]
fn public_key_info_given_at_creation_and_always_authenticate() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let (rsa_private, _, f) = openssl_rsa_key(s, dir, "rsa");
    let rsa_spki = openssl_ok(dir, &["pkey", "-in", "rsa.pem", "-pubout", "-outform", "DER"]);
    let theirs = s.get_bytes(rsa_private, CKA_PUBLIC_KEY_INFO).unwrap();
    openssl_ec_key(s, dir, "ec", "P-256", P256);
    let ec_spki = openssl_ok(dir, &["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"]);
    let rsa_key = |class, spki: &[u8]| {
        let mut t = T::key(class, CKK_RSA);
        let fields: &[(CK_ATTRIBUTE_TYPE, &str)] =
            if class == CKO_PRIVATE_KEY { &RSA_FIELDS } else { &RSA_FIELDS[..2] };
        for (attr, field) in fields {
            t = t.bytes(*attr, &f[*field]);
        }
        s.create(&mut t.bytes(CKA_PUBLIC_KEY_INFO, spki))
    };
    for class in [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY] {
        let k = rsa_key(class, &rsa_spki).unwrap();
        assert_eq!(s.get_bytes(k, CKA_PUBLIC_KEY_INFO).unwrap(), theirs, "class {class}");
        let k = rsa_key(class, &[]).unwrap();
        assert_eq!(s.get_bytes(k, CKA_PUBLIC_KEY_INFO).unwrap(), theirs, "class {class}, empty");
        assert_eq!(rsa_key(class, &ec_spki), Err(CKR_ATTRIBUTE_VALUE_INVALID), "class {class}, another key's");
        let mut cut = rsa_spki.clone();
        cut.truncate(cut.len() - 1);
        assert_eq!(rsa_key(class, &cut), Err(CKR_ATTRIBUTE_VALUE_INVALID), "class {class}, not DER");
    }
    // An EC public key given with openssl's SubjectPublicKeyInfo.
    let point = s.get_bytes(openssl_ec_key(s, dir, "ec2", "P-256", P256).1, CKA_EC_POINT).unwrap();
    let ec2_spki = openssl_ok(dir, &["pkey", "-in", "ec2.pem", "-pubout", "-outform", "DER"]);
    let ec_public = |spki: &[u8]| {
        let t = T::key(CKO_PUBLIC_KEY, CKK_EC).bytes(CKA_EC_PARAMS, P256);
        s.create(&mut t.bytes(CKA_EC_POINT, &point).bytes(CKA_PUBLIC_KEY_INFO, spki))
    };
    assert_eq!(s.get_bytes(ec_public(&ec2_spki).unwrap(), CKA_PUBLIC_KEY_INFO).unwrap(), ec2_spki);
    assert_eq!(ec_public(&ec_spki), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    // Not at generation.
    let r = s.keypair(
        CKM_EC_KEY_PAIR_GEN,
        &mut T::default().bytes(CKA_EC_PARAMS, P256).bytes(CKA_PUBLIC_KEY_INFO, &ec_spki),
        &mut T::default(),
    );
    assert_eq!(r.err(), Some(CKR_ATTRIBUTE_READ_ONLY));

    // CKA_ALWAYS_AUTHENTICATE on a public private key is inconsistent, on a private one fine.
    let aa = |private: bool| {
        let mut t = T::key(CKO_PRIVATE_KEY, CKK_RSA);
        for (attr, field) in RSA_FIELDS {
            t = t.bytes(attr, &f[field]);
        }
        s.create(&mut t.flag(CKA_ALWAYS_AUTHENTICATE, true).flag(CKA_PRIVATE, private))
    };
    assert_eq!(aa(false), Err(CKR_TEMPLATE_INCONSISTENT));
    assert!(s.get_bool(aa(true).unwrap(), CKA_ALWAYS_AUTHENTICATE));
}

/// RSA as a KEM (3.2 §6.1: CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP in C_EncapsulateKey /
/// C_DecapsulateKey): the ciphertext is a fresh secret key of the template's type and length
/// encrypted to the public key, which `openssl pkeyutl -decrypt` recovers with the private key
/// (made by openssl and imported); a secret openssl encrypts to the public key is what
/// C_DecapsulateKey makes a key of. Decapsulation answers as C_UnwrapKey, to which the
/// section makes it "exactly equivalent".
#[test]
fn rsa_as_a_kem() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let slot = e.p.get_slots_with_token().unwrap()[0];
    for (ty, kem) in [(CKM_RSA_PKCS, true), (CKM_RSA_PKCS_OAEP, true), (CKM_RSA_X_509, false)] {
        let info = e.p.get_mechanism_info(slot, cryptoki::mechanism::MechanismType::try_from(ty).unwrap()).unwrap();
        assert_eq!((info.encapsulate(), info.decapsulate()), (kem, kem), "{ty:#x}");
    }
    let (private, public, _) = openssl_rsa_key(s, dir, "rsa");
    assert!(s.get_bool(public, CKA_ENCAPSULATE) && s.get_bool(private, CKA_DECAPSULATE));
    let mut label = b"kem label".to_vec();
    let (mut oaep, oaep_opts) = oaep_sha256(&mut label);
    let oaep_opts: Vec<&str> = oaep_opts.iter().map(String::as_str).collect();
    let open = |kt| T::secret(kt).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    // The longest secret each padding carries in a 2048-bit modulus: k - 11 and k - 2 - 2 hLen.
    for (with_oaep, longest) in [(false, 245), (true, 190)] {
        let mut m =
            || if with_oaep { mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)) } else { mech::<u8>(CKM_RSA_PKCS, None) };
        let opts: &[&str] = if with_oaep { &oaep_opts } else { &[] };
        let outside = |ct: &[u8]| {
            std::fs::write(dir.join("ct"), ct).unwrap();
            openssl_ok(dir, &[&["pkeyutl", "-decrypt", "-inkey", "rsa.pem", "-in", "ct"][..], opts].concat())
        };
        // An AES-256 key: 32 random bytes, which the private key recovers from the ciphertext.
        let (ct, key) = s.encapsulate(&mut m(), public, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 32)).unwrap();
        assert_eq!(ct.len(), 256);
        let value = s.get_bytes(key, CKA_VALUE).unwrap();
        assert_eq!(value.len(), 32);
        assert_eq!(outside(&ct), value, "oaep {with_oaep}");
        assert_eq!(s.get_ulong(key, CKA_KEY_TYPE).unwrap(), CKK_AES);
        let back = s.decapsulate(&mut m(), private, &ct, &mut open(CKK_AES)).unwrap();
        assert_eq!(s.get_bytes(back, CKA_VALUE).unwrap(), value);
        assert_ne!(s.encapsulate(&mut m(), public, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 32)).unwrap().0, ct);
        // Generic secrets of any length the padding leaves room for; a Triple DES key takes its
        // type's length, with odd parity.
        for n in [1, longest] {
            let (ct, key) =
                s.encapsulate(&mut m(), public, &mut open(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, n)).unwrap();
            assert_eq!(outside(&ct), s.get_bytes(key, CKA_VALUE).unwrap(), "{n} bytes");
        }
        let too_long = &mut open(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, longest + 1);
        assert_eq!(s.encapsulate(&mut m(), public, too_long).err(), Some(CKR_TEMPLATE_INCONSISTENT));
        let no_length = &mut open(CKK_GENERIC_SECRET);
        assert_eq!(s.encapsulate(&mut m(), public, no_length).err(), Some(CKR_TEMPLATE_INCOMPLETE));
        let (ct, key) = s.encapsulate(&mut m(), public, &mut open(CKK_DES3)).unwrap();
        let des3 = s.get_bytes(key, CKA_VALUE).unwrap();
        assert_eq!(outside(&ct), des3);
        assert!(des3.len() == 24 && des3.iter().all(|b| b.count_ones() % 2 == 1), "{des3:02x?}");

        // What openssl encrypts to the public key.
        let secret = b"twenty-four secret bytes";
        std::fs::write(dir.join("secret"), secret).unwrap();
        let args = ["pkeyutl", "-encrypt", "-pubin", "-inkey", "rsa.pub.pem", "-in", "secret", "-out", "ct"];
        openssl_ok(dir, &[&args[..], opts].concat());
        let ct = std::fs::read(dir.join("ct")).unwrap();
        let key = s.decapsulate(&mut m(), private, &ct, &mut open(CKK_GENERIC_SECRET)).unwrap();
        assert_eq!(s.get_bytes(key, CKA_VALUE).unwrap(), secret);
        let key = s.decapsulate(&mut m(), private, &ct, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 24)).unwrap();
        assert_eq!(s.get_bytes(key, CKA_VALUE).unwrap(), secret);
        // A secret of another length than the template's, or than its key type takes.
        let r = s.decapsulate(&mut m(), private, &ct, &mut open(CKK_GENERIC_SECRET).ulong(CKA_VALUE_LEN, 16));
        assert_eq!(r, Err(CKR_WRAPPED_KEY_LEN_RANGE));
        assert_eq!(s.decapsulate(&mut m(), private, &ct, &mut open(CKK_DES)), Err(CKR_WRAPPED_KEY_LEN_RANGE));
        // A ciphertext of another length than the modulus.
        let r = s.decapsulate(&mut m(), private, &ct[1..], &mut open(CKK_GENERIC_SECRET));
        assert_eq!(r, Err(CKR_WRAPPED_KEY_LEN_RANGE));
        // The other half of the pair.
        let r = s.encapsulate(&mut m(), private, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 32));
        assert_eq!(r.err(), Some(CKR_KEY_TYPE_INCONSISTENT));
        assert_eq!(s.decapsulate(&mut m(), public, &ct, &mut open(CKK_AES)), Err(CKR_KEY_TYPE_INCONSISTENT));
    }
    // OAEP: a corrupted ciphertext; parameters that name no hash.
    let (ct, _) = s
        .encapsulate(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), public, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 16))
        .unwrap();
    let mut bad = ct.clone();
    bad[100] ^= 1;
    let r = s.decapsulate(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), private, &bad, &mut open(CKK_AES));
    assert_eq!(r, Err(CKR_WRAPPED_KEY_INVALID));
    oaep.hashAlg = 0;
    let r = s.encapsulate(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), public, &mut open(CKK_AES));
    assert_eq!(r.err(), Some(CKR_MECHANISM_PARAM_INVALID));
    // Raw RSA is no KEM here; a key without the usage flag.
    let pkcs1 = || mech::<u8>(CKM_RSA_PKCS, None);
    let r = s.encapsulate(&mut mech::<u8>(CKM_RSA_X_509, None), public, &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 16));
    assert_eq!(r.err(), Some(CKR_MECHANISM_INVALID));
    let no = |k, a| s.copy(k, &mut T::default().flag(a, false)).unwrap();
    let r = s.encapsulate(&mut pkcs1(), no(public, CKA_ENCAPSULATE), &mut open(CKK_AES).ulong(CKA_VALUE_LEN, 16));
    assert_eq!(r.err(), Some(CKR_KEY_FUNCTION_NOT_PERMITTED));
    let r = s.decapsulate(&mut pkcs1(), no(private, CKA_DECAPSULATE), &ct, &mut open(CKK_AES));
    assert_eq!(r, Err(CKR_KEY_FUNCTION_NOT_PERMITTED));

    // Keys made so are not always sensitive, never extractable or local, even sensitive ones
    // from a pair made on the token (C_EncapsulateKey's and C_DecapsulateKey's text).
    let (public, private) = rsa_pair(s, 2048);
    assert!(s.get_bool(private, CKA_ALWAYS_SENSITIVE) && s.get_bool(private, CKA_NEVER_EXTRACTABLE));
    let closed = || T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 32);
    let (ct, made) = s.encapsulate(&mut pkcs1(), public, &mut closed()).unwrap();
    let back = s.decapsulate(&mut pkcs1(), private, &ct, &mut T::secret(CKK_AES)).unwrap();
    for k in [made, back] {
        assert!(s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE));
        assert!(!s.get_bool(k, CKA_ALWAYS_SENSITIVE) && !s.get_bool(k, CKA_NEVER_EXTRACTABLE));
        assert!(!s.get_bool(k, CKA_LOCAL));
    }
}

/// CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS (FIPS 186-4 B.4.1): key pairs on each NIST curve whose
/// private key matches the public point (the token signs, openssl verifies against the
/// point) and that say which mechanism made them; the scalars differ from pair to pair.
#[test]
fn ec_key_pairs_with_extra_random_bits() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    std::fs::write(dir.join("msg"), b"extra random bits").unwrap();
    let mut points = Vec::new();
    for (params, n) in [(P224, 28), (P256, 32), (P384, 48), (P521, 66)] {
        for _ in 0..2 {
            let (public, private) = ec_pair(s, CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS, params);
            for k in [public, private] {
                assert_eq!(s.get_ulong(k, CKA_KEY_GEN_MECHANISM).unwrap(), CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS);
                assert!(s.get_bool(k, CKA_LOCAL));
            }
            spki_file(s, public, dir, "x.der");
            openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "x.der", "-out", "x.pem"]);
            let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), private, b"extra random bits").unwrap();
            assert_eq!(sig.len(), 2 * n);
            assert!(openssl_verifies(dir, "-sha256", "x.pem", &der_sig(&sig)));
            let point = s.get_bytes(public, CKA_EC_POINT).unwrap();
            assert!(!points.contains(&point));
            points.push(point);
        }
    }
    assert_eq!(
        s.keypair(CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS, &mut T::default().bytes(CKA_EC_PARAMS, ED25519), &mut T::default()),
        Err(CKR_CURVE_NOT_SUPPORTED)
    );
}

/// CKA_EC_POINT and an ECDH peer point are DER OCTET STRINGs, and the bare point is taken
/// too: a bare point whose first bytes happen to read as an OCTET STRING's header (04, then
/// the length of the rest) is still the bare point, and a point over 127 bytes (P-521) is
/// unwrapped from its long-form header.
#[test]
fn points_that_look_der_wrapped_are_taken_bare() {
    use p256::ecdsa::signature::Verifier;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let e = env();
    let s = &e.s;
    let msg = b"a point that reads as an OCTET STRING";
    let octets = |p: &[u8]| der(0x04, p);
    let ecdh = |private, peer: &[u8]| ecdh(s, private, peer).unwrap();
    let public = |kt, params: &[u8], point: &[u8]| {
        s.create(&mut T::key(CKO_PUBLIC_KEY, kt).bytes(CKA_EC_PARAMS, params).bytes(CKA_EC_POINT, point)).unwrap()
    };

    // P-256: the first scalar whose uncompressed point is 04 3F ... (63 bytes follow the 3F).
    let (scalar, point) = (1u64..)
        .map(|k| {
            let mut d = [0u8; 32];
            d[24..].copy_from_slice(&k.to_be_bytes());
            let sk = p256::SecretKey::from_slice(&d).unwrap();
            (d, sk.public_key().to_encoded_point(false).as_bytes().to_vec())
        })
        .find(|(_, p)| p[1] == 0x3f)
        .unwrap();
    let private = s
        .create(
            &mut T::key(CKO_PRIVATE_KEY, CKK_EC)
                .bytes(CKA_EC_PARAMS, P256)
                .bytes(CKA_VALUE, &scalar)
                .flag(CKA_DERIVE, true),
        )
        .unwrap();
    let bare = public(CKK_EC, P256, &point);
    assert_eq!(s.get_bytes(bare, CKA_EC_POINT).unwrap(), octets(&point), "kept DER-wrapped");
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), private, msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), bare, msg, &sig).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    vk.verify(msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap()).unwrap();
    let (_, other) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    assert_eq!(ecdh(other, &point), ecdh(other, &octets(&point)), "the bare peer point is the point");

    // P-521: 133 bytes, wrapped as 04 81 85 ...; given wrapped and bare.
    let (p521, k521) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P521);
    let wrapped = s.get_bytes(p521, CKA_EC_POINT).unwrap();
    assert_eq!(wrapped[..3], [0x04, 0x81, 133]);
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA512, None), k521, msg).unwrap();
    for given in [&wrapped[..], &wrapped[3..]] {
        let imported = public(CKK_EC, P521, given);
        assert_eq!(s.get_bytes(imported, CKA_EC_POINT).unwrap(), wrapped);
        s.verify(&mut mech::<u8>(CKM_ECDSA_SHA512, None), imported, msg, &sig).unwrap();
    }
    let (_, other) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P521);
    assert_eq!(ecdh(other, &wrapped[3..]), ecdh(other, &wrapped), "P-521 peer point");

    // X25519 and Ed25519: 32 bytes that begin 04 1E (30 bytes follow).
    let mut u = [0x5au8; 32];
    u[..2].copy_from_slice(&[0x04, 0x1e]);
    let (_, xs) = ec_pair(s, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, X25519);
    assert_eq!(ecdh(xs, &u), ecdh(xs, &octets(&u)), "the bare X25519 peer value is the value");
    for (kt, params) in [(CKK_EC_MONTGOMERY, X25519), (CKK_EC_EDWARDS, ED25519)] {
        let imported = public(kt, params, &u);
        assert_eq!(s.get_bytes(imported, CKA_EC_POINT).unwrap(), octets(&u), "key type {kt:#x}");
    }
}

/// The EC mechanisms name what they take (PKCS#11 3.2 Table 34's CKF_EC_* flags): curves over
/// prime fields, by name, points uncompressed; key sizes of P-224 to P-521.
#[test]
fn ec_mechanisms_give_their_curve_flags() {
    let e = env();
    let s = &e.s;
    let mut session = CK_SESSION_INFO { slotID: 0, state: 0, flags: 0, ulDeviceError: 0 };
    // SAFETY: a live CK_SESSION_INFO.
    assert_eq!(unsafe { s.lib.C_GetSessionInfo(s.h, &mut session) }, CKR_OK);
    let ec = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    for ty in [
        CKM_ECDSA,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA3_512,
        CKM_EC_KEY_PAIR_GEN,
        CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS,
        CKM_ECDH1_DERIVE,
        CKM_ECDH1_COFACTOR_DERIVE,
    ] {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        // SAFETY: a live CK_MECHANISM_INFO.
        assert_eq!(unsafe { s.lib.C_GetMechanismInfo(session.slotID, ty, &mut info) }, CKR_OK, "{ty:#x}");
        assert_eq!(info.flags & ec, ec, "{ty:#x}");
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (224, 521), "{ty:#x}");
    }
}

/// Every key derivation function of ECDH (the CKD_* values of §6.3.x): ANSI X9.63's
/// Hash(Z || counter || shared data) and SP 800-56A's Hash(counter || Z || shared data), for
/// each hash and three blocks long, checked with RustCrypto's hashes on the token's own
/// CKD_NULL secret (which tests above check with openssl). CKD_NULL gives the secret's
/// rightmost bytes and takes no shared data; an unknown function is refused.
#[test]
fn ecdh_key_derivation_functions() {
    use sha2::Digest;
    let e = env();
    let s = &e.s;
    let (_, private) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    let (peer, _) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256);
    let point = s.get_bytes(peer, CKA_EC_POINT).unwrap();
    let readable = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let derive = |kdf, shared: &[u8], t: &mut T| {
        let (mut shared, mut point) = (shared.to_vec(), point.clone());
        let mut p = CK_ECDH1_DERIVE_PARAMS {
            kdf,
            ulSharedDataLen: shared.len() as _,
            pSharedData: if shared.is_empty() { null_mut() } else { shared.as_mut_ptr() },
            ulPublicDataLen: point.len() as _,
            pPublicData: point.as_mut_ptr(),
        };
        s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut p)), private, t).and_then(|k| s.get_bytes(k, CKA_VALUE))
    };
    let z = derive(CKD_NULL, &[], &mut readable()).unwrap();
    assert_eq!(z.len(), 32);
    // CKD_NULL: the secret's rightmost bytes, no more than there are.
    assert_eq!(derive(CKD_NULL, &[], &mut readable().ulong(CKA_VALUE_LEN, 16)).unwrap(), z[16..]);
    assert_eq!(derive(CKD_NULL, &[], &mut readable().ulong(CKA_VALUE_LEN, 33)), Err(CKR_TEMPLATE_INCONSISTENT));
    assert_eq!(derive(CKD_NULL, b"info", &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(derive(0x7fff, &[], &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));

    fn kdf<D: Digest>(sp800: bool, z: &[u8], info: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut counter = 1u32;
        while out.len() < len {
            let c = counter.to_be_bytes();
            let d =
                if sp800 { D::new().chain_update(c).chain_update(z) } else { D::new().chain_update(z).chain_update(c) };
            out.extend(d.chain_update(info).finalize());
            counter += 1;
        }
        out.truncate(len);
        out
    }
    type Kdf = fn(bool, &[u8], &[u8], usize) -> Vec<u8>;
    let info = b"shared info";
    for (x963, sp800, f, n) in [
        (CKD_SHA1_KDF, CKD_SHA1_KDF_SP800, kdf::<sha1::Sha1> as Kdf, 20),
        (CKD_SHA224_KDF, CKD_SHA224_KDF_SP800, kdf::<sha2::Sha224>, 28),
        (CKD_SHA256_KDF, CKD_SHA256_KDF_SP800, kdf::<sha2::Sha256>, 32),
        (CKD_SHA384_KDF, CKD_SHA384_KDF_SP800, kdf::<sha2::Sha384>, 48),
        (CKD_SHA512_KDF, CKD_SHA512_KDF_SP800, kdf::<sha2::Sha512>, 64),
        (CKD_SHA3_224_KDF, CKD_SHA3_224_KDF_SP800, kdf::<sha3::Sha3_224>, 28),
        (CKD_SHA3_256_KDF, CKD_SHA3_256_KDF_SP800, kdf::<sha3::Sha3_256>, 32),
        (CKD_SHA3_384_KDF, CKD_SHA3_384_KDF_SP800, kdf::<sha3::Sha3_384>, 48),
        (CKD_SHA3_512_KDF, CKD_SHA3_512_KDF_SP800, kdf::<sha3::Sha3_512>, 64),
    ] {
        for (ty, sp) in [(x963, false), (sp800, true)] {
            let len = 2 * n + 3;
            let got = derive(ty, info, &mut readable().ulong(CKA_VALUE_LEN, len as _)).unwrap();
            assert_eq!(got, f(sp, &z, info, len), "{ty:#x}");
        }
    }
}
