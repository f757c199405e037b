//! The TLS 1.2 mechanisms through liboxihsm.so, each value checked against OpenSSL's own
//! TLS PRF (`openssl kdf ... TLS1-PRF`): the master secret (RFC 5246, and RFC 7627's
//! extended one) with the pre-master secret's version given back, the key block of a cipher
//! suite as keys and IVs, the Finished message's verify_data (CKM_TLS_MAC), RFC 5705
//! exporters (CKM_TLS_KDF, with TLS 1.2's PRF and TLS 1.0's), the pre-master secret of RSA
//! key exchange; and the parameter, template and protection rules of the section.

mod common;
use common::asymmetric::openssl_ok;
use common::*;
use cryptoki_sys::*;
use std::path::Path;
use std::ptr::null_mut;

/// OpenSSL's TLS PRF: `len` bytes of PRF(secret, label, seed) with `digest` (SHA256,
/// SHA384, or MD5-SHA1 for TLS 1.0's).
fn openssl_prf(dir: &Path, digest: &str, secret: &[u8], label: &str, seed: &[u8], len: usize) -> Vec<u8> {
    let (n, d, s, l) =
        (len.to_string(), format!("digest:{digest}"), format!("hexsecret:{}", hex(secret)), format!("seed:{label}"));
    let mut args = vec!["kdf", "-keylen", &n, "-kdfopt", &d, "-kdfopt", &s, "-kdfopt", &l];
    let seed_hex = format!("hexseed:{}", hex(seed));
    if !seed.is_empty() {
        args.extend(["-kdfopt", &seed_hex]);
    }
    args.push("TLS1-PRF");
    let out = String::from_utf8(openssl_ok(dir, &args)).unwrap();
    let digits: String = out.trim().split(':').collect();
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

fn filled(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)).collect()
}

/// A readable generic secret (non-sensitive, extractable), so derived values can be read.
fn open_secret(s: &RawSession, value: &[u8]) -> CK_OBJECT_HANDLE {
    let mut t = T::secret(CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, value)
        .flag(CKA_SENSITIVE, false)
        .flag(CKA_EXTRACTABLE, true)
        .flag(CKA_DERIVE, true);
    s.create(&mut t).unwrap()
}

/// A template for a readable derived key.
fn readable() -> T {
    T::default().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE, true)
}

fn randoms(client: &mut [u8], server: &mut [u8]) -> CK_SSL3_RANDOM_DATA {
    CK_SSL3_RANDOM_DATA {
        pClientRandom: client.as_mut_ptr(),
        ulClientRandomLen: client.len() as CK_ULONG,
        pServerRandom: server.as_mut_ptr(),
        ulServerRandomLen: server.len() as CK_ULONG,
    }
}

/// An exporter's parameter: the PRF, the label, the randoms, the context if any.
fn kdf_params(
    prf: CK_MECHANISM_TYPE,
    label: &mut [u8],
    random: CK_SSL3_RANDOM_DATA,
    context: Option<&mut [u8]>,
) -> CK_TLS_KDF_PARAMS {
    let (context, context_len) = context.map_or((null_mut(), 0), |c| (c.as_mut_ptr(), c.len() as CK_ULONG));
    CK_TLS_KDF_PARAMS {
        prfMechanism: prf,
        pLabel: label.as_mut_ptr(),
        ulLabelLength: label.len() as CK_ULONG,
        RandomInfo: random,
        pContextData: context,
        ulContextDataLength: context_len,
    }
}

/// Where key material goes: no handles yet, the IVs into `client` and `server`.
fn key_material_out(client: &mut [u8], server: &mut [u8]) -> CK_SSL3_KEY_MAT_OUT {
    CK_SSL3_KEY_MAT_OUT {
        hClientMacSecret: 0,
        hServerMacSecret: 0,
        hClientKey: 0,
        hServerKey: 0,
        pIVClient: client.as_mut_ptr(),
        pIVServer: server.as_mut_ptr(),
    }
}

/// C_DeriveKey of key material, whose handles go to the parameter: phKey NULL.
fn derive_material(s: &RawSession, m: &mut CK_MECHANISM, base: CK_OBJECT_HANDLE, t: &mut T) -> CK_RV {
    // SAFETY: live mechanism and template; phKey NULL as the key material sections say.
    unsafe { s.lib.C_DeriveKey(s.h, m, base, t.attrs.as_mut_ptr(), t.attrs.len() as _, null_mut()) }
}

#[test]
fn master_secret_key_block_finished_and_exporters_agree_with_openssl() {
    let (h, _p, _slot, s) = raw_user_env("tls");
    let dir = h.dir.path();
    let (mut cr, mut sr) = (filled(32, 1), filled(32, 99));
    let mut pms = filled(48, 7);
    pms[..2].copy_from_slice(&[3, 3]);
    let base = open_secret(&s, &pms);

    // The master secret, with SHA-256 and SHA-384, and the client's version given back.
    let mut master = 0;
    for (hash, digest) in
        [(CKM_SHA224, "SHA224"), (CKM_SHA512, "SHA512"), (CKM_SHA384, "SHA384"), (CKM_SHA256, "SHA256")]
    {
        let mut version = CK_VERSION { major: 0, minor: 0 };
        let mut p = CK_TLS12_MASTER_KEY_DERIVE_PARAMS {
            RandomInfo: randoms(&mut cr, &mut sr),
            pVersion: &mut version,
            prfHashMechanism: hash,
        };
        master = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), base, &mut readable()).unwrap();
        assert_eq!((version.major, version.minor), (3, 3));
        let want = openssl_prf(dir, digest, &pms, "master secret", &[&cr[..], &sr[..]].concat(), 48);
        assert_eq!(hex(&s.get_bytes(master, CKA_VALUE).unwrap()), hex(&want), "{digest}");
    }
    assert_eq!(s.get_ulong(master, CKA_KEY_TYPE), Ok(CKK_GENERIC_SECRET));
    assert_eq!(s.get_ulong(master, CKA_VALUE_LEN), Ok(48));
    // The mechanism contributes CKA_ALLOWED_MECHANISMS: the four and the deprecated aliases.
    let allowed: Vec<CK_ULONG> = s
        .get_bytes(master, CKA_ALLOWED_MECHANISMS)
        .unwrap()
        .chunks(8)
        .map(|c| CK_ULONG::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    for m in [CKM_TLS12_KEY_AND_MAC_DERIVE, CKM_TLS12_KEY_SAFE_DERIVE, CKM_TLS_KDF, CKM_TLS_MAC] {
        assert!(allowed.contains(&m), "{m:#x} in {allowed:x?}");
    }
    let ms = s.get_bytes(master, CKA_VALUE).unwrap();

    // RFC 7627's extended master secret, from the session hash.
    let mut session_hash = filled(32, 55);
    let mut p = CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS {
        prfHashMechanism: CKM_SHA256,
        pSessionHash: session_hash.as_mut_ptr(),
        ulSessionHashLen: 32,
        pVersion: null_mut(),
    };
    let ext = s.derive(&mut mech(CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE, Some(&mut p)), base, &mut readable()).unwrap();
    let want = openssl_prf(dir, "SHA256", &pms, "extended master secret", &session_hash, 48);
    assert_eq!(hex(&s.get_bytes(ext, CKA_VALUE).unwrap()), hex(&want));

    // The key block: MAC keys, cipher keys (AES-128 here) and IVs, from the master secret,
    // with the server's random first (RFC 5246 §6.3); phKey NULL.
    let (mut civ, mut siv) = ([0u8; 4], [0u8; 4]);
    let mut out = key_material_out(&mut civ, &mut siv);
    let mut p = CK_TLS12_KEY_MAT_PARAMS {
        ulMacSizeInBits: 256,
        ulKeySizeInBits: 128,
        ulIVSizeInBits: 32,
        bIsExport: 0,
        RandomInfo: randoms(&mut cr, &mut sr),
        pReturnedKeyMaterial: &mut out,
        prfHashMechanism: CKM_SHA256,
    };
    // (The cipher keys are not for signing; the MAC keys are, whatever the template says.)
    let mut t = readable().ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).flag(CKA_SIGN, false);
    assert_eq!(derive_material(&s, &mut mech(CKM_TLS12_KEY_AND_MAC_DERIVE, Some(&mut p)), master, &mut t), CKR_OK);
    let block = openssl_prf(dir, "SHA256", &ms, "key expansion", &[&sr[..], &cr[..]].concat(), 2 * (32 + 16 + 4));
    let keys = [out.hClientMacSecret, out.hServerMacSecret, out.hClientKey, out.hServerKey];
    let mut at = 0;
    for (i, k) in keys.into_iter().enumerate() {
        let n = if i < 2 { 32 } else { 16 };
        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), hex(&block[at..at + n]), "key {i}");
        at += n;
        let kt = if i < 2 { CKK_GENERIC_SECRET } else { CKK_AES };
        assert_eq!(s.get_ulong(k, CKA_KEY_TYPE), Ok(kt), "key {i}");
        assert_eq!(s.get_bool(k, CKA_SIGN), i < 2, "key {i}");
        assert!(s.get_bool(k, if i < 2 { CKA_VERIFY } else { CKA_ENCRYPT }), "key {i}");
    }
    assert_eq!(hex(&civ), hex(&block[at..at + 4]));
    assert_eq!(hex(&siv), hex(&block[at + 4..at + 8]));

    // The safe variant gives no IVs, whatever the IV size says.
    let (mut civ, mut siv) = ([0xeeu8; 4], [0xeeu8; 4]);
    out.pIVClient = civ.as_mut_ptr();
    out.pIVServer = siv.as_mut_ptr();
    p.pReturnedKeyMaterial = &mut out;
    assert_eq!(derive_material(&s, &mut mech(CKM_TLS12_KEY_SAFE_DERIVE, Some(&mut p)), master, &mut t), CKR_OK);
    assert_eq!((civ, siv), ([0xee; 4], [0xee; 4]));
    assert_eq!(hex(&s.get_bytes(out.hServerKey, CKA_VALUE).unwrap()), hex(&block[80..96]));

    // The Finished message's verify_data: PRF(master, label, the data given).
    let handshake_hash = filled(32, 3);
    for (side, label) in [(1, "server finished"), (2, "client finished")] {
        let mut p = CK_TLS_MAC_PARAMS { prfHashMechanism: CKM_SHA256, ulMacLength: 12, ulServerOrClient: side };
        let mac = s.sign(&mut mech(CKM_TLS_MAC, Some(&mut p)), master, &handshake_hash).unwrap();
        assert_eq!(hex(&mac), hex(&openssl_prf(dir, "SHA256", &ms, label, &handshake_hash, 12)), "{label}");
        assert_eq!(s.verify(&mut mech(CKM_TLS12_MAC, Some(&mut p)), master, &handshake_hash, &mac), Ok(()));
        let mut wrong = mac.clone();
        wrong[0] ^= 1;
        assert_eq!(
            s.verify(&mut mech(CKM_TLS_MAC, Some(&mut p)), master, &handshake_hash, &wrong),
            Err(CKR_SIGNATURE_INVALID)
        );
    }
    // TLS 1.0's PRF makes 12 bytes, TLS 1.2's at least 12; a third side is no side.
    let mut p = CK_TLS_MAC_PARAMS { prfHashMechanism: CKM_TLS_PRF, ulMacLength: 12, ulServerOrClient: 2 };
    let mac = s.sign(&mut mech(CKM_TLS_MAC, Some(&mut p)), master, &handshake_hash).unwrap();
    assert_eq!(hex(&mac), hex(&openssl_prf(dir, "MD5-SHA1", &ms, "client finished", &handshake_hash, 12)));
    let mut p = CK_TLS_MAC_PARAMS { prfHashMechanism: CKM_SHA384, ulMacLength: 32, ulServerOrClient: 1 };
    let mac = s.sign(&mut mech(CKM_TLS_MAC, Some(&mut p)), master, &handshake_hash).unwrap();
    assert_eq!(hex(&mac), hex(&openssl_prf(dir, "SHA384", &ms, "server finished", &handshake_hash, 32)));
    for (prf, len, side) in [(CKM_TLS_PRF, 16, 1), (CKM_SHA256, 11, 1), (CKM_SHA256, 12, 3), (CKM_SHA256, 12, 0)] {
        let mut p = CK_TLS_MAC_PARAMS { prfHashMechanism: prf, ulMacLength: len, ulServerOrClient: side };
        let r = s.sign(&mut mech(CKM_TLS_MAC, Some(&mut p)), master, b"x");
        assert_eq!(r, Err(CKR_MECHANISM_PARAM_INVALID), "{prf:#x} {len} {side}");
    }

    // RFC 5705 exporters, with and without a context, TLS 1.2's PRF and TLS 1.0's.
    let mut label = b"EXPORTER-oxihsm".to_vec();
    let mut context = b"ctx".to_vec();
    for (prf, digest, with_context) in
        [(CKM_SHA256, "SHA256", true), (CKM_SHA384, "SHA384", false), (CKM_TLS_PRF, "MD5-SHA1", false)]
    {
        let mut p = kdf_params(prf, &mut label, randoms(&mut cr, &mut sr), with_context.then_some(&mut context[..]));
        let mut t = readable().ulong(CKA_VALUE_LEN, 20);
        let k = s.derive(&mut mech(CKM_TLS_KDF, Some(&mut p)), master, &mut t).unwrap();
        let mut seed = [&cr[..], &sr[..]].concat();
        if with_context {
            seed.extend_from_slice(&[0, 3]);
            seed.extend_from_slice(&context);
        }
        let want = openssl_prf(dir, digest, &ms, "EXPORTER-oxihsm", &seed, 20);
        assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), hex(&want), "{digest}");
    }
    // An exported key the template says nothing of the protection of is as the original
    // key (readable here); an AES key of its length.
    let mut p = kdf_params(CKM_SHA256, &mut label, randoms(&mut cr, &mut sr), None);
    let mut t = T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 16);
    let k = s.derive(&mut mech(CKM_TLS12_KDF, Some(&mut p)), master, &mut t).unwrap();
    assert!(!s.get_bool(k, CKA_SENSITIVE) && s.get_bool(k, CKA_EXTRACTABLE));
    let want = openssl_prf(dir, "SHA256", &ms, "EXPORTER-oxihsm", &[&cr[..], &sr[..]].concat(), 16);
    assert_eq!(hex(&s.get_bytes(k, CKA_VALUE).unwrap()), hex(&want));
}

#[test]
fn parameters_templates_and_protection() {
    let (_h, _p, _slot, s) = raw_user_env("tls");
    let (mut cr, mut sr) = (filled(32, 1), filled(32, 2));
    let dh_secret = open_secret(&s, &filled(32, 9));
    let rsa_pms = open_secret(&s, &filled(48, 5));
    let mut version = CK_VERSION { major: 0, minor: 0 };
    let mut params = |pv: *mut CK_VERSION, hash| CK_TLS12_MASTER_KEY_DERIVE_PARAMS {
        RandomInfo: randoms(&mut cr, &mut sr),
        pVersion: pv,
        prfHashMechanism: hash,
    };
    // The DH variant takes a secret of any length and no version to give back.
    let mut p = params(null_mut(), CKM_SHA256);
    let k = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE_DH, Some(&mut p)), dh_secret, &mut T::default()).unwrap();
    assert_eq!(s.get_ulong(k, CKA_VALUE_LEN), Ok(48));
    let mut p = params(&mut version, CKM_SHA256);
    let r = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE_DH, Some(&mut p)), dh_secret, &mut T::default());
    assert_eq!(r, Err(CKR_MECHANISM_PARAM_INVALID));
    // RSA key exchange's pre-master secret is 48 bytes.
    let mut p = params(&mut version, CKM_SHA256);
    let r = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), dh_secret, &mut T::default());
    assert_eq!(r, Err(CKR_KEY_SIZE_RANGE));
    // A PRF hash the token does not take (TLS 1.0's PRF has its own master secret
    // mechanism, which the token does not offer), a template contradicting what the
    // mechanism makes.
    for hash in [CKM_MD5, CKM_TLS_PRF, CKM_SHA3_256] {
        let mut p = params(&mut version, hash);
        let r = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), rsa_pms, &mut T::default());
        assert_eq!(r, Err(CKR_MECHANISM_PARAM_INVALID), "{hash:#x}");
    }
    for mut t in [T::default().ulong(CKA_VALUE_LEN, 32), T::default().ulong(CKA_KEY_TYPE, CKK_AES)] {
        let mut p = params(&mut version, CKM_SHA256);
        let r = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), rsa_pms, &mut t);
        assert_eq!(r, Err(CKR_TEMPLATE_INCONSISTENT));
    }
    // A master secret from a pre-master secret the token made (sensitive, as every key by
    // default) has always been sensitive; one allowed fewer mechanisms keeps that list, one
    // allowed others is refused.
    let mut v = CK_VERSION { major: 3, minor: 3 };
    let mut m = mech(CKM_TLS_PRE_MASTER_KEY_GEN, Some(&mut v));
    let mut sensitive_pms = 0;
    // SAFETY: live mechanism and output; no template.
    let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, null_mut(), 0, &mut sensitive_pms) };
    assert_eq!(rv, CKR_OK);
    assert!(s.get_bool(sensitive_pms, CKA_ALWAYS_SENSITIVE));
    let fewer = CKM_TLS_KDF.to_ne_bytes();
    let mut t = T::default().bytes(CKA_ALLOWED_MECHANISMS, &fewer);
    let mut p = params(&mut version, CKM_SHA256);
    let master = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), sensitive_pms, &mut t).unwrap();
    assert!(s.get_bool(master, CKA_ALWAYS_SENSITIVE) && s.get_bool(master, CKA_NEVER_EXTRACTABLE));
    assert_eq!(s.get_bytes(master, CKA_ALLOWED_MECHANISMS).unwrap(), fewer.to_vec());
    assert_eq!(s.get_bytes(master, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    // An exported key of a sensitive, unextractable original is so whatever the template says.
    let (mut label, mut xc, mut xs) = (b"EXPORTER-x".to_vec(), filled(32, 3), filled(32, 4));
    let mut p = kdf_params(CKM_SHA256, &mut label, randoms(&mut xc, &mut xs), None);
    let mut t = readable().ulong(CKA_VALUE_LEN, 32);
    let k = s.derive(&mut mech(CKM_TLS_KDF, Some(&mut p)), master, &mut t).unwrap();
    assert!(s.get_bool(k, CKA_SENSITIVE) && !s.get_bool(k, CKA_EXTRACTABLE));
    assert!(s.get_bool(k, CKA_ALWAYS_SENSITIVE) && s.get_bool(k, CKA_NEVER_EXTRACTABLE));
    // Sensitive but extractable: only the sensitivity is forced, the rest of the template
    // kept.
    let mut t = T::secret(CKK_GENERIC_SECRET).bytes(CKA_VALUE, &filled(48, 6)).flag(CKA_EXTRACTABLE, true);
    let sensitive_extractable = s.create(&mut t).unwrap();
    let mut t = readable().ulong(CKA_VALUE_LEN, 32).bytes(CKA_LABEL, b"exported");
    let k = s.derive(&mut mech(CKM_TLS_KDF, Some(&mut p)), sensitive_extractable, &mut t).unwrap();
    assert!(s.get_bool(k, CKA_SENSITIVE) && s.get_bool(k, CKA_EXTRACTABLE));
    assert_eq!(s.get_bytes(k, CKA_LABEL).unwrap(), b"exported");
    let other = CKM_AES_ECB.to_ne_bytes();
    let mut t = T::default().bytes(CKA_ALLOWED_MECHANISMS, &other);
    let mut p = params(&mut version, CKM_SHA256);
    let r = s.derive(&mut mech(CKM_TLS12_MASTER_KEY_DERIVE, Some(&mut p)), sensitive_pms, &mut t);
    assert_eq!(r, Err(CKR_TEMPLATE_INCONSISTENT));

    // Key material takes the base key's protection: a template asking other is refused and
    // makes no key; an export suite, a missing output structure, and sizes that are not whole
    // bytes are refused parameters.
    let (mut civ, mut siv) = ([0u8; 16], [0u8; 16]);
    let mut out = key_material_out(&mut civ, &mut siv);
    let mut key_mat = |mac: CK_ULONG, key: CK_ULONG, export: u8, out: *mut CK_SSL3_KEY_MAT_OUT, t: &mut T| {
        let mut p = CK_TLS12_KEY_MAT_PARAMS {
            ulMacSizeInBits: mac,
            ulKeySizeInBits: key,
            ulIVSizeInBits: 128,
            bIsExport: export,
            RandomInfo: randoms(&mut cr, &mut sr),
            pReturnedKeyMaterial: out,
            prfHashMechanism: CKM_SHA256,
        };
        derive_material(&s, &mut mech(CKM_TLS12_KEY_AND_MAC_DERIVE, Some(&mut p)), rsa_pms, t)
    };
    assert_eq!(key_mat(160, 128, 0, &mut out, &mut T::default().flag(CKA_SENSITIVE, true)), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(out.hClientKey, 0);
    assert_eq!(key_mat(160, 128, 1, &mut out, &mut T::default()), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(key_mat(160, 128, 0, null_mut(), &mut T::default()), CKR_MECHANISM_PARAM_INVALID);
    assert_eq!(key_mat(161, 128, 0, &mut out, &mut T::default()), CKR_MECHANISM_PARAM_INVALID);
    // The template's CKA_VALUE_LEN, when given, is the suite's key length.
    assert_eq!(key_mat(160, 128, 0, &mut out, &mut T::default().ulong(CKA_VALUE_LEN, 24)), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(key_mat(160, 128, 0, &mut out, &mut T::secret(CKK_AES).ulong(CKA_VALUE_LEN, 16)), CKR_OK);
    assert_eq!(s.get_ulong(out.hServerKey, CKA_VALUE_LEN), Ok(16));
    // An AEAD suite has no MAC keys: their handles stay CK_INVALID_HANDLE.
    out.hClientMacSecret = 77;
    assert_eq!(key_mat(0, 128, 0, &mut out, &mut T::default()), CKR_OK);
    assert_eq!((out.hClientMacSecret, out.hServerMacSecret), (CK_INVALID_HANDLE, CK_INVALID_HANDLE));
    assert_ne!(out.hClientKey, CK_INVALID_HANDLE);
    assert!(!s.get_bool(out.hClientKey, CKA_SENSITIVE) && s.get_bool(out.hClientKey, CKA_EXTRACTABLE));
    // Triple DES keys (a type of one length: no CKA_VALUE_LEN), with odd parity.
    assert_eq!(key_mat(160, 192, 0, &mut out, &mut T::secret(CKK_DES3)), CKR_OK);
    let des3 = s.get_bytes(out.hClientKey, CKA_VALUE).unwrap();
    assert!(des3.len() == 24 && des3.iter().all(|b| b.count_ones() % 2 == 1), "{}", hex(&des3));
    // A suite's key length that is not the type's one length contradicts the template.
    assert_eq!(key_mat(160, 128, 0, &mut out, &mut T::secret(CKK_DES3)), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(key_mat(160, 160, 0, &mut out, &mut T::secret(CKK_AES)), CKR_TEMPLATE_INCONSISTENT);
    // Nor a NULL cipher suite cipher keys.
    out.hClientKey = 77;
    assert_eq!(key_mat(160, 0, 0, &mut out, &mut T::default()), CKR_OK);
    assert_eq!((out.hClientKey, out.hServerKey), (CK_INVALID_HANDLE, CK_INVALID_HANDLE));
    assert_ne!(out.hClientMacSecret, CK_INVALID_HANDLE);

    // The pre-master secret of RSA key exchange: 48 bytes, the version first.
    let mut v = CK_VERSION { major: 3, minor: 3 };
    let mut t = readable();
    let mut m = mech(CKM_TLS_PRE_MASTER_KEY_GEN, Some(&mut v));
    let mut k = 0;
    // SAFETY: live mechanism, template and output.
    let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut k) };
    assert_eq!(rv, CKR_OK);
    let value = s.get_bytes(k, CKA_VALUE).unwrap();
    assert_eq!((value.len(), &value[..2]), (48, &[3u8, 3][..]));
    assert_eq!(s.get_ulong(k, CKA_KEY_TYPE), Ok(CKK_GENERIC_SECRET));
    for mut t in [T::default().ulong(CKA_VALUE_LEN, 32), T::secret(CKK_AES)] {
        let mut m = mech(CKM_TLS_PRE_MASTER_KEY_GEN, Some(&mut v));
        // SAFETY: as above.
        let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, t.attrs.as_mut_ptr(), t.attrs.len() as _, &mut k) };
        assert_eq!(rv, CKR_TEMPLATE_INCONSISTENT);
    }
    let mut m = mech::<u8>(CKM_TLS_PRE_MASTER_KEY_GEN, None);
    // SAFETY: as above.
    let rv = unsafe { s.lib.C_GenerateKey(s.h, &mut m, null_mut(), 0, &mut k) };
    assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID);
}
