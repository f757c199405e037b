//! Shared by the asymmetric-key tests (tests/asymmetric.rs, tests/dsa_dh.rs): a logged-in
//! session, curve OIDs, key pairs, DER pieces and the `openssl` command.

use super::*;
use cryptoki_sys::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct Env {
    pub h: Harness,
    pub p: cryptoki::context::Pkcs11,
    pub s: RawSession,
}

pub fn env() -> Env {
    let (h, p, _slot, s) = raw_user_env("asym");
    Env { h, p, s }
}

pub const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
pub const P224: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21];
pub const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
pub const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
pub const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
pub const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

pub fn ec_pair(s: &RawSession, m: CK_MECHANISM_TYPE, params: &[u8]) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(m, &mut T::default().bytes(CKA_EC_PARAMS, params), &mut T::default()).unwrap()
}

pub fn rsa_pair(s: &RawSession, bits: CK_ULONG) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    s.keypair(CKM_RSA_PKCS_KEY_PAIR_GEN, &mut T::default().ulong(CKA_MODULUS_BITS, bits), &mut T::default()).unwrap()
}

/// Writes the key's CKA_PUBLIC_KEY_INFO as a DER file for openssl.
pub fn spki_file(s: &RawSession, key: CK_OBJECT_HANDLE, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, s.get_bytes(key, CKA_PUBLIC_KEY_INFO).unwrap()).unwrap();
    path
}

/// A DER TLV (any length).
pub fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let len = match n {
        0..0x80 => vec![n as u8],
        0x80..0x100 => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    };
    [&[tag][..], &len, body].concat()
}

/// A DER INTEGER of the unsigned big-endian `b`.
pub fn der_uint(b: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
    let sign = if v.first().is_none_or(|x| x & 0x80 != 0) { &[0u8][..] } else { &[] };
    der(0x02, &[sign, &v].concat())
}

/// A DER SEQUENCE of unsigned INTEGERs (ECDSA-Sig-Value, Dss-Parms, DHParameter).
pub fn der_uints(ints: &[&[u8]]) -> Vec<u8> {
    der(0x30, &ints.iter().flat_map(|i| der_uint(i)).collect::<Vec<u8>>())
}

/// DER ECDSA-Sig-Value from r || s.
pub fn der_sig(rs: &[u8]) -> Vec<u8> {
    let (r, s) = rs.split_at(rs.len() / 2);
    der_uints(&[r, s])
}

/// Whether `openssl dgst <hash> -verify <pem>` accepts `sig` (as openssl encodes it: DER for
/// (EC)DSA) over the file `msg` in `dir`.
pub fn openssl_verifies(dir: &Path, hash: &str, pem: &str, sig: &[u8]) -> bool {
    std::fs::write(dir.join("sig"), sig).unwrap();
    let out = openssl_ok(dir, &["dgst", hash, "-verify", pem, "-signature", "sig", "msg"]);
    String::from_utf8_lossy(&out).contains("Verified OK")
}

/// A session AES-256 key that wraps and unwraps.
pub fn aes_kek(s: &RawSession) -> CK_OBJECT_HANDLE {
    s.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[7u8; 32]).flag(CKA_WRAP, true).flag(CKA_UNWRAP, true)).unwrap()
}

/// r || s from a DER ECDSA-Sig-Value, each `n` bytes.
pub fn raw_sig(der: &[u8], n: usize) -> Vec<u8> {
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

pub fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    tool("openssl").current_dir(dir).args(args).output().unwrap()
}

pub fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let o = openssl(dir, args);
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// Makes an EC key with `openssl genpkey` on `curve` (writing `<stem>.pem` and
/// `<stem>.pub.pem`) and imports both halves with C_CreateObject: (private, public, raw point).
pub fn openssl_ec_key(
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
        s.create(&mut T::key(class, CKK_EC).bytes(CKA_EC_PARAMS, params).bytes(attr, value)).unwrap()
    };
    (key(CKO_PRIVATE_KEY, CKA_VALUE, &d), key(CKO_PUBLIC_KEY, CKA_EC_POINT, &point), point)
}

/// Makes an RSA-2048 key with `openssl genpkey` (writing `<stem>.pem` and `<stem>.pub.pem`)
/// and imports both halves, with every CRT value, with C_CreateObject: (private, public, the
/// `openssl pkey -text` fields).
pub fn openssl_rsa_key(
    s: &RawSession,
    dir: &Path,
    stem: &str,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, HashMap<String, Vec<u8>>) {
    let key = format!("{stem}.pem");
    openssl_ok(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &key]);
    openssl_ok(dir, &["pkey", "-in", &key, "-pubout", "-out", &format!("{stem}.pub.pem")]);
    let f = openssl_fields(&String::from_utf8(openssl_ok(dir, &["pkey", "-in", &key, "-text", "-noout"])).unwrap());
    let mut public = T::key(CKO_PUBLIC_KEY, CKK_RSA)
        .bytes(CKA_MODULUS, &f["modulus"])
        .bytes(CKA_PUBLIC_EXPONENT, &f["publicExponent"]);
    let public = s.create(&mut public).unwrap();
    let mut private = T::key(CKO_PRIVATE_KEY, CKK_RSA);
    for (attr, field) in RSA_FIELDS {
        private = private.bytes(attr, &f[field]);
    }
    (s.create(&mut private).unwrap(), public, f)
}

/// CK_RSA_PKCS_OAEP_PARAMS for OAEP with SHA-256, MGF1 with SHA-256 and `label`, and the
/// `openssl pkeyutl` options that say the same.
pub fn oaep_sha256(label: &mut [u8]) -> (CK_RSA_PKCS_OAEP_PARAMS, Vec<String>) {
    let params = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: label.as_mut_ptr().cast(),
        ulSourceDataLen: label.len() as _,
    };
    let hex: String = label.iter().map(|b| format!("{b:02x}")).collect();
    let opts = ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256", &format!("rsa_oaep_label:{hex}")]
        .iter()
        .flat_map(|o| ["-pkeyopt".to_string(), o.to_string()])
        .collect();
    (params, opts)
}

/// An RSA private key's attributes and the `openssl pkey -text` fields that hold them.
pub const RSA_FIELDS: [(CK_ATTRIBUTE_TYPE, &str); 8] = [
    (CKA_MODULUS, "modulus"),
    (CKA_PUBLIC_EXPONENT, "publicExponent"),
    (CKA_PRIVATE_EXPONENT, "privateExponent"),
    (CKA_PRIME_1, "prime1"),
    (CKA_PRIME_2, "prime2"),
    (CKA_EXPONENT_1, "exponent1"),
    (CKA_EXPONENT_2, "exponent2"),
    (CKA_COEFFICIENT, "coefficient"),
];

/// Parses `openssl pkey -text` output into its hex fields.
pub fn openssl_fields(text: &str) -> HashMap<String, Vec<u8>> {
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
