//! Asymmetric key management through liboxihsm.so: private keys wrapped as PKCS#8 under
//! AES-KWP and AES-GCM and unwrapped into working keys; secret keys wrapped under RSA-OAEP;
//! CKM_RSA_AES_KEY_WRAP; CKM_ECDH_AES_KEY_WRAP and its cofactor and Montgomery variants
//! (checked with RustCrypto's p256, curve25519-dalek and aes-kw); the extractability invariants; CKA_ALWAYS_AUTHENTICATE;
//! C_SignRecover/C_VerifyRecover; and a private key's CKA_ALLOWED_MECHANISMS.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

struct Env {
    h: Harness,
    _p: cryptoki::context::Pkcs11,
    s: RawSession,
}

fn env() -> Env {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "asym-keys");
    let sess = user_session(&p, slot);
    let s = RawSession::new(&h, &sess);
    std::mem::forget(sess);
    Env { h, _p: p, s }
}

fn pair(s: &RawSession, m: CK_MECHANISM_TYPE, mut public: T, mut private: T) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(m, &mut public, &mut private).unwrap()
}

#[test]
fn private_keys_wrap_as_pkcs8_and_come_back_working() {
    let e = env();
    let s = &e.s;
    let kek = s.secret_key(CKK_AES, &[7u8; 32]).unwrap();
    let msg = b"signed by an unwrapped key".to_vec();
    let mut iv = vec![9u8; 12];
    let mut gp = gcm_params(&mut iv, None, 128);
    let cases: Vec<(CK_MECHANISM_TYPE, T, CK_KEY_TYPE, CK_MECHANISM_TYPE)> = vec![
        (CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), CKK_RSA, CKM_SHA256_RSA_PKCS),
        (CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), CKK_EC, CKM_ECDSA_SHA256),
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, ED25519), CKK_EC_EDWARDS, CKM_EDDSA),
    ];
    for (generator, public_t, kt, sign_m) in cases {
        let (pubk, privk) = pair(s, generator, public_t, T::default().flag(CKA_EXTRACTABLE, true));
        assert!(s.get_bool(privk, CKA_ALWAYS_SENSITIVE) && !s.get_bool(privk, CKA_NEVER_EXTRACTABLE));
        for mut wm in [mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), mech(CKM_AES_GCM, Some(&mut gp))] {
            let wrapped = s.wrap(&mut wm, kek, privk).unwrap();
            let back =
                s.unwrap(&mut wm, kek, &wrapped, &mut T::key(CKO_PRIVATE_KEY, kt).flag(CKA_TOKEN, false)).unwrap();
            assert!(
                !s.get_bool(back, CKA_ALWAYS_SENSITIVE)
                    && !s.get_bool(back, CKA_NEVER_EXTRACTABLE)
                    && !s.get_bool(back, CKA_LOCAL)
            );
            assert!(s.get_bool(back, CKA_SENSITIVE), "unwrapped private keys default to sensitive");
            assert_eq!(
                s.get_bytes(back, CKA_PUBLIC_KEY_INFO).unwrap(),
                s.get_bytes(pubk, CKA_PUBLIC_KEY_INFO).unwrap(),
                "the same key pair"
            );
            let sig = s.sign(&mut mech::<u8>(sign_m, None), back, &msg).unwrap();
            s.verify(&mut mech::<u8>(sign_m, None), pubk, &msg, &sig).unwrap();
            // The wrong key type in the template is refused.
            let other = if kt == CKK_RSA { CKK_EC } else { CKK_RSA };
            assert_eq!(
                s.unwrap(&mut wm, kek, &wrapped, &mut T::key(CKO_PRIVATE_KEY, other)),
                Err(CKR_TEMPLATE_INCONSISTENT)
            );
        }
    }
    // X25519 (it signs nothing): the unwrapped key agrees with a peer on the secret the
    // original agrees on.
    let x25519 = || T::default().bytes(CKA_EC_PARAMS, common::asymmetric::X25519);
    let (xp, xs) = pair(s, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, x25519(), T::default().flag(CKA_EXTRACTABLE, true));
    let (peer, _) = pair(s, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, x25519(), T::default());
    let kwp = || mech::<u8>(CKM_AES_KEY_WRAP_KWP, None);
    let wrapped = s.wrap(&mut kwp(), kek, xs).unwrap();
    let mut private_x = T::key(CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY);
    let back = s.unwrap(&mut kwp(), kek, &wrapped, &mut private_x).unwrap();
    assert_eq!(s.get_bytes(back, CKA_PUBLIC_KEY_INFO).unwrap(), s.get_bytes(xp, CKA_PUBLIC_KEY_INFO).unwrap());
    let point = s.get_bytes(peer, CKA_EC_POINT).unwrap();
    assert_eq!(ecdh(s, back, &point[2..]).unwrap(), ecdh(s, xs, &point[2..]).unwrap());
    // A private key that is not extractable stays inside.
    let (_, locked) = pair(s, CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), T::default());
    assert_eq!(s.wrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, locked), Err(CKR_KEY_UNEXTRACTABLE));
    assert_eq!(s.get_bytes(locked, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    // One-way transitions hold for private keys too.
    let mut t = T::default().flag(CKA_SENSITIVE, false);
    // SAFETY: a live template.
    let rv = unsafe { s.lib.C_SetAttributeValue(s.h, locked, t.attrs.as_mut_ptr(), 1) };
    assert_eq!(rv, CKR_ATTRIBUTE_READ_ONLY);
    let mut t = T::default().flag(CKA_EXTRACTABLE, true);
    // SAFETY: a live template.
    let rv = unsafe { s.lib.C_SetAttributeValue(s.h, locked, t.attrs.as_mut_ptr(), 1) };
    assert_eq!(rv, CKR_ATTRIBUTE_READ_ONLY);
    // And the allowed direction is open: CKA_SENSITIVE to TRUE, CKA_EXTRACTABLE to FALSE,
    // CKA_WRAP_WITH_TRUSTED to TRUE (then no way back).
    let open = T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);
    let (_, loose) = pair(s, CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), open);
    for (ty, to) in [(CKA_SENSITIVE, true), (CKA_EXTRACTABLE, false), (CKA_WRAP_WITH_TRUSTED, true)] {
        let set = |v: bool| {
            let mut t = T::default().flag(ty, v);
            // SAFETY: a live template.
            unsafe { s.lib.C_SetAttributeValue(s.h, loose, t.attrs.as_mut_ptr(), 1) }
        };
        assert_eq!(set(to), CKR_OK, "{ty:#x} to {to}");
        assert_eq!(s.get_bool(loose, ty), to);
        assert_eq!(set(!to), CKR_ATTRIBUTE_READ_ONLY, "{ty:#x} back");
    }
    // Garbage instead of a PKCS#8 key.
    let junk = evp_kwp(s, kek, &[1u8; 40]);
    assert_eq!(
        s.unwrap(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, &junk, &mut T::key(CKO_PRIVATE_KEY, CKK_RSA)),
        Err(CKR_WRAPPED_KEY_INVALID)
    );
}

/// KWP-encrypts `data` with the token (CKM_AES_KEY_WRAP_KWP also encrypts).
fn evp_kwp(s: &RawSession, kek: CK_OBJECT_HANDLE, data: &[u8]) -> Vec<u8> {
    s.encrypt(&mut mech::<u8>(CKM_AES_KEY_WRAP_KWP, None), kek, data).unwrap()
}

#[test]
fn rsa_wraps_secret_and_private_keys() {
    let e = env();
    let s = &e.s;
    let (rp, rs) = pair(s, CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), T::default());
    let secret = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[3u8; 32]).flag(CKA_EXTRACTABLE, true)).unwrap();
    let block = [0x11u8; 16];
    let reference = s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), secret, &block).unwrap();
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: 0,
        pSourceData: null_mut(),
        ulSourceDataLen: 0,
    };
    let wrapped = s.wrap(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rp, secret).unwrap();
    assert_eq!(wrapped.len(), 256);
    let back = s.unwrap(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rs, &wrapped, &mut T::secret(CKK_AES)).unwrap();
    assert_eq!(s.encrypt(&mut mech::<u8>(CKM_AES_ECB, None), back, &block).unwrap(), reference);
    // The private key does not wrap; the public key does not unwrap.
    assert_eq!(s.wrap(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rs, secret), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(
        s.unwrap(&mut mech(CKM_RSA_PKCS_OAEP, Some(&mut oaep)), rp, &wrapped, &mut T::secret(CKK_AES)),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );

    // CKM_RSA_AES_KEY_WRAP of an EC private key.
    let (ep, es) =
        pair(s, CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), T::default().flag(CKA_EXTRACTABLE, true));
    let mut params = CK_RSA_AES_KEY_WRAP_PARAMS { ulAESKeyBits: 256, pOAEPParams: &mut oaep };
    let wrapped = s.wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, Some(&mut params)), rp, es).unwrap();
    assert!(wrapped.len() > 256);
    let back = s
        .unwrap(&mut mech(CKM_RSA_AES_KEY_WRAP, Some(&mut params)), rs, &wrapped, &mut T::key(CKO_PRIVATE_KEY, CKK_EC))
        .unwrap();
    let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), back, b"m").unwrap();
    s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), ep, b"m", &sig).unwrap();
    let mut bad = wrapped.clone();
    bad[300] ^= 1;
    assert!(
        s.unwrap(&mut mech(CKM_RSA_AES_KEY_WRAP, Some(&mut params)), rs, &bad, &mut T::key(CKO_PRIVATE_KEY, CKK_EC))
            .is_err()
    );
    params.ulAESKeyBits = 100;
    assert_eq!(s.wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, Some(&mut params)), rp, es), Err(CKR_MECHANISM_PARAM_INVALID));
}

/// X9.63's KDF over SHA-256: `len` bytes of SHA-256(Z || counter || shared), counters from 1.
fn x963_sha256(z: &[u8], shared: &[u8], len: usize) -> Vec<u8> {
    use sha2::Digest;
    let mut out = Vec::new();
    for counter in 1u32.. {
        if out.len() >= len {
            break;
        }
        out.extend_from_slice(
            &sha2::Sha256::new().chain_update(z).chain_update(counter.to_be_bytes()).chain_update(shared).finalize(),
        );
    }
    out.truncate(len);
    out
}

/// RFC 5649 (KWP) with RustCrypto's aes-kw under a 256-bit `kek`: wrap, or unwrap.
fn rustcrypto_kwp(kek: &[u8], data: &[u8], wrap: bool) -> Vec<u8> {
    use aes_kw::KeyInit;
    let k = aes_kw::KwpAes256::new_from_slice(kek).unwrap();
    let mut buf = vec![0u8; data.len() + 16];
    let out = if wrap { k.wrap_key(data, &mut buf) } else { k.unwrap_key(data, &mut buf) };
    out.unwrap().to_vec()
}

fn ecdh_wrap_params(bits: CK_ULONG, kdf: CK_ULONG, shared: &mut [u8]) -> CK_ECDH_AES_KEY_WRAP_PARAMS {
    CK_ECDH_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: bits,
        kdf,
        ulSharedDataLen: shared.len() as CK_ULONG,
        pSharedData: if shared.is_empty() { null_mut() } else { shared.as_mut_ptr() },
    }
}

/// CKM_ECDH_AES_KEY_WRAP (P-256 and X25519), CKM_ECDH_COF_AES_KEY_WRAP and
/// CKM_ECDH_X_AES_KEY_WRAP: the token's wrapped keys opened outside (the ephemeral key's
/// agreement by RustCrypto's p256 or curve25519-dalek, X9.63's KDF, aes-kw's KWP) and keys
/// wrapped outside opened by the token; private keys as PKCS#8; the parameter and key errors.
#[test]
fn ecdh_aes_key_wrap_agrees_with_rustcrypto() {
    let e = env();
    let s = &e.s;
    let mut shared = b"shared info".to_vec();
    let target_value = [5u8; 32];
    let target = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &target_value).flag(CKA_EXTRACTABLE, true)).unwrap();
    let readable = || T::secret(CKK_AES).flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true);

    // The recipient's pair from known values: a public key that wraps (its point, DER) and a
    // private key that unwraps (its scalar).
    let recipient_pair = |kt, params: &[u8], point: &[u8], private: &[u8]| {
        let key = |class, ty, v: &[u8], usage| {
            let t = T::key(class, kt).bytes(CKA_EC_PARAMS, params);
            s.create(&mut t.bytes(ty, v).flag(usage, true)).unwrap()
        };
        let point = [&[0x04, point.len() as u8][..], point].concat();
        (key(CKO_PUBLIC_KEY, CKA_EC_POINT, &point, CKA_WRAP), key(CKO_PRIVATE_KEY, CKA_VALUE, private, CKA_UNWRAP))
    };
    // P-256: the recipient from a known scalar.
    let scalar = [0x21u8; 32];
    let secret = p256::SecretKey::from_slice(&scalar).unwrap();
    let point = p256::EncodedPoint::from(secret.public_key()).as_bytes().to_vec();
    let (recipient, recipient_private) = recipient_pair(CKK_EC, P256, &point, &scalar);
    for m in [CKM_ECDH_AES_KEY_WRAP, CKM_ECDH_COF_AES_KEY_WRAP] {
        let mut p = ecdh_wrap_params(256, CKD_SHA256_KDF, &mut shared);
        let wrapped = s.wrap(&mut mech(m, Some(&mut p)), recipient, target).unwrap();
        // The ephemeral key as CKA_EC_POINT holds one (a DER OCTET STRING), then the KWP.
        assert_eq!(wrapped[..2], [0x04, 65]);
        let (transport, kwp) = wrapped.split_at(67);
        let ephemeral = p256::PublicKey::from_sec1_bytes(&transport[2..]).unwrap();
        let z = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), ephemeral.as_affine());
        let kek = x963_sha256(z.raw_secret_bytes(), &shared, 32);
        assert_eq!(rustcrypto_kwp(&kek, kwp, false), target_value, "0x{m:x}");
        let back = s.unwrap(&mut mech(m, Some(&mut p)), recipient_private, &wrapped, &mut readable()).unwrap();
        assert_eq!(s.get_bytes(back, CKA_VALUE).unwrap(), target_value);
    }
    // Wrapped outside: an ephemeral key of our own, AES-128 from CKD_NULL (Z's first bytes).
    let ephemeral = p256::SecretKey::from_slice(&[0x42u8; 32]).unwrap();
    let z = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), secret.public_key().as_affine());
    let kek = &z.raw_secret_bytes()[..16];
    let theirs = {
        use aes_kw::KeyInit;
        let k = aes_kw::KwpAes128::new_from_slice(kek).unwrap();
        let mut buf = [0u8; 40];
        k.wrap_key(&[9u8; 24], &mut buf).unwrap().to_vec()
    };
    let eph_point = p256::EncodedPoint::from(ephemeral.public_key()).as_bytes().to_vec();
    let blob = [&[0x04, 65][..], &eph_point, &theirs].concat();
    let mut p = ecdh_wrap_params(128, CKD_NULL, &mut []);
    let back =
        s.unwrap(&mut mech(CKM_ECDH_AES_KEY_WRAP, Some(&mut p)), recipient_private, &blob, &mut readable()).unwrap();
    assert_eq!(s.get_bytes(back, CKA_VALUE).unwrap(), [9u8; 24]);

    // Errors: AES key sizes, CKD_NULL with shared data, a damaged ephemeral key, wrapped key
    // or length, keys of other types, the private key wrapping.
    let m = CKM_ECDH_AES_KEY_WRAP;
    let mut bad_bits = ecdh_wrap_params(100, CKD_SHA256_KDF, &mut shared);
    assert_eq!(s.wrap(&mut mech(m, Some(&mut bad_bits)), recipient, target), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut null_with_data = ecdh_wrap_params(128, CKD_NULL, &mut shared);
    assert_eq!(s.wrap(&mut mech(m, Some(&mut null_with_data)), recipient, target), Err(CKR_MECHANISM_PARAM_INVALID));
    let mut p = ecdh_wrap_params(128, CKD_NULL, &mut []);
    let unwrap = |blob: &[u8], p: &mut CK_ECDH_AES_KEY_WRAP_PARAMS| {
        s.unwrap(&mut mech(m, Some(p)), recipient_private, blob, &mut readable())
    };
    for (i, what) in [(0, "DER tag"), (1, "DER length"), (30, "point"), (80, "wrapped key")] {
        let mut bad = blob.clone();
        bad[i] ^= 1;
        assert_eq!(unwrap(&bad, &mut p), Err(CKR_WRAPPED_KEY_INVALID), "{what}");
    }
    assert_eq!(unwrap(&blob[..67], &mut p), Err(CKR_WRAPPED_KEY_LEN_RANGE));
    let (rp, _) = pair(
        s,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        T::default().ulong(CKA_MODULUS_BITS, 2048).flag(CKA_WRAP, true),
        T::default(),
    );
    let mut p = ecdh_wrap_params(256, CKD_SHA256_KDF, &mut shared);
    assert_eq!(s.wrap(&mut mech(m, Some(&mut p)), rp, target), Err(CKR_WRAPPING_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.wrap(&mut mech(m, Some(&mut p)), recipient_private, target), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));

    // X25519: a 32-byte ephemeral key first (RFC 7748's form), with both mechanisms that take
    // it; not the cofactor one.
    let x_private = [0x35u8; 32];
    let x_public = curve25519_dalek::MontgomeryPoint::mul_base_clamped(x_private);
    let x25519 = [0x06, 0x03, 0x2b, 0x65, 0x6e];
    let (x_recipient, x_recipient_private) =
        recipient_pair(CKK_EC_MONTGOMERY, &x25519, x_public.as_bytes(), &x_private);
    let (ep, es) =
        pair(s, CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), T::default().flag(CKA_EXTRACTABLE, true));
    for m in [CKM_ECDH_X_AES_KEY_WRAP, CKM_ECDH_AES_KEY_WRAP] {
        let mut p = ecdh_wrap_params(256, CKD_SHA256_KDF, &mut shared);
        let wrapped = s.wrap(&mut mech(m, Some(&mut p)), x_recipient, target).unwrap();
        assert_eq!(wrapped.len(), 32 + 40);
        let z = curve25519_dalek::MontgomeryPoint(wrapped[..32].try_into().unwrap()).mul_clamped(x_private);
        let kek = x963_sha256(z.as_bytes(), &shared, 32);
        assert_eq!(rustcrypto_kwp(&kek, &wrapped[32..], false), target_value, "0x{m:x}");
        let back = s.unwrap(&mut mech(m, Some(&mut p)), x_recipient_private, &wrapped, &mut readable()).unwrap();
        assert_eq!(s.get_bytes(back, CKA_VALUE).unwrap(), target_value);
        // A private key, as PKCS#8: the unwrapped key signs for the original's public key.
        let wrapped = s.wrap(&mut mech(m, Some(&mut p)), x_recipient, es).unwrap();
        let t = &mut T::key(CKO_PRIVATE_KEY, CKK_EC);
        let back = s.unwrap(&mut mech(m, Some(&mut p)), x_recipient_private, &wrapped, t).unwrap();
        let sig = s.sign(&mut mech::<u8>(CKM_ECDSA_SHA256, None), back, b"m").unwrap();
        s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), ep, b"m", &sig).unwrap();
    }
    let mut p = ecdh_wrap_params(256, CKD_SHA256_KDF, &mut shared);
    assert_eq!(
        s.wrap(&mut mech(CKM_ECDH_COF_AES_KEY_WRAP, Some(&mut p)), x_recipient, target),
        Err(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
    );
    assert_eq!(
        s.wrap(&mut mech(CKM_ECDH_X_AES_KEY_WRAP, Some(&mut p)), recipient, target),
        Err(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
    );
}

#[test]
fn always_authenticate_needs_a_context_specific_login_each_time() {
    let e = env();
    let s = &e.s;
    let (pubk, privk) = pair(
        s,
        CKM_EC_KEY_PAIR_GEN,
        T::default().bytes(CKA_EC_PARAMS, P256),
        T::default().flag(CKA_ALWAYS_AUTHENTICATE, true),
    );
    let mut m = mech::<u8>(CKM_ECDSA_SHA256, None);
    let mut data = b"needs a fresh PIN".to_vec();
    let mut pin = USER_PIN.as_bytes().to_vec();
    let mut wrong = b"0000".to_vec();
    let mut sig = [0u8; 64];
    // SAFETY: raw calls with live buffers of the lengths given.
    unsafe {
        let l = &s.lib;
        assert_eq!(l.C_Login(s.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OPERATION_NOT_INITIALIZED);
        for _ in 0..2 {
            assert_eq!(l.C_SignInit(s.h, &mut m, privk), CKR_OK);
            let mut n: CK_ULONG = 64;
            assert_eq!(
                l.C_Sign(s.h, data.as_mut_ptr(), data.len() as _, sig.as_mut_ptr(), &mut n),
                CKR_USER_NOT_LOGGED_IN
            );
            // That failure ended the operation (§5.2): a login now has nothing to authorise.
            assert_eq!(l.C_Login(s.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OPERATION_NOT_INITIALIZED);
            assert_eq!(
                l.C_Sign(s.h, data.as_mut_ptr(), data.len() as _, sig.as_mut_ptr(), &mut n),
                CKR_OPERATION_NOT_INITIALIZED
            );
            assert_eq!(l.C_SignInit(s.h, &mut m, privk), CKR_OK);
            assert_eq!(l.C_Login(s.h, CKU_CONTEXT_SPECIFIC, wrong.as_mut_ptr(), 4), CKR_PIN_INCORRECT);
            assert_eq!(l.C_Login(s.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OK);
            assert_eq!(l.C_Sign(s.h, data.as_mut_ptr(), data.len() as _, sig.as_mut_ptr(), &mut n), CKR_OK);
            s.verify(&mut mech::<u8>(CKM_ECDSA_SHA256, None), pubk, &data, &sig[..n as usize]).unwrap();
        }
    }
    // Decryption with such a key: the same, the login authorising the decryption.
    let (rsa_pub, rsa_priv) = pair(
        s,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        T::default().ulong(CKA_MODULUS_BITS, 2048),
        T::default().flag(CKA_ALWAYS_AUTHENTICATE, true),
    );
    let mut rsa = mech::<u8>(CKM_RSA_PKCS, None);
    let mut sealed = s.encrypt(&mut rsa, rsa_pub, &data).unwrap();
    let mut out = [0u8; 256];
    // SAFETY: raw calls with live buffers of the lengths given.
    unsafe {
        let l = &s.lib;
        let mut n: CK_ULONG = 256;
        assert_eq!(l.C_DecryptInit(s.h, &mut rsa, rsa_priv), CKR_OK);
        let rv = l.C_Decrypt(s.h, sealed.as_mut_ptr(), 256, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_USER_NOT_LOGGED_IN);
        assert_eq!(l.C_DecryptInit(s.h, &mut rsa, rsa_priv), CKR_OK);
        assert_eq!(l.C_Login(s.h, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), 4), CKR_OK);
        n = 256;
        assert_eq!(l.C_Decrypt(s.h, sealed.as_mut_ptr(), 256, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(&out[..n as usize], &data[..]);
    }
}

#[test]
fn rsa_sign_and_verify_recover() {
    let e = env();
    let s = &e.s;
    let (pubk, privk) = pair(s, CKM_RSA_PKCS_KEY_PAIR_GEN, T::default().ulong(CKA_MODULUS_BITS, 2048), T::default());
    let mut data = b"recover me".to_vec();
    // SAFETY: raw calls with live buffers of the lengths given.
    unsafe {
        let l = &s.lib;
        for m in [CKM_RSA_PKCS, CKM_RSA_X_509] {
            let mut mm = mech::<u8>(m, None);
            let input = if m == CKM_RSA_X_509 { [vec![0u8; 246], data.clone()].concat() } else { data.clone() };
            let mut input = input;
            assert_eq!(l.C_SignRecoverInit(s.h, &mut mm, privk), CKR_OK);
            let mut n: CK_ULONG = 0;
            assert_eq!(l.C_SignRecover(s.h, input.as_mut_ptr(), input.len() as _, null_mut(), &mut n), CKR_OK);
            assert_eq!(n, 256);
            let mut sig = vec![0u8; 256];
            assert_eq!(l.C_SignRecover(s.h, input.as_mut_ptr(), input.len() as _, sig.as_mut_ptr(), &mut n), CKR_OK);
            assert_eq!(l.C_VerifyRecoverInit(s.h, &mut mm, pubk), CKR_OK);
            let mut out = vec![0u8; 256];
            let mut on: CK_ULONG = 256;
            assert_eq!(l.C_VerifyRecover(s.h, sig.as_mut_ptr(), 256, out.as_mut_ptr(), &mut on), CKR_OK);
            assert_eq!(&out[..on as usize], &input[..]);
            sig[10] ^= 1;
            assert_eq!(l.C_VerifyRecoverInit(s.h, &mut mm, pubk), CKR_OK);
            on = 256;
            let rv = l.C_VerifyRecover(s.h, sig.as_mut_ptr(), 256, out.as_mut_ptr(), &mut on);
            if m == CKM_RSA_PKCS {
                assert_eq!(rv, CKR_SIGNATURE_INVALID);
            } else {
                assert_eq!(rv, CKR_OK);
                assert_ne!(&out[..on as usize], &input[..]);
            }
        }
        let mut pss = mech::<u8>(CKM_SHA256_RSA_PKCS, None);
        assert_eq!(l.C_SignRecoverInit(s.h, &mut pss, privk), CKR_MECHANISM_INVALID);
    }
    let _ = &e.h;
    data.clear();
}

/// An RSA private key created from its modulus and private exponent only (Table 141 does not
/// require the public exponent; Java's SunPKCS11 imports an RSAPrivateKeySpec so): the usual
/// exponents are found and filled in; with another, the key still signs, without public
/// key info.
/// Checks with RustCrypto that `sig` is an RSASSA-PKCS1-v1_5 SHA-256 signature of `msg` under
/// the public key (`n`, `e`).
fn rustcrypto_verifies_sha256_pkcs1(n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    let public = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e)).unwrap();
    VerifyingKey::<sha2::Sha256>::new(public)
        .verify(msg, &Signature::try_from(sig).unwrap())
        .expect("RustCrypto verifies it");
}

#[test]
fn rsa_private_keys_from_modulus_and_private_exponent() {
    let e = env();
    let s = &e.s;
    let msg = b"signed by a key without its public exponent".to_vec();
    for exponent in [&[1u8, 0, 1][..], &[3], &[1, 0, 3]] {
        let (pubk, privk) = pair(
            s,
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            T::default().ulong(CKA_MODULUS_BITS, 2048).bytes(CKA_PUBLIC_EXPONENT, exponent),
            T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true),
        );
        let n = s.get_bytes(pubk, CKA_MODULUS).unwrap();
        let d = s.get_bytes(privk, CKA_PRIVATE_EXPONENT).unwrap();
        let bare = s
            .create(&mut T::key(CKO_PRIVATE_KEY, CKK_RSA).bytes(CKA_MODULUS, &n).bytes(CKA_PRIVATE_EXPONENT, &d))
            .unwrap();
        let usual = exponent != [1, 0, 3];
        // Without one found, the key has no public exponent at all.
        let found = s.get_bytes(bare, CKA_PUBLIC_EXPONENT);
        assert_eq!(found, if usual { Ok(exponent.to_vec()) } else { Err(CKR_ATTRIBUTE_TYPE_INVALID) });
        assert_eq!(
            s.get_bytes(bare, CKA_PUBLIC_KEY_INFO).unwrap(),
            if usual { s.get_bytes(privk, CKA_PUBLIC_KEY_INFO).unwrap() } else { Vec::new() }
        );
        for m in [CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS] {
            let mut pss = CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: 32 };
            let mut mm = if m == CKM_SHA256_RSA_PKCS { mech::<u8>(m, None) } else { mech(m, Some(&mut pss)) };
            let sig = s.sign(&mut mm, bare, &msg).unwrap();
            s.verify(&mut mm, pubk, &msg, &sig).unwrap();
            if m == CKM_SHA256_RSA_PKCS {
                // And by RustCrypto, against the generated public key.
                rustcrypto_verifies_sha256_pkcs1(&n, exponent, &msg, &sig);
            }
        }
    }
}

/// A public exponent given with a leading zero byte (google/pkcs11test's PublicExponent4Bytes
/// gives 00 01 00 01) is the same exponent: the pair is made, the public key keeps the
/// template's bytes, the private key reads the key's own (no zero), and RustCrypto verifies
/// the key's signatures under 65537.
#[test]
fn a_public_exponent_with_leading_zeros_is_the_same_exponent() {
    let e = env();
    let s = &e.s;
    let (pubk, privk) = pair(
        s,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        T::default().ulong(CKA_MODULUS_BITS, 2048).bytes(CKA_PUBLIC_EXPONENT, &[0, 1, 0, 1]),
        T::default(),
    );
    assert_eq!(s.get_bytes(pubk, CKA_PUBLIC_EXPONENT).unwrap(), [0, 1, 0, 1]);
    assert_eq!(s.get_bytes(privk, CKA_PUBLIC_EXPONENT).unwrap(), [1, 0, 1]);
    let msg = b"signed under 65537".to_vec();
    let sig = s.sign(&mut mech::<u8>(CKM_SHA256_RSA_PKCS, None), privk, &msg).unwrap();
    let n = s.get_bytes(pubk, CKA_MODULUS).unwrap();
    rustcrypto_verifies_sha256_pkcs1(&n, &[1, 0, 1], &msg, &sig);
}

/// oxihsm claims no validation (it has no validation objects), so its keys have no 3.2
/// CKA_OBJECT_VALIDATION_FLAGS, as Kryoptic's non-FIPS build, which the `cryptoki` crate's
/// suite expects: reading, giving or setting it is CKR_ATTRIBUTE_TYPE_INVALID, and a search
/// naming it finds nothing.
#[test]
fn keys_have_no_validation_flags() {
    let e = env();
    let s = &e.s;
    let aes = s.generate(CKM_AES_KEY_GEN, &mut T::default().ulong(CKA_VALUE_LEN, 32)).unwrap();
    assert_eq!(s.get_ulong(aes, CKA_OBJECT_VALIDATION_FLAGS), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    assert_eq!(s.set(aes, &mut T::default().ulong(CKA_OBJECT_VALIDATION_FLAGS, 3)), Err(CKR_ATTRIBUTE_TYPE_INVALID));
    assert_eq!(
        s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[1u8; 16]).ulong(CKA_OBJECT_VALIDATION_FLAGS, 3)),
        Err(CKR_ATTRIBUTE_TYPE_INVALID)
    );
    assert_eq!(s.find(&mut T::default().ulong(CKA_OBJECT_VALIDATION_FLAGS, 0)), Ok(Vec::new()));
}

/// PKCS#11 3.2's CKM_PUB_KEY_FROM_PRIV_KEY: C_DeriveKey makes a private key's public key
/// object, whatever the private key's CKA_DERIVE: the same public values (and so the same
/// CKA_PUBLIC_KEY_INFO), the attributes the specification copies (CKA_VERIFY from CKA_SIGN,
/// CKA_ID, CKA_KEY_GEN_MECHANISM ...), the defaults of its table (a public session object,
/// not local), and what the template gives; the new key verifies the private key's
/// signatures.
#[test]
fn public_key_from_private_key() {
    let e = env();
    let s = &e.s;
    let ml_dsa_44 = CKP_ML_DSA_44;
    let mut cases: Vec<(&str, CK_MECHANISM_TYPE, T, CK_MECHANISM_TYPE, CK_ATTRIBUTE_TYPE)> = vec![
        (
            "RSA",
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            T::default().ulong(CKA_MODULUS_BITS, 2048).bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
            CKM_SHA256_RSA_PKCS,
            CKA_MODULUS,
        ),
        ("P-256", CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), CKM_ECDSA_SHA256, CKA_EC_POINT),
        ("Ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, ED25519), CKM_EDDSA, CKA_EC_POINT),
    ];
    if PQC {
        cases.push((
            "ML-DSA-44",
            CKM_ML_DSA_KEY_PAIR_GEN,
            T::default().ulong(CKA_PARAMETER_SET, ml_dsa_44),
            CKM_ML_DSA,
            CKA_VALUE,
        ));
    }
    let msg = b"made public from the private key";
    for (name, keygen, public_t, sign, material) in cases {
        let private_t = T::default().flag(CKA_SIGN, true).flag(CKA_DERIVE, false).bytes(CKA_ID, b"key-id");
        let (public, private) = pair(s, keygen, public_t.flag(CKA_VERIFY, true), private_t);
        let mut m = mech::<u8>(CKM_PUB_KEY_FROM_PRIV_KEY, None);
        let derived = s.derive(&mut m, private, &mut T::default()).unwrap_or_else(|rv| panic!("{name}: {rv:#x}"));
        for ty in [material, CKA_PUBLIC_KEY_INFO] {
            assert_eq!(s.get_bytes(derived, ty), s.get_bytes(public, ty), "{name}: attribute {ty:#x}");
        }
        assert_eq!(s.get_bytes(derived, CKA_CLASS).unwrap(), CKO_PUBLIC_KEY.to_ne_bytes());
        assert_eq!(s.get_bytes(derived, CKA_ID).unwrap(), b"key-id", "{name}");
        assert_eq!(s.get_bytes(derived, CKA_KEY_GEN_MECHANISM).unwrap(), keygen.to_ne_bytes(), "{name}");
        assert!(s.get_bool(derived, CKA_VERIFY), "{name}: CKA_VERIFY from CKA_SIGN");
        assert!(
            !s.get_bool(derived, CKA_LOCAL) && !s.get_bool(derived, CKA_TOKEN) && !s.get_bool(derived, CKA_PRIVATE),
            "{name}: the table's defaults"
        );
        let mut sm = mech::<u8>(sign, None);
        let sig = s.sign(&mut sm, private, msg).unwrap();
        s.verify(&mut sm, derived, msg, &sig).unwrap_or_else(|rv| panic!("{name}: verify {rv:#x}"));
        // The template's attributes win over the copied ones; the key's values are not its
        // to change.
        let t = &mut T::default().bytes(CKA_LABEL, b"public").flag(CKA_VERIFY, false);
        let labelled = s.derive(&mut m, private, t).unwrap();
        assert_eq!(s.get_bytes(labelled, CKA_LABEL).unwrap(), b"public");
        assert!(!s.get_bool(labelled, CKA_VERIFY), "{name}");
        let other = vec![0x42u8; s.get_bytes(public, material).unwrap().len()];
        assert_eq!(
            s.derive(&mut m, private, &mut T::default().bytes(material, &other)),
            Err(CKR_TEMPLATE_INCONSISTENT)
        );
        // Only a private key has a public key to make.
        assert_eq!(s.derive(&mut m, public, &mut T::default()), Err(CKR_KEY_TYPE_INCONSISTENT), "{name}");
    }
    // An ML-KEM key: CKA_ENCAPSULATE from CKA_DECAPSULATE.
    let mut m = mech::<u8>(CKM_PUB_KEY_FROM_PRIV_KEY, None);
    if PQC {
        let (public, private) = pair(
            s,
            CKM_ML_KEM_KEY_PAIR_GEN,
            T::default().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768),
            T::default().flag(CKA_DECAPSULATE, true),
        );
        let derived = s.derive(&mut m, private, &mut T::default()).unwrap();
        assert_eq!(s.get_bytes(derived, CKA_VALUE), s.get_bytes(public, CKA_VALUE));
        assert!(s.get_bool(derived, CKA_ENCAPSULATE));
    }
    let aes = s.secret_key(CKK_AES, &[3u8; 16]).unwrap();
    assert_eq!(s.derive(&mut m, aes, &mut T::default()), Err(CKR_KEY_TYPE_INCONSISTENT));
    assert_eq!(s.derive(&mut m, 0x7fff_0001, &mut T::default()), Err(CKR_KEY_HANDLE_INVALID));
    let mut param = [0u8; 4];
    let (_, private) = pair(s, CKM_EC_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, P256), T::default());
    assert_eq!(
        s.derive(&mut mech(CKM_PUB_KEY_FROM_PRIV_KEY, Some(&mut param)), private, &mut T::default()),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

/// A private key's CKA_ALLOWED_MECHANISMS (OpenSSL's pkcs11-provider makes its RSA-PSS keys
/// with one) limits it to those mechanisms: the listed one signs, and the signature verifies;
/// any other, PKCS#1 v1.5 or PSS over another hash, is CKR_MECHANISM_INVALID at C_SignInit.
#[test]
fn a_private_keys_allowed_mechanisms_limit_what_it_signs() {
    let e = env();
    let s = &e.s;
    let allowed: Vec<u8> = CKM_SHA256_RSA_PKCS_PSS.to_ne_bytes().to_vec();
    let (pubk, privk) = pair(
        s,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        T::default().ulong(CKA_MODULUS_BITS, 2048),
        T::default().bytes(CKA_ALLOWED_MECHANISMS, &allowed),
    );
    assert_eq!(s.get_bytes(privk, CKA_ALLOWED_MECHANISMS).unwrap(), allowed);
    let data = b"signed only with PSS over SHA-256".to_vec();
    let pss = |hash, mgf, len| CK_RSA_PKCS_PSS_PARAMS { hashAlg: hash, mgf, sLen: len };
    let mut p256 = pss(CKM_SHA256, CKG_MGF1_SHA256, 32);
    let sig = s.sign(&mut mech(CKM_SHA256_RSA_PKCS_PSS, Some(&mut p256)), privk, &data).unwrap();
    s.verify(&mut mech(CKM_SHA256_RSA_PKCS_PSS, Some(&mut p256)), pubk, &data, &sig).unwrap();
    for m in [CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS] {
        assert_eq!(s.sign(&mut mech::<u8>(m, None), privk, &data), Err(CKR_MECHANISM_INVALID), "{m:#x}");
    }
    let mut p384 = pss(CKM_SHA384, CKG_MGF1_SHA384, 48);
    assert_eq!(s.sign(&mut mech(CKM_SHA384_RSA_PKCS_PSS, Some(&mut p384)), privk, &data), Err(CKR_MECHANISM_INVALID));
}

/// An RSA private key's parts (Table 141), each made by generation and taken from the
/// wrapped key by unwrapping.
const RSA_PRIVATE_PARTS: [CK_ATTRIBUTE_TYPE; 8] = [
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

/// Table 10's footnotes on each key type's own attributes (Tables 140, 141, 173, 174 and the
/// secret keys'): what the token makes when it generates a key (4) or takes from the
/// wrapped key when it unwraps one (6) cannot be given, CKR_ATTRIBUTE_READ_ONLY; what must
/// be given when a key is created (1) is CKR_TEMPLATE_INCOMPLETE when it is not.
#[test]
fn generated_unwrapped_and_created_keys_follow_the_attribute_footnotes() {
    let e = env();
    let s = &e.s;
    let blob = |n: usize| vec![0x5a; n];
    // Generation (RSA at 1024 bits, cheaply).
    let rsa_pub = || T::default().ulong(CKA_MODULUS_BITS, 1024);
    let ec_pub = || T::default().bytes(CKA_EC_PARAMS, P256);
    let refused = |m, mut public: T, mut private: T| s.keypair(m, &mut public, &mut private).err();
    let ro = Some(CKR_ATTRIBUTE_READ_ONLY);
    assert_eq!(refused(CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_pub().bytes(CKA_MODULUS, &blob(128)), T::default()), ro);
    for ty in RSA_PRIVATE_PARTS {
        let private = T::default().bytes(ty, &blob(64));
        assert_eq!(refused(CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_pub(), private), ro, "RSA private {ty:#x}");
    }
    assert_eq!(refused(CKM_EC_KEY_PAIR_GEN, ec_pub().bytes(CKA_EC_POINT, &blob(67)), T::default()), ro);
    for ty in [CKA_EC_PARAMS, CKA_VALUE] {
        assert_eq!(refused(CKM_EC_KEY_PAIR_GEN, ec_pub(), T::default().bytes(ty, P256)), ro, "EC private {ty:#x}");
    }

    // Unwrapping: the key's parts come from the wrapped key (an EC key's curve may be named).
    let kek = s.secret_key(CKK_AES, &[7u8; 32]).unwrap();
    let kwp = || mech::<u8>(CKM_AES_KEY_WRAP_KWP, None);
    let extractable = || T::default().flag(CKA_EXTRACTABLE, true);
    let (_, rsa) = pair(s, CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_pub(), extractable());
    let (_, ec) = pair(s, CKM_EC_KEY_PAIR_GEN, ec_pub(), extractable());
    let aes = s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[3u8; 16]).flag(CKA_EXTRACTABLE, true)).unwrap();
    let unwrap = |key, class, kt, ty: Option<CK_ATTRIBUTE_TYPE>| {
        let wrapped = s.wrap(&mut kwp(), kek, key).unwrap();
        let mut t = T::key(class, kt);
        if let Some(ty) = ty {
            t = t.bytes(ty, &s.get_bytes(key, ty).unwrap_or_else(|_| blob(32)));
        }
        s.unwrap(&mut kwp(), kek, &wrapped, &mut t)
    };
    for ty in RSA_PRIVATE_PARTS {
        assert_eq!(unwrap(rsa, CKO_PRIVATE_KEY, CKK_RSA, Some(ty)).err(), ro, "RSA unwrapped with {ty:#x}");
    }
    assert_eq!(unwrap(ec, CKO_PRIVATE_KEY, CKK_EC, Some(CKA_VALUE)).err(), ro, "EC unwrapped with its scalar");
    assert_eq!(unwrap(aes, CKO_SECRET_KEY, CKK_AES, Some(CKA_VALUE)).err(), ro, "AES unwrapped with its value");
    unwrap(ec, CKO_PRIVATE_KEY, CKK_EC, Some(CKA_EC_PARAMS)).unwrap();
    unwrap(rsa, CKO_PRIVATE_KEY, CKK_RSA, None).unwrap();
    unwrap(aes, CKO_SECRET_KEY, CKK_AES, None).unwrap();

    // Creation: each required attribute left out in turn.
    let (rp, _) = pair(s, CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_pub(), T::default());
    let (ep, _) = pair(s, CKM_EC_KEY_PAIR_GEN, ec_pub(), T::default());
    let template = |kt, given: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)], without| {
        let mut t = T::key(CKO_PUBLIC_KEY, kt);
        for (ty, v) in given.iter().filter(|(ty, _)| *ty != without) {
            t = t.bytes(*ty, v);
        }
        t
    };
    let public = |kt, given: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)], without| s.create(&mut template(kt, given, without));
    let rsa_given = [CKA_MODULUS, CKA_PUBLIC_EXPONENT].map(|ty| (ty, s.get_bytes(rp, ty).unwrap()));
    let ec_given = [CKA_EC_PARAMS, CKA_EC_POINT].map(|ty| (ty, s.get_bytes(ep, ty).unwrap()));
    public(CKK_RSA, &rsa_given, 0).unwrap();
    let with_bits = template(CKK_RSA, &rsa_given, 0).ulong(CKA_MODULUS_BITS, 1024);
    assert_eq!(s.create(&mut { with_bits }).err(), ro, "CKA_MODULUS_BITS is the token's");
    public(CKK_EC, &ec_given, 0).unwrap();
    for (kt, given) in [(CKK_RSA, &rsa_given), (CKK_EC, &ec_given)] {
        for (ty, _) in given.iter() {
            assert_eq!(public(kt, given, *ty).err(), Some(CKR_TEMPLATE_INCOMPLETE), "{kt:#x} without {ty:#x}");
        }
    }
}
