//! RSA, EC, Ed25519 and X25519 through liboxihsm.so, checked by an independent
//! implementation (the `openssl` command) both ways: token signatures verified by openssl,
//! openssl signatures verified by the token, OAEP ciphertexts crossing in both directions,
//! ECDH agreeing with openssl, keys made by `openssl genpkey` imported with C_CreateObject.

mod common;
use common::*;
use cryptoki_sys::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

struct Env {
    h: Harness,
    p: cryptoki::context::Pkcs11,
    s: RawSession,
}

fn env() -> Env {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "asym");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    std::mem::forget(sess);
    Env { h, p, s }
}

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

fn ec_pair(s: &RawSession, m: CK_MECHANISM_TYPE, params: &[u8]) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(m, &mut T::default().bytes(CKA_EC_PARAMS, params), &mut T::default()).unwrap()
}

fn rsa_pair(s: &RawSession, bits: CK_ULONG) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, bits), &mut T::default()).unwrap()
}

/// Writes the key's CKA_PUBLIC_KEY_INFO as a DER file for openssl.
fn spki_file(s: &RawSession, key: CK_OBJECT_HANDLE, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, s.get_bytes(key, CKA_PUBLIC_KEY_INFO).unwrap()).unwrap();
    path
}

/// A DER TLV (any length).
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let len = match n {
        0..0x80 => vec![n as u8],
        0x80..0x100 => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    };
    [&[tag][..], &len, body].concat()
}

/// A DER INTEGER of the unsigned big-endian `b`.
fn der_uint(b: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
    let sign = if v.first().is_none_or(|x| x & 0x80 != 0) { &[0u8][..] } else { &[] };
    der(0x02, &[sign, &v].concat())
}

/// A DER SEQUENCE of unsigned INTEGERs (ECDSA-Sig-Value, Dss-Parms, DHParameter).
fn der_uints(ints: &[&[u8]]) -> Vec<u8> {
    der(0x30, &ints.iter().flat_map(|i| der_uint(i)).collect::<Vec<u8>>())
}

/// DER ECDSA-Sig-Value from r || s.
fn der_sig(rs: &[u8]) -> Vec<u8> {
    let (r, s) = rs.split_at(rs.len() / 2);
    der_uints(&[r, s])
}

/// Whether `openssl dgst <hash> -verify <pem>` accepts `sig` (as openssl encodes it: DER for
/// (EC)DSA) over the file `msg` in `dir`.
fn openssl_verifies(dir: &Path, hash: &str, pem: &str, sig: &[u8]) -> bool {
    std::fs::write(dir.join("sig"), sig).unwrap();
    let out = openssl_ok(dir, &["dgst", hash, "-verify", pem, "-signature", "sig", "msg"]);
    String::from_utf8_lossy(&out).contains("Verified OK")
}

/// A session AES-256 key that wraps and unwraps.
fn aes_kek(s: &RawSession) -> CK_OBJECT_HANDLE {
    s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[7u8; 32]).flag(CKA_WRAP, true).flag(CKA_UNWRAP, true)).unwrap()
}

/// r || s from a DER ECDSA-Sig-Value, each `n` bytes.
fn raw_sig(der: &[u8], n: usize) -> Vec<u8> {
    let body = if der[1] == 0x81 { &der[3..] } else { &der[2..] };
    let (rlen, r) = (body[1] as usize, &body[2..]);
    let (r, rest) = r.split_at(rlen);
    let s = &rest[2..2 + rest[1] as usize];
    let pad = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        [vec![0u8; n - x.len()], x].concat()
    };
    [pad(r), pad(s)].concat()
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    tool("openssl").current_dir(dir).args(args).output().unwrap()
}

fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let o = openssl(dir, args);
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

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
    // Printable curve names work too.
    let mut name = vec![0x13, 10];
    name.extend_from_slice(b"prime256v1");
    ec_pair(s, CKM_EC_KEY_PAIR_GEN, &name);

    // Refusals.
    let e = |m, p: &mut T| s.keypair(m, p, &mut T::default()).err();
    assert_eq!(e(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default()), Some(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(e(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, 768)), Some(CKR_KEY_SIZE_RANGE));
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
        Some(CKR_ATTRIBUTE_VALUE_INVALID)
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
    let mut t = T::default()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, &p256)
        .bytes(CKA_EC_POINT, &point);
    let imported = s.create(&mut t).unwrap();
    assert_eq!(s.get_bytes(imported, CKA_EC_PARAMS).unwrap(), p256);
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), named_priv, msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), imported, msg, &sig).unwrap();
    // A curve the backend lacks, spelt out or named; and a SEQUENCE cut short.
    let brainpool = explicit("brainpoolP256r1");
    let refused =
        |p: &[u8]| s.keypair(CKM_EC_KEY_PAIR_GEN, &mut T::default().bytes(CKA_EC_PARAMS, p), &mut T::default());
    assert_eq!(refused(&brainpool).err(), Some(CKR_CURVE_NOT_SUPPORTED));
    let brainpool_oid = [0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07];
    assert_eq!(refused(&brainpool_oid).err(), Some(CKR_CURVE_NOT_SUPPORTED));
    assert_eq!(refused(&p256[..p256.len() - 1]).err(), Some(CKR_ATTRIBUTE_VALUE_INVALID));
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
    for bits in [0, 512, 768, 1000, 2056, 4095, 8320, 16384, CK_ULONG::MAX] {
        assert_eq!(refused(bits, &f4), Some(CKR_KEY_SIZE_RANGE), "{bits} bits");
    }
    // AWS-LC makes keys with an odd exponent of 3 to 32 bits; a leading zero byte is fine.
    for exponent in [&[][..], &[0], &[1], &[0, 1], &[1, 0, 0], &[1, 0, 0, 0, 1], &[0xff, 0xff, 0xff, 0xff, 0xff]] {
        assert_eq!(refused(2048, exponent), Some(CKR_ATTRIBUTE_VALUE_INVALID), "exponent {exponent:?}");
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
        let mut peer = point.clone();
        let mut dp = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: peer.len() as _,
            pPublicData: peer.as_mut_ptr(),
        };
        let readable = T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
        let k = s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut { readable }).unwrap();
        assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), outside, "{name}: ECDH");
        // A point of another curve is refused as the peer.
        let mut other = s.get_bytes(ec_pair(s, CKM_EC_KEY_PAIR_GEN, P256).0, CKA_EC_POINT).unwrap();
        dp.pPublicData = other.as_mut_ptr();
        dp.ulPublicDataLen = other.len() as _;
        let readable = T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
        assert_eq!(
            s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut { readable }),
            Err(CKR_MECHANISM_PARAM_INVALID),
            "{name}"
        );
        // The curve by its printable name.
        let mut printable = vec![0x13, name.len() as u8];
        printable.extend_from_slice(name.as_bytes());
        let (np, _) = ec_pair(s, CKM_EC_KEY_PAIR_GEN, &printable);
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
                &mut T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_EC).flag(CKA_SIGN, true),
            )
            .unwrap();
        assert_eq!(s.get_bytes(back, CKA_EC_PARAMS).unwrap(), params);
        assert_eq!(s.get_bytes(back, CKA_EC_POINT).unwrap(), s.get_bytes(gp, CKA_EC_POINT).unwrap(), "{name}");
        let sig = s.sign(&mut mech::<u8>(m, None), back, &msg).unwrap();
        s.verify(&mut mech::<u8>(m, None), gp, &msg, &sig).unwrap();
    }
}

/// DSA: a key pair made by openssl imported and used both ways (its SubjectPublicKeyInfo is
/// openssl's), key pairs generated on openssl's domain parameters, CKM_DSA over a caller's
/// hash, PKCS#8 wrapping, and the error codes.
#[test]
fn dsa_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let msg = b"a message signed with DSA".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();
    openssl_ok(
        dir,
        &["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-out", "params.pem"],
    );
    openssl_ok(dir, &["genpkey", "-paramfile", "params.pem", "-out", "dsa.pem"]);
    openssl_ok(dir, &["pkey", "-in", "dsa.pem", "-pubout", "-out", "dsa.pub.pem"]);
    let f =
        openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "dsa.pem", "-text", "-noout"])).unwrap());
    let (p, q, g) = (&f["P"], &f["Q"], &f["G"]);
    let n = q.iter().skip_while(|b| **b == 0).count();
    let domain = |t: T| t.ulong(CKA_KEY_TYPE, CKK_DSA).bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, q).bytes(CKA_BASE, g);
    let ds =
        s.create(&mut domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, &f["priv"])).unwrap();
    let dp = s.create(&mut domain(T::default().ulong(CKA_CLASS, CKO_PUBLIC_KEY)).bytes(CKA_VALUE, &f["pub"])).unwrap();
    let theirs = openssl_ok(dir, &["pkey", "-pubin", "-in", "dsa.pub.pem", "-outform", "DER"]);
    assert_eq!(s.get_bytes(dp, CKA_PUBLIC_KEY_INFO).unwrap(), theirs);
    assert_eq!(s.get_bytes(ds, CKA_PUBLIC_KEY_INFO).unwrap(), theirs, "computed on the private key");
    // openssl signs, the token verifies; the token signs, openssl verifies.
    openssl_ok(dir, &["dgst", "-sha256", "-sign", "dsa.pem", "-out", "sig", "msg"]);
    let sig = raw_sig(&std::fs::read(dir.join("sig")).unwrap(), n);
    s.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), dp, &msg, &sig).unwrap();
    let mut bad = sig.clone();
    bad[5] ^= 1;
    assert_eq!(s.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), dp, &msg, &bad), Err(CKR_SIGNATURE_INVALID));
    assert_eq!(s.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), dp, &msg, &sig[1..]), Err(CKR_SIGNATURE_LEN_RANGE));
    let verified = |sig: &[u8], key: &str| openssl_verifies(dir, "-sha256", key, &der_sig(sig));
    let sig = s.sign(&mut mech::<u8>(CKM_DSA_SHA256, None), ds, &msg).unwrap();
    assert_eq!(sig.len(), 2 * n);
    assert!(verified(&sig, "dsa.pub.pem"));
    // CKM_DSA signs the caller's hash: the same as CKM_DSA_SHA256 over the message.
    let digest = openssl_ok(dir, &["dgst", "-sha256", "-binary", "msg"]);
    let sig = s.sign(&mut mech::<u8>(CKM_DSA, None), ds, &digest).unwrap();
    assert!(verified(&sig, "dsa.pub.pem"));
    s.verify(&mut mech::<u8>(CKM_DSA, None), dp, &digest, &sig).unwrap();
    s.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), dp, &msg, &sig).unwrap();
    // A pair generated on openssl's domain parameters: the private key gets them too.
    let (gp, gs) = s
        .keypair(CKM_DSA_KEY_PAIR_GEN, &mut domain(T::default()), &mut T::default().flag(CKA_EXTRACTABLE, true))
        .unwrap();
    assert_eq!(s.get_bytes(gs, CKA_PRIME).unwrap(), *p);
    assert_eq!(s.get_bytes(gs, CKA_BASE).unwrap(), *g);
    assert_eq!(s.get_bytes(gs, CKA_PUBLIC_KEY_INFO).unwrap(), s.get_bytes(gp, CKA_PUBLIC_KEY_INFO).unwrap());
    assert_eq!(s.get_bytes(gs, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    spki_file(s, gp, dir, "gen.der");
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "gen.der", "-out", "gen.pem"]);
    assert!(verified(&s.sign(&mut mech::<u8>(CKM_DSA_SHA256, None), gs, &msg).unwrap(), "gen.pem"));
    // PKCS#8 under RFC 5649: the unwrapped key signs for the generated public key.
    let kek = aes_kek(s);
    let wrapped = s.wrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, gs).unwrap();
    let mut t = T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_DSA);
    let back = s.unwrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, &wrapped, &mut t).unwrap();
    // (openssl prints q with a sign byte; the unwrapped key has the minimal big integer.)
    assert_eq!(s.get_bytes(back, CKA_SUBPRIME).unwrap(), q[q.len() - n..]);
    let sig = s.sign(&mut mech::<u8>(CKM_DSA_SHA512, None), back, &msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_DSA_SHA512, None), gp, &msg, &sig).unwrap();
    // Refusals: no domain parameters, parameters of the wrong shape, x out of range, a DSA
    // key with an ECDSA mechanism.
    let pair = |t: &mut T| s.keypair(CKM_DSA_KEY_PAIR_GEN, t, &mut T::default()).err();
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, q)), Some(CKR_TEMPLATE_INCOMPLETE));
    let short_q = T::default().bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, &q[..q.len() - 4]).bytes(CKA_BASE, g);
    assert_eq!(pair(&mut { short_q }), Some(CKR_DOMAIN_PARAMS_INVALID));
    assert_eq!(
        s.create(&mut domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, q)),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );
    assert_eq!(
        s.create(
            &mut T::default().ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_DSA).bytes(CKA_VALUE, &f["pub"])
        ),
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
    assert_eq!(s.sign(&mut mech::<u8>(CKM_ECDSA, None), ds, &digest), Err(CKR_KEY_TYPE_INCONSISTENT));

    // Domain parameters generated by the token (a CKO_DOMAIN_PARAMETERS object): openssl
    // finds them valid (q divides p - 1, g of order q) and a key pair on them signs.
    let params = s.generate(CKM_DSA_PARAMETER_GEN, &mut T::default().ulong(CKA_PRIME_BITS, 2048)).unwrap();
    let ulong = |k, ty| CK_ULONG::from_ne_bytes(s.get_bytes(k, ty).unwrap().try_into().unwrap());
    assert_eq!(ulong(params, CKA_CLASS), CKO_DOMAIN_PARAMETERS);
    assert_eq!(ulong(params, CKA_PRIME_BITS), 2048);
    assert!(s.get_bool(params, CKA_LOCAL));
    let [gp, gq, gg] = [CKA_PRIME, CKA_SUBPRIME, CKA_BASE].map(|ty| s.get_bytes(params, ty).unwrap());
    // (OpenSSL 3.0 reads DSA parameters as PEM only: `dsaparam -inform DER` fails even on its
    // own output.)
    std::fs::write(dir.join("gen-params.der"), der_uints(&[&gp, &gq, &gg])).unwrap();
    let b64 = String::from_utf8(openssl_ok(dir, &["base64", "-in", "gen-params.der"])).unwrap();
    let pem = format!("-----BEGIN DSA PARAMETERS-----\n{b64}-----END DSA PARAMETERS-----\n");
    std::fs::write(dir.join("gen-params.pem"), pem).unwrap();
    let checked = openssl(dir, &["pkeyparam", "-in", "gen-params.pem", "-check", "-noout"]);
    let said = [checked.stdout, checked.stderr].concat();
    assert!(String::from_utf8_lossy(&said).contains("Parameters are valid"), "{}", String::from_utf8_lossy(&said));
    let t = T::default().bytes(CKA_PRIME, &gp).bytes(CKA_SUBPRIME, &gq).bytes(CKA_BASE, &gg);
    let (op, os) = s.keypair(CKM_DSA_KEY_PAIR_GEN, &mut { t }, &mut T::default()).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_DSA_SHA256, None), os, &msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), op, &msg, &sig).unwrap();
    // Generation needs CKA_PRIME_BITS, in range; given parameters are checked on creation.
    assert_eq!(s.generate(CKM_DSA_PARAMETER_GEN, &mut T::default()), Err(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(
        s.generate(CKM_DSA_PARAMETER_GEN, &mut T::default().ulong(CKA_PRIME_BITS, 512)),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );
    let domain_object = |q: &[u8]| {
        s.create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)
                .ulong(CKA_KEY_TYPE, CKK_DSA)
                .bytes(CKA_PRIME, &gp)
                .bytes(CKA_SUBPRIME, q)
                .bytes(CKA_BASE, &gg),
        )
    };
    let created = domain_object(&gq).unwrap();
    assert_eq!(ulong(created, CKA_PRIME_BITS), 2048);
    assert!(!s.get_bool(created, CKA_LOCAL));
    assert_eq!(domain_object(&gq[..10]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
}

/// RFC 3526's 2048-bit MODP group (base 2).
const MODP_2048: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

/// PKCS #3 Diffie-Hellman: agreement with openssl both ways (padded secrets, the rightmost
/// bytes for a shorter key), an openssl key imported (its SubjectPublicKeyInfo is openssl's),
/// CKA_VALUE_BITS, and the error codes.
#[test]
fn dh_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let p = unhex(MODP_2048);
    let g = [2u8];
    // DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }, for openssl.
    std::fs::write(dir.join("dhp.der"), der_uints(&[&p, &g])).unwrap();
    openssl_ok(dir, &["dhparam", "-inform", "DER", "-in", "dhp.der", "-out", "dhp.pem"]);
    openssl_ok(dir, &["genpkey", "-paramfile", "dhp.pem", "-out", "dh.pem"]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "dh.pem", "-text", "-noout"])).unwrap());
    let domain = |t: T| t.ulong(CKA_KEY_TYPE, CKK_DH).bytes(CKA_PRIME, &p).bytes(CKA_BASE, &g);
    // A token pair, with a 256-bit private value; openssl derives with its public value.
    let (tp, ts) = s
        .keypair(CKM_DH_PKCS_KEY_PAIR_GEN, &mut domain(T::default()), &mut T::default().ulong(CKA_VALUE_BITS, 256))
        .unwrap();
    let ulong = |k, ty| CK_ULONG::from_ne_bytes(s.get_bytes(k, ty).unwrap().try_into().unwrap());
    assert_eq!(ulong(ts, CKA_VALUE_BITS), 256);
    assert_eq!(s.get_bytes(ts, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    assert!(s.get_bool(ts, CKA_DERIVE));
    std::fs::write(dir.join("tokenpub.der"), s.get_bytes(tp, CKA_PUBLIC_KEY_INFO).unwrap()).unwrap();
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "tokenpub.der", "-out", "tokenpub.pem"]);
    let outside = openssl_ok(
        dir,
        &["pkeyutl", "-derive", "-inkey", "dh.pem", "-peerkey", "tokenpub.pem", "-pkeyopt", "dh_pad:1"],
    );
    assert_eq!(outside.len(), 256);
    let readable = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let mut peer = f["public-key"].clone();
    let derive = |peer: &mut Vec<u8>, key, t: &mut T| {
        // The parameter is the peer's public value itself.
        let mut m = CK_MECHANISM {
            mechanism: CKM_DH_PKCS_DERIVE,
            pParameter: peer.as_mut_ptr().cast(),
            ulParameterLen: peer.len() as _,
        };
        s.derive(&mut m, key, t).map(|k| s.get_bytes(k, CKA_VALUE).unwrap())
    };
    assert_eq!(derive(&mut peer, ts, &mut readable()).unwrap(), outside);
    // A shorter key takes the rightmost bytes.
    assert_eq!(derive(&mut peer, ts, &mut readable().ulong(CKA_VALUE_LEN, 32)).unwrap(), outside[224..]);
    // openssl's private key imported: its public half is openssl's, and it agrees alike.
    let x = &f["private-key"];
    let imported = s.create(&mut domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, x)).unwrap();
    let theirs = openssl_ok(dir, &["pkey", "-in", "dh.pem", "-pubout", "-outform", "DER"]);
    assert_eq!(s.get_bytes(imported, CKA_PUBLIC_KEY_INFO).unwrap(), theirs);
    let x_bits =
        x.iter().skip_while(|b| **b == 0).count() * 8 - x.iter().find(|b| **b != 0).unwrap().leading_zeros() as usize;
    assert_eq!(ulong(imported, CKA_VALUE_BITS), x_bits as CK_ULONG);
    let mut token_y = s.get_bytes(tp, CKA_VALUE).unwrap();
    assert_eq!(derive(&mut token_y, imported, &mut readable()).unwrap(), outside);
    // Refusals: peer values out of range, no base, a prime too small, a DH private key
    // wrapped (PKCS#8 is not offered for DH keys).
    for bad in [vec![1u8], vec![0u8], p.clone()] {
        let mut bad = bad;
        assert_eq!(derive(&mut bad, ts, &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));
    }
    let pair = |t: &mut T| s.keypair(CKM_DH_PKCS_KEY_PAIR_GEN, t, &mut T::default()).err();
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, &p)), Some(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, &p[..64]).bytes(CKA_BASE, &g)), Some(CKR_DOMAIN_PARAMS_INVALID));
    let kek = aes_kek(s);
    let extractable = s
        .keypair(CKM_DH_PKCS_KEY_PAIR_GEN, &mut domain(T::default()), &mut T::default().flag(CKA_EXTRACTABLE, true))
        .unwrap()
        .1;
    assert_eq!(s.wrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, extractable), Err(CKR_KEY_NOT_WRAPPABLE));

    // Domain parameters generated by the token: openssl finds the prime safe and the base
    // fit (a 1024-bit group: safe primes take long to find).
    let params = s.generate(CKM_DH_PKCS_PARAMETER_GEN, &mut T::default().ulong(CKA_PRIME_BITS, 1024)).unwrap();
    assert_eq!(ulong(params, CKA_PRIME_BITS), 1024);
    let (gp, gg) = (s.get_bytes(params, CKA_PRIME).unwrap(), s.get_bytes(params, CKA_BASE).unwrap());
    std::fs::write(dir.join("gen-dh.der"), der_uints(&[&gp, &gg])).unwrap();
    let checked = openssl(dir, &["dhparam", "-inform", "DER", "-in", "gen-dh.der", "-check", "-noout"]);
    let said = [checked.stdout, checked.stderr].concat();
    assert!(
        String::from_utf8_lossy(&said).contains("DH parameters appear to be ok"),
        "{}",
        String::from_utf8_lossy(&said)
    );
    // Two pairs on them agree.
    let pair = || {
        let mut t = T::default().bytes(CKA_PRIME, &gp).bytes(CKA_BASE, &gg);
        s.keypair(CKM_DH_PKCS_KEY_PAIR_GEN, &mut t, &mut T::default()).unwrap()
    };
    let ((ap, a), (bp, b)) = (pair(), pair());
    let (mut ya, mut yb) = (s.get_bytes(ap, CKA_VALUE).unwrap(), s.get_bytes(bp, CKA_VALUE).unwrap());
    assert_eq!(derive(&mut yb, a, &mut readable()).unwrap(), derive(&mut ya, b, &mut readable()).unwrap());
}

/// Makes an EC key with `openssl genpkey` on `curve` (writing `<stem>.pem` and
/// `<stem>.pub.pem`) and imports both halves with C_CreateObject: (private, public, raw point).
fn openssl_ec_key(
    s: &RawSession,
    dir: &Path,
    stem: &str,
    curve: &str,
    params: &[u8],
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, Vec<u8>) {
    let key = format!("{stem}.pem");
    openssl_ok(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", &format!("ec_paramgen_curve:{curve}"), "-out", &key]);
    openssl_ok(dir, &["pkey", "-in", &key, "-pubout", "-out", &format!("{stem}.pub.pem")]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", &key, "-text", "-noout"])).unwrap());
    let point = f["pub"].clone();
    // The scalar at the field length (openssl may print a leading zero byte, or fewer).
    let d: Vec<u8> = f["priv"].iter().copied().skip_while(|b| *b == 0).collect();
    let d = [vec![0u8; (point.len() - 1) / 2 - d.len()], d].concat();
    let key = |class, attr, value: &[u8]| {
        s.create(
            &mut T::default()
                .ulong(CKA_CLASS, class)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .bytes(CKA_EC_PARAMS, params)
                .bytes(attr, value),
        )
        .unwrap()
    };
    (key(CKO_PRIVATE_KEY, CKA_VALUE, &d), key(CKO_PUBLIC_KEY, CKA_EC_POINT, &point), point)
}

/// Parses `openssl pkey -text` output into its hex fields.
fn openssl_fields(text: &str) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with(' ') {
            if let Some(c) = &current {
                let bytes: Vec<u8> = line
                    .trim()
                    .split(':')
                    .filter(|x| !x.is_empty())
                    .map(|x| u8::from_str_radix(x, 16).unwrap())
                    .collect();
                out.entry(c.clone()).or_insert_with(Vec::new).extend(bytes);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            current = v.trim().is_empty().then(|| k.trim().to_string());
            if let Some(hex) = v.split("(0x").nth(1) {
                let hex = hex.trim_end_matches(')');
                let hex = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex.to_string() };
                out.insert(k.trim().to_string(), unhex(&hex));
            }
        }
    }
    out
}

#[test]
fn openssl_keys_imported_and_used_both_ways() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let msg = b"signed outside, verified inside".to_vec();
    std::fs::write(dir.join("msg"), &msg).unwrap();

    // RSA.
    openssl_ok(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    openssl_ok(dir, &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsapub.pem"]);
    let f =
        openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "rsa.pem", "-text", "-noout"])).unwrap());
    let mut pubt = T::default()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, &f["modulus"])
        .bytes(CKA_PUBLIC_EXPONENT, &f["publicExponent"]);
    let rp = s.create(&mut pubt).unwrap();
    let mut privt = T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    for (attr, field) in [
        (CKA_MODULUS, "modulus"),
        (CKA_PUBLIC_EXPONENT, "publicExponent"),
        (CKA_PRIVATE_EXPONENT, "privateExponent"),
        (CKA_PRIME_1, "prime1"),
        (CKA_PRIME_2, "prime2"),
        (CKA_EXPONENT_1, "exponent1"),
        (CKA_EXPONENT_2, "exponent2"),
        (CKA_COEFFICIENT, "coefficient"),
    ] {
        privt = privt.bytes(attr, &f[field]);
    }
    let rs = s.create(&mut privt).unwrap();
    assert_eq!(s.get_bytes(rs, CKA_MODULUS_BITS).unwrap(), 2048u64.to_ne_bytes());
    assert!(!s.get_bool(rs, CKA_ALWAYS_SENSITIVE) && !s.get_bool(rs, CKA_LOCAL));
    openssl_ok(dir, &["dgst", "-sha256", "-sign", "rsa.pem", "-out", "sig", "msg"]);
    s.verify(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rp, &msg, &std::fs::read(dir.join("sig")).unwrap()).unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), rs, &msg).unwrap();
    assert!(openssl_verifies(dir, "-sha256", "rsapub.pem", &sig));
    // A corrupted private key is refused at import.
    let mut bad = f["privateExponent"].clone();
    bad[10] ^= 1;
    let mut badt = T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    for (attr, v) in [
        (CKA_MODULUS, &f["modulus"]),
        (CKA_PUBLIC_EXPONENT, &f["publicExponent"]),
        (CKA_PRIVATE_EXPONENT, &bad),
        (CKA_PRIME_1, &f["prime1"]),
        (CKA_PRIME_2, &f["prime2"]),
        (CKA_EXPONENT_1, &f["exponent1"]),
        (CKA_EXPONENT_2, &f["exponent2"]),
        (CKA_COEFFICIENT, &f["coefficient"]),
    ] {
        badt = badt.bytes(attr, v);
    }
    assert_eq!(s.create(&mut badt), Err(CKR_ATTRIBUTE_VALUE_INVALID));

    // OAEP: SHA-256 with a label, both ways.
    let mut label = b"oxihsm label".to_vec();
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: label.as_mut_ptr().cast(),
        ulSourceDataLen: label.len() as _,
    };
    let opts = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-pkeyopt",
        "rsa_oaep_label:6f786968736d206c6162656c",
    ];
    let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", "rsapub.pem", "-in", "msg", "-out", "ct"];
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
        s.create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .bytes(CKA_EC_PARAMS, P256)
                .bytes(CKA_VALUE, &[0u8; 32])
        ),
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
    dp.kdf = CKD_NULL;
    assert_eq!(
        s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), ts, &mut readable()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );

    // Ed25519 and X25519 from openssl.
    openssl_ok(dir, &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", "ed.pem", "-text", "-noout"])).unwrap());
    let eds = s
        .create(
            &mut T::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
                .bytes(CKA_EC_PARAMS, ED25519)
                .bytes(CKA_VALUE, &f["priv"]),
        )
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
    let mut peer = f["pub"].clone();
    let mut dp = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: 32,
        pPublicData: peer.as_mut_ptr(),
    };
    let k = s.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut dp)), xs, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(k, CKA_VALUE).unwrap(), outside);
}
