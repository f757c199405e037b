//! DSA, PKCS #3 Diffie-Hellman and X9.42 Diffie-Hellman through liboxihsm.so, checked by the
//! `openssl` command both ways (split from tests/asymmetric.rs).

mod common;
use common::asymmetric::*;
use common::*;
use cryptoki_sys::*;

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
    // CKM_DSA takes the hash lengths of its table (20, 28, 32, 48, 64 bytes), no other.
    for len in [0, 7, 19, 33, 65] {
        assert_eq!(s.sign(&mut mech::<u8>(CKM_DSA, None), ds, &vec![1; len]), Err(CKR_DATA_LEN_RANGE), "{len}");
        let rv = s.verify(&mut mech::<u8>(CKM_DSA, None), dp, &vec![1; len], &sig);
        assert_eq!(rv, Err(CKR_DATA_LEN_RANGE), "{len}");
    }
    for len in [20, 28, 48, 64] {
        let sig = s.sign(&mut mech::<u8>(CKM_DSA, None), ds, &vec![1; len]).unwrap();
        s.verify(&mut mech::<u8>(CKM_DSA, None), dp, &vec![1; len], &sig).unwrap();
    }
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
    let mut t = T::key(CKO_PRIVATE_KEY, CKK_DSA);
    let back = s.unwrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, &wrapped, &mut t).unwrap();
    // (openssl prints q with a sign byte; the unwrapped key has the minimal big integer.)
    assert_eq!(s.get_bytes(back, CKA_SUBPRIME).unwrap(), q[q.len() - n..]);
    let sig = s.sign(&mut mech::<u8>(CKM_DSA_SHA512, None), back, &msg).unwrap();
    s.verify(&mut mech::<u8>(CKM_DSA_SHA512, None), gp, &msg, &sig).unwrap();
    // Refusals: no domain parameters, parameters of the wrong shape, x out of range, a DSA
    // key with an ECDSA mechanism.
    let pair = |t: &mut T| s.keypair(CKM_DSA_KEY_PAIR_GEN, t, &mut T::default()).err();
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, q)), Some(CKR_TEMPLATE_INCOMPLETE));
    // What the token makes cannot be given (Tables 180 and 181, footnotes 4 and 6): y when
    // generating, the private key's own copy of the domain and x when generating or
    // unwrapping.
    let ro = Some(CKR_ATTRIBUTE_READ_ONLY);
    let with = |public: T, private: T| s.keypair(CKM_DSA_KEY_PAIR_GEN, &mut { public }, &mut { private }).err();
    assert_eq!(with(domain(T::default()).bytes(CKA_VALUE, &[2]), T::default()), ro, "y");
    for ty in [CKA_PRIME, CKA_SUBPRIME, CKA_BASE, CKA_VALUE] {
        assert_eq!(with(domain(T::default()), T::default().bytes(ty, &[2])), ro, "private {ty:#x}");
        let mut t = T::key(CKO_PRIVATE_KEY, CKK_DSA).bytes(ty, &[2]);
        let unwrapped = s.unwrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, &wrapped, &mut t);
        assert_eq!(unwrapped.err(), ro, "unwrapped with {ty:#x}");
    }
    let short_q = T::default().bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, &q[..q.len() - 4]).bytes(CKA_BASE, g);
    assert_eq!(pair(&mut { short_q }), Some(CKR_DOMAIN_PARAMS_INVALID));
    assert_eq!(
        s.create(&mut domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, q)),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );
    assert_eq!(
        s.create(&mut T::key(CKO_PUBLIC_KEY, CKK_DSA).bytes(CKA_VALUE, &f["pub"])),
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
    // The template before any generation (which takes seconds): with a size out of range, the
    // template's own fault is what returns.
    for (m, made) in [(CKM_DSA_PARAMETER_GEN, CKA_SUBPRIME), (CKM_DH_PKCS_PARAMETER_GEN, CKA_PRIME)] {
        let mut t = T::default().ulong(CKA_PRIME_BITS, 512).bytes(made, &[1]);
        assert_eq!(s.generate(m, &mut t), Err(CKR_ATTRIBUTE_READ_ONLY), "{m:#x}");
        let mut t = T::default().ulong(CKA_PRIME_BITS, 512).ulong(CKA_MODULUS_BITS, 1);
        assert_eq!(s.generate(m, &mut t), Err(CKR_ATTRIBUTE_TYPE_INVALID), "{m:#x}");
    }
    let domain_object = |p: &[u8], q: &[u8]| {
        s.create(
            &mut T::key(CKO_DOMAIN_PARAMETERS, CKK_DSA).bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, q).bytes(CKA_BASE, &gg),
        )
    };
    let created = domain_object(&gp, &gq).unwrap();
    assert_eq!(ulong(created, CKA_PRIME_BITS), 2048);
    assert!(!s.get_bool(created, CKA_LOCAL));
    assert_eq!(domain_object(&gp, &gq[..10]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    let mut with_bits = domain(T::default().ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS)).ulong(CKA_PRIME_BITS, 2048);
    assert_eq!(s.create(&mut with_bits), Err(CKR_ATTRIBUTE_READ_ONLY), "CKA_PRIME_BITS is the token's");
    // A leading zero byte does not count in CKA_PRIME_BITS.
    let padded = domain_object(&[&[0u8][..], &gp].concat(), &gq).unwrap();
    assert_eq!(ulong(padded, CKA_PRIME_BITS), 2048);
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
    // As a KEM (no public value in the parameter): an ephemeral pair's public value, padded
    // to the prime's length, is the ciphertext; the private key decapsulates the secret that
    // C_DeriveKey with that value as the peer's gives.
    let t = || readable().ulong(CKA_VALUE_LEN, 32);
    let kem = || mech::<u8>(CKM_DH_PKCS_DERIVE, None);
    let (ct, k1) = s.encapsulate(&mut kem(), tp, &mut t()).unwrap();
    assert_eq!(ct.len(), 256);
    let value = s.get_bytes(k1, CKA_VALUE).unwrap();
    let k2 = s.decapsulate(&mut kem(), ts, &ct, &mut t()).unwrap();
    assert_eq!(s.get_bytes(k2, CKA_VALUE).unwrap(), value);
    assert_eq!(derive(&mut ct.clone(), ts, &mut t()).unwrap(), value);
    let mut one = vec![0u8; 256];
    one[255] = 1;
    assert_eq!(s.decapsulate(&mut kem(), ts, &one, &mut t()), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert_eq!(s.decapsulate(&mut kem(), ts, &ct[1..], &mut t()), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let mut y = token_y.clone();
    let mut with_public =
        CK_MECHANISM { mechanism: CKM_DH_PKCS_DERIVE, pParameter: y.as_mut_ptr().cast(), ulParameterLen: y.len() as _ };
    assert_eq!(s.encapsulate(&mut with_public, tp, &mut t()).err(), Some(CKR_MECHANISM_PARAM_INVALID));
    // Refusals: peer values out of range, no base, a prime too small, a DH private key
    // wrapped (PKCS#8 is not offered for DH keys).
    for bad in [vec![1u8], vec![0u8], p.clone()] {
        let mut bad = bad;
        assert_eq!(derive(&mut bad, ts, &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));
    }
    let pair = |t: &mut T| s.keypair(CKM_DH_PKCS_KEY_PAIR_GEN, t, &mut T::default()).err();
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, &p)), Some(CKR_TEMPLATE_INCOMPLETE));
    assert_eq!(pair(&mut T::default().bytes(CKA_PRIME, &p[..64]).bytes(CKA_BASE, &g)), Some(CKR_DOMAIN_PARAMS_INVALID));
    // What the token makes cannot be given (Tables 189 and 190, footnote 4): y, and the
    // private key's own copy of the group and x. CKA_VALUE_BITS may.
    let ro = Some(CKR_ATTRIBUTE_READ_ONLY);
    let with = |public: T, private: T| s.keypair(CKM_DH_PKCS_KEY_PAIR_GEN, &mut { public }, &mut { private }).err();
    assert_eq!(with(domain(T::default()).bytes(CKA_VALUE, &[2]), T::default()), ro, "y");
    for ty in [CKA_PRIME, CKA_BASE, CKA_VALUE] {
        assert_eq!(with(domain(T::default()), T::default().bytes(ty, &[2])), ro, "private {ty:#x}");
    }
    // Nor when created: a private key's CKA_VALUE_BITS (footnote 2), domain parameters'
    // CKA_PRIME_BITS.
    let private = domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, &[5; 32]);
    assert_eq!(s.create(&mut private.ulong(CKA_VALUE_BITS, 256)).err(), ro, "CKA_VALUE_BITS");
    let params = domain(T::default().ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS));
    assert_eq!(s.create(&mut params.ulong(CKA_PRIME_BITS, 2048)).err(), ro, "CKA_PRIME_BITS");
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

/// CK_X9_42_DH1_DERIVE_PARAMS over the given buffers (NULL for an empty one).
fn x942_params(kdf: CK_ULONG, other: &mut [u8], peer: &mut [u8]) -> CK_X9_42_DH1_DERIVE_PARAMS {
    let ptr = |b: &mut [u8]| if b.is_empty() { std::ptr::null_mut() } else { b.as_mut_ptr() };
    CK_X9_42_DH1_DERIVE_PARAMS {
        kdf,
        ulOtherInfoLen: other.len() as CK_ULONG,
        pOtherInfo: ptr(other),
        ulPublicDataLen: peer.len() as CK_ULONG,
        pPublicData: ptr(peer),
    }
}

/// X9.42 Diffie-Hellman (CKK_X9_42_DH) against openssl's DHX keys: openssl's keys imported
/// (their SubjectPublicKeyInfo is openssl's), the agreement equal to `openssl pkeyutl
/// -derive` with CKD_NULL, CKD_SHA1_KDF_CONCATENATE and CKD_SHA1_KDF_ASN1 equal to `openssl
/// kdf` (X942KDF-CONCAT, X942KDF-ASN1 with RFC 2631's OtherInfo), the hybrid scheme's two
/// secrets, token key pairs that openssl agrees with, domain parameters, and the errors.
#[test]
fn x942_dh_with_openssl() {
    let e = env();
    let s = &e.s;
    let dir = e.h.dir.path();
    let opts = ["-pkeyopt", "dh_paramgen_prime_len:1024", "-pkeyopt", "dh_paramgen_subprime_len:160"];
    openssl_ok(dir, &[&["genpkey", "-genparam", "-algorithm", "DHX", "-out", "x.pem"][..], &opts].concat());
    for k in ["a", "b", "a2", "b2"] {
        openssl_ok(dir, &["genpkey", "-paramfile", "x.pem", "-out", &format!("{k}.pem")]);
        openssl_ok(dir, &["pkey", "-in", &format!("{k}.pem"), "-pubout", "-out", &format!("{k}.pub.pem")]);
    }
    let fields = |k: &str| {
        openssl_fields(
            &String::from_utf8(openssl_ok(dir, &["pkey", "-in", &format!("{k}.pem"), "-text", "-noout"])).unwrap(),
        )
    };
    let fa = fields("a");
    let (p, q, g) = (&fa["P"], &fa["Q"], &fa["G"]);
    let domain =
        |t: T| t.ulong(CKA_KEY_TYPE, CKK_X9_42_DH).bytes(CKA_PRIME, p).bytes(CKA_SUBPRIME, q).bytes(CKA_BASE, g);
    let private = |k: &str| {
        s.create(
            &mut domain(T::default().ulong(CKA_CLASS, CKO_PRIVATE_KEY)).bytes(CKA_VALUE, &fields(k)["private-key"]),
        )
        .unwrap()
    };
    let (a, a2) = (private("a"), private("a2"));
    let theirs = openssl_ok(dir, &["pkey", "-in", "a.pem", "-pubout", "-outform", "DER"]);
    assert_eq!(s.get_bytes(a, CKA_PUBLIC_KEY_INFO).unwrap(), theirs, "openssl's SubjectPublicKeyInfo");
    // CKM_PUB_KEY_FROM_PRIV_KEY makes the same public key.
    let public = s.derive(&mut mech::<u8>(CKM_PUB_KEY_FROM_PRIV_KEY, None), a, &mut T::default()).unwrap();
    assert_eq!(s.get_bytes(public, CKA_PUBLIC_KEY_INFO).unwrap(), theirs);
    let y: Vec<u8> = fa["public-key"].iter().copied().skip_while(|b| *b == 0).collect();
    assert_eq!(s.get_bytes(public, CKA_VALUE).unwrap(), y, "openssl's text shows a sign byte");
    // openssl's ZZ, padded to the prime's length as X9.42 has it (openssl takes no dh_pad
    // option for these keys).
    let z = |k: &str, peer: &str| {
        let (key, peer) = (format!("{k}.pem"), format!("{peer}.pub.pem"));
        let v = openssl_ok(dir, &["pkeyutl", "-derive", "-inkey", &key, "-peerkey", &peer]);
        [vec![0u8; 128 - v.len()], v].concat()
    };
    let (z1, z2) = (z("a", "b"), z("a2", "b2"));
    assert_eq!(z1.len(), 128);

    let readable = || T::secret(CKK_GENERIC_SECRET).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let (yb, yb2) = (fields("b")["public-key"].clone(), fields("b2")["public-key"].clone());
    let derive = |base, kdf, other: &[u8], peer: &[u8], t: &mut T| {
        let (mut other, mut peer) = (other.to_vec(), peer.to_vec());
        let mut p = x942_params(kdf, &mut other, &mut peer);
        s.derive(&mut mech(CKM_X9_42_DH_DERIVE, Some(&mut p)), base, t).map(|k| s.get_bytes(k, CKA_VALUE).unwrap())
    };
    // CKD_NULL: ZZ itself, or its rightmost bytes.
    assert_eq!(derive(a, CKD_NULL, &[], &yb, &mut readable()).unwrap(), z1);
    assert_eq!(derive(a, CKD_NULL, &[], &yb, &mut readable().ulong(CKA_VALUE_LEN, 16)).unwrap(), z1[112..]);
    // The concatenation KDF: SHA-1(ZZ || counter || OtherInfo).
    let hex_z = format!("hexsecret:{}", hex(&z1));
    let kdf = |name: &str, extra: &[&str]| {
        let args =
            [&["kdf", "-keylen", "24", "-kdfopt", "digest:SHA1", "-kdfopt", &hex_z][..], extra, &[name]].concat();
        unhex(&String::from_utf8(openssl_ok(dir, &args)).unwrap().trim().replace(':', ""))
    };
    let info = b"X9.42 other info";
    let want = kdf("X942KDF-CONCAT", &["-kdfopt", &format!("hexinfo:{}", hex(info))]);
    assert_eq!(derive(a, CKD_SHA1_KDF_CONCATENATE, info, &yb, &mut readable().ulong(CKA_VALUE_LEN, 24)).unwrap(), want);
    // The ASN.1 KDF: RFC 2631's OtherInfo (KeySpecificInfo with the key wrap algorithm and
    // the counter, suppPubInfo the key's bits), as openssl builds it; two blocks.
    let other_info = unhex("301d3013060b2a864886f70d0109100306040400000001a2060404000000c0");
    let want = kdf("X942KDF-ASN1", &["-kdfopt", "cekalg:1.2.840.113549.1.9.16.3.6"]);
    assert_eq!(derive(a, CKD_SHA1_KDF_ASN1, &other_info, &yb, &mut readable().ulong(CKA_VALUE_LEN, 24)).unwrap(), want);
    // With partyAInfo (openssl's ukm) of 200 and 300 bytes: DER lengths in the long form, of
    // one and two bytes.
    for n in [200, 300] {
        let ukm = vec![0xab; n];
        let (cek, u) = ("cekalg:1.2.840.113549.1.9.16.3.6", format!("hexukm:{}", hex(&ukm)));
        let want = kdf("X942KDF-ASN1", &["-kdfopt", cek, "-kdfopt", &u]);
        let body = [&other_info[2..23], &der(0xa0, &der(0x04, &ukm)), &other_info[23..]].concat();
        let t = &mut readable().ulong(CKA_VALUE_LEN, 24);
        assert_eq!(derive(a, CKD_SHA1_KDF_ASN1, &der(0x30, &body), &yb, t).unwrap(), want, "ukm of {n} bytes");
    }

    // The hybrid scheme: the first pair's ZZ, then the second's.
    let hybrid = |kdf, other: &[u8], t: &mut T| {
        let (mut other, mut p1, mut p2) = (other.to_vec(), yb.clone(), yb2.clone());
        let mut p = CK_X9_42_DH2_DERIVE_PARAMS {
            kdf,
            ulOtherInfoLen: other.len() as CK_ULONG,
            pOtherInfo: if other.is_empty() { std::ptr::null_mut() } else { other.as_mut_ptr() },
            ulPublicDataLen: p1.len() as CK_ULONG,
            pPublicData: p1.as_mut_ptr(),
            ulPrivateDataLen: 0,
            hPrivateData: a2,
            ulPublicDataLen2: p2.len() as CK_ULONG,
            pPublicData2: p2.as_mut_ptr(),
        };
        s.derive(&mut mech(CKM_X9_42_DH_HYBRID_DERIVE, Some(&mut p)), a, t).map(|k| s.get_bytes(k, CKA_VALUE).unwrap())
    };
    assert_eq!(hybrid(CKD_NULL, &[], &mut readable()).unwrap(), [z1.clone(), z2.clone()].concat());

    // A token key pair on openssl's parameters: openssl agrees with its public key.
    let (tp, ts) = s.keypair(CKM_X9_42_DH_KEY_PAIR_GEN, &mut domain(T::default()), &mut T::default()).unwrap();
    std::fs::write(dir.join("token.der"), s.get_bytes(tp, CKA_PUBLIC_KEY_INFO).unwrap()).unwrap();
    openssl_ok(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "token.der", "-out", "token.pub.pem"]);
    let outside = z("b", "token");
    assert_eq!(derive(ts, CKD_NULL, &[], &yb, &mut readable()).unwrap(), outside);
    assert_eq!(s.get_bytes(ts, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    // As a KEM (no public value in the parameter), through the concatenation KDF: the
    // ephemeral public value is the ciphertext, and C_DeriveKey with it gives the same key.
    let (mut other, t) = (info.to_vec(), || readable().ulong(CKA_VALUE_LEN, 24));
    let mut kp = x942_params(CKD_SHA1_KDF_CONCATENATE, &mut other, &mut []);
    let (ct, k1) = s.encapsulate(&mut mech(CKM_X9_42_DH_DERIVE, Some(&mut kp)), tp, &mut t()).unwrap();
    assert_eq!(ct.len(), 128);
    let value = s.get_bytes(k1, CKA_VALUE).unwrap();
    let k2 = s.decapsulate(&mut mech(CKM_X9_42_DH_DERIVE, Some(&mut kp)), ts, &ct, &mut t()).unwrap();
    assert_eq!(s.get_bytes(k2, CKA_VALUE).unwrap(), value);
    assert_eq!(derive(ts, CKD_SHA1_KDF_CONCATENATE, info, &ct, &mut t()).unwrap(), value);

    // Domain parameters made by the token: the sizes asked (both required); another subprime
    // size than AWS-LC makes for the prime's refused.
    let sizes = |bits, q_bits| T::default().ulong(CKA_PRIME_BITS, bits).ulong(CKA_SUBPRIME_BITS, q_bits);
    let params = s.generate(CKM_X9_42_DH_PARAMETER_GEN, &mut sizes(1024, 160)).unwrap();
    let ulong = |k, ty| CK_ULONG::from_ne_bytes(s.get_bytes(k, ty).unwrap().try_into().unwrap());
    assert_eq!((ulong(params, CKA_PRIME_BITS), ulong(params, CKA_SUBPRIME_BITS)), (1024, 160));
    assert_eq!(s.get_bytes(params, CKA_SUBPRIME).unwrap().len(), 20);
    assert_eq!(s.generate(CKM_X9_42_DH_PARAMETER_GEN, &mut sizes(1024, 256)), Err(CKR_TEMPLATE_INCONSISTENT));
    let only_prime = &mut T::default().ulong(CKA_PRIME_BITS, 1024);
    assert_eq!(s.generate(CKM_X9_42_DH_PARAMETER_GEN, only_prime), Err(CKR_TEMPLATE_INCOMPLETE));

    // Errors: peer values out of range or outside the subgroup, a KDF not in the table,
    // other info with CKD_NULL, an OtherInfo without its counter, a DSA key as the base.
    let p_minus_1 = {
        let mut v = p.clone();
        *v.last_mut().unwrap() -= 1;
        v
    };
    for bad in [vec![1u8], vec![0u8], vec![2u8], p_minus_1, p.clone()] {
        assert_eq!(derive(a, CKD_NULL, &[], &bad, &mut readable()), Err(CKR_MECHANISM_PARAM_INVALID));
    }
    let t = || readable().ulong(CKA_VALUE_LEN, 24);
    assert_eq!(derive(a, CKD_SHA256_KDF, &[], &yb, &mut t()), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(derive(a, CKD_NULL, info, &yb, &mut t()), Err(CKR_MECHANISM_PARAM_INVALID));
    assert_eq!(derive(a, CKD_SHA1_KDF_ASN1, info, &yb, &mut t()), Err(CKR_MECHANISM_PARAM_INVALID));
    // An OtherInfo whose counter's bytes are cut off (its outer length fits, the inner does not).
    let cut = unhex("3006300406000404");
    assert_eq!(derive(a, CKD_SHA1_KDF_ASN1, &cut, &yb, &mut t()), Err(CKR_MECHANISM_PARAM_INVALID));
    let dsa = s
        .create(
            &mut T::key(CKO_PRIVATE_KEY, CKK_DSA)
                .bytes(CKA_PRIME, p)
                .bytes(CKA_SUBPRIME, q)
                .bytes(CKA_BASE, g)
                .bytes(CKA_VALUE, &[7; 20])
                .flag(CKA_DERIVE, true),
        )
        .unwrap();
    assert_eq!(derive(dsa, CKD_NULL, &[], &yb, &mut readable()), Err(CKR_KEY_TYPE_INCONSISTENT));
}
