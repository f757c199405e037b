//! Envelope encryption with `oxihsm encrypt` / `oxihsm decrypt` (issue 7): round trips
//! under an AES key (key wrap) and an RSA key (OAEP), files of awkward sizes and larger than
//! one chunk, and tampering (a flipped bit, a truncation at a chunk boundary, reordered
//! chunks, a changed wrapped key, the wrong key) detected with no output left behind.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PIN: &str = "--pin-source=value:1234";
const CHUNK: usize = 64 * 1024;

fn cli(h: &Harness, args: &[&str]) -> std::process::Output {
    Command::new(built_cli()).args(args).envs(h.env()).env("OXIHSM_MODULE", &h.lib).output().unwrap()
}

fn ok(h: &Harness, args: &[&str]) -> String {
    let out = cli(h, args);
    assert!(out.status.success(), "oxihsm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setup() -> Harness {
    let h = Harness::new();
    ok(&h, &["init-token", "--free", "--label", "env", "--so-pin-source=value:12345678", PIN]);
    ok(&h, &["keygen", "--token", "env", PIN, "--type", "aes", "--label", "kek"]);
    ok(&h, &["keygen", "--token", "env", PIN, "--type", "aes", "--label", "other"]);
    ok(&h, &["keygen", "--token", "env", PIN, "--type", "rsa", "--label", "rsa", "--usage", "wrap,unwrap"]);
    h
}

fn random_file(path: &Path, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x1234_5678_9abc_def1 ^ len as u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(path, &data).unwrap();
    data
}

fn paths(h: &Harness, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let d = h.dir.path();
    (d.join(name), d.join(format!("{name}.oxe")), d.join(format!("{name}.out")))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn round_trips_under_aes_and_rsa() {
    let h = setup();
    for (key, len) in [
        ("kek", 0),
        ("kek", 1),
        ("kek", CHUNK),
        ("kek", 3 * CHUNK + 17),
        ("kek", 20 * 1024 * 1024 + 5),
        ("rsa", 100_000),
    ] {
        let (plain, enc, out) = paths(&h, &format!("{key}-{len}"));
        let data = random_file(&plain, len);
        let uri = format!("pkcs11:token=env;object={key}");
        let uri = if key == "rsa" { format!("{uri};type=public") } else { uri };
        ok(&h, &["encrypt", "--key", &uri, s(&plain), s(&enc), PIN]);
        let sealed = std::fs::read(&enc).unwrap();
        let chunks = len / CHUNK + 1;
        assert!(sealed.starts_with(b"OXENV\0\x01"));
        assert!(sealed.len() >= len + 16 * chunks, "{key}/{len}: every chunk has a tag");
        if len > 64 {
            assert!(!sealed.windows(64).any(|w| w == &data[..64]), "{key}/{len}: plaintext in the output");
        }
        // The file names its key: decrypt needs no --key.
        ok(&h, &["decrypt", s(&enc), s(&out), PIN]);
        assert!(std::fs::read(&out).unwrap() == data, "{key}/{len}: round trip");
    }
}

#[test]
fn tampering_and_wrong_keys_are_detected() {
    let h = setup();
    let (plain, enc, out) = paths(&h, "victim");
    random_file(&plain, 3 * CHUNK + 100);
    ok(&h, &["encrypt", "--key", "pkcs11:token=env;object=kek", s(&plain), s(&enc), PIN]);
    let good = std::fs::read(&enc).unwrap();
    let header_len = good.len() - (3 * CHUNK + 100) - 4 * 16;
    let block = CHUNK + 16;
    let bad = h.dir.path().join("bad.oxe");
    let try_decrypt = |bytes: &[u8], extra: &[&str], what: &str| {
        std::fs::write(&bad, bytes).unwrap();
        let _ = std::fs::remove_file(&out);
        let mut args = vec!["decrypt", s(&bad), s(&out), PIN];
        args.extend_from_slice(extra);
        let r = cli(&h, &args);
        assert!(!r.status.success(), "{what}: decrypted anyway");
        assert!(!out.exists(), "{what}: partial output left behind");
        String::from_utf8_lossy(&r.stderr).into_owned()
    };
    // A flipped bit in the second chunk.
    let mut b = good.clone();
    b[header_len + block + 10] ^= 0x01;
    let e = try_decrypt(&b, &[], "flipped bit");
    assert!(e.contains("chunk 1: authentication failed"), "{e}");
    // Truncated at a chunk boundary (the last chunk dropped).
    let e = try_decrypt(&good[..header_len + 3 * block], &[], "truncation");
    assert!(e.contains("authentication failed"), "{e}");
    // Chunks 0 and 1 swapped.
    let mut b = good[..header_len].to_vec();
    b.extend_from_slice(&good[header_len + block..header_len + 2 * block]);
    b.extend_from_slice(&good[header_len..header_len + block]);
    b.extend_from_slice(&good[header_len + 2 * block..]);
    let e = try_decrypt(&b, &[], "reordering");
    assert!(e.contains("chunk 0: authentication failed"), "{e}");
    // The wrapped data key changed.
    let mut b = good.clone();
    b[header_len - 3] ^= 0x80;
    let e = try_decrypt(&b, &[], "wrapped key");
    assert!(e.contains("C_UnwrapKey"), "{e}");
    // The wrong token key.
    let e = try_decrypt(&good, &["--key", "pkcs11:token=env;object=other"], "wrong key");
    assert!(e.contains("C_UnwrapKey"), "{e}");
    // Not an envelope at all.
    let e = try_decrypt(b"hello", &[], "junk");
    assert!(e.contains("not an oxihsm envelope file"), "{e}");
    // And the untouched file still decrypts.
    ok(&h, &["decrypt", s(&enc), s(&out), PIN]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&plain).unwrap());
}

/// A header whose chunk size or wrapping mechanism is out of range is refused before any
/// chunk is read (a chunk size of 4 GiB would be a 4 GiB buffer); each chunk has its own
/// nonce, so equal chunks encrypt differently; the key URI's token is the one used, with
/// other tokens in the store.
#[test]
fn headers_nonces_and_the_token_named() {
    let h = setup();
    ok(&h, &["init-token", "--free", "--label", "bystander", "--so-pin-source=value:12345678", PIN]);
    let (plain, enc, out) = paths(&h, "zeros");
    std::fs::write(&plain, vec![0u8; 2 * CHUNK]).unwrap();
    let done = ok(&h, &["--json", "encrypt", "--key", "pkcs11:token=env;object=kek", s(&plain), s(&enc), PIN]);
    let done: serde_json::Value = serde_json::from_str(&done).unwrap();
    assert_eq!((done["chunks"].as_u64(), done["bytes"].as_u64()), (Some(2), Some(2 * CHUNK as u64)), "{done}");
    let good = std::fs::read(&enc).unwrap();
    let header_len = good.len() - 2 * CHUNK - 2 * 16;
    let block = CHUNK + 16;
    let (first, second) =
        (&good[header_len..header_len + CHUNK], &good[header_len + block..header_len + block + CHUNK]);
    assert_ne!(first, second, "two equal chunks under one nonce");
    ok(&h, &["decrypt", s(&enc), s(&out), PIN]);
    assert_eq!(std::fs::read(&out).unwrap(), vec![0u8; 2 * CHUNK]);
    // Input that cannot be read (a directory opens, and its reads fail): an error, at once.
    let r = cli(&h, &["encrypt", "--key", "pkcs11:token=env;object=kek", s(h.dir.path()), s(&enc), PIN]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("directory"), "{}", String::from_utf8_lossy(&r.stderr));
    // The fixed header: magic (6), version (1), wrapping mechanism (8), chunk size (4).
    let bad = h.dir.path().join("bad.oxe");
    let decrypt_changed = |at: usize, value: &[u8]| {
        let mut b = good.clone();
        b[at..at + value.len()].copy_from_slice(value);
        std::fs::write(&bad, &b).unwrap();
        let r = cli(&h, &["decrypt", s(&bad), s(&out), PIN]);
        (r.status.success(), String::from_utf8_lossy(&r.stderr).into_owned())
    };
    for (what, at, value) in [
        ("chunk size 0", 15, 0u64.to_le_bytes()[..4].to_vec()),
        ("chunk size 4 GiB", 15, vec![0xff; 4]),
        ("chunk size 16 MiB + 1", 15, ((16 << 20) + 1u32).to_le_bytes().to_vec()),
        ("wrapping mechanism 7", 7, 7u64.to_le_bytes().to_vec()),
    ] {
        let (ok, e) = decrypt_changed(at, &value);
        assert!(!ok, "{what}");
        assert!(e.contains("bad header"), "{what}: {e}");
    }
    // 16 MiB is the largest chunk size a header may name: this one is read, and fails
    // where it was changed (the header is authenticated with every chunk).
    let (ok, e) = decrypt_changed(15, &(16u32 << 20).to_le_bytes());
    assert!(!ok && !e.contains("bad header") && e.contains("authentication failed"), "{e}");
}
