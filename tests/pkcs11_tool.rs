//! OpenSC's pkcs11-tool driving liboxihsm.so as a real client: --show-info, --list-slots,
//! --init-token, --init-pin, --login --list-objects, --write-object (data and certificate),
//! --read-object and --delete-object; and with another module's C_* functions in the
//! process's global scope.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn p11(h: &Harness) -> Command {
    let mut c = tool("pkcs11-tool");
    c.arg("--module").arg(&h.lib).envs(h.env());
    c
}

fn self_signed_cert(dir: &Path) -> Vec<u8> {
    let der = dir.join("cert.der");
    run_ok(
        tool("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=oxihsm pkcs11-tool test",
                "-days",
                "2",
                "-outform",
                "DER",
            ])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(&der),
    );
    std::fs::read(der).unwrap()
}

#[test]
fn pkcs11_tool_manages_tokens_and_objects() {
    let h = Harness::new();
    let d = h.dir.path();

    let info = run_ok(p11(&h).arg("--show-info"));
    assert!(info.contains("Cryptoki version 3.2") || info.contains("Cryptoki version 2.40"), "{info}");
    assert!(info.contains("oxihsm"), "{info}");

    let slots = run_ok(p11(&h).arg("--list-slots"));
    assert!(slots.contains("uninitialized"), "{slots}");

    run_ok(p11(&h).args(["--init-token", "--slot", "0", "--label", "tool-token", "--so-pin", SO_PIN]));
    let slots = run_ok(p11(&h).arg("--list-slots"));
    assert!(slots.contains("tool-token"), "{slots}");
    assert!(slots.contains("token initialized"), "{slots}");
    assert!(slots.contains("Slot 1"), "a new spare slot appears: {slots}");

    run_ok(p11(&h).args(["--token-label", "tool-token", "--init-pin", "--so-pin", SO_PIN, "--pin", USER_PIN]));
    let slots = run_ok(p11(&h).arg("--list-slots"));
    assert!(slots.contains("PIN initialized"), "{slots}");

    let login = ["--token-label", "tool-token", "--login", "--pin", USER_PIN];

    // A public data object and a private one.
    std::fs::write(d.join("public.txt"), b"public payload").unwrap();
    std::fs::write(d.join("private.txt"), b"private payload").unwrap();
    run_ok(
        p11(&h)
            .args(login)
            .arg("--write-object")
            .arg(d.join("public.txt"))
            .args(["--type", "data", "--label", "pub-data"]),
    );
    run_ok(p11(&h).args(login).arg("--write-object").arg(d.join("private.txt")).args([
        "--type",
        "data",
        "--label",
        "priv-data",
        "--private",
    ]));
    // A certificate.
    let cert = self_signed_cert(d);
    run_ok(
        p11(&h)
            .args(login)
            .arg("--write-object")
            .arg(d.join("cert.der"))
            .args(["--type", "cert", "--id", "c0ffee", "--label", "my-cert"]),
    );

    let listed = run_ok(p11(&h).args(login).arg("--list-objects"));
    for want in ["pub-data", "priv-data", "my-cert", "CN=oxihsm pkcs11-tool test", "c0ffee"] {
        assert!(listed.contains(want), "{want} missing from:\n{listed}");
    }
    let public_view = run_ok(p11(&h).args(["--token-label", "tool-token", "--list-objects"]));
    assert!(public_view.contains("pub-data") && public_view.contains("my-cert"), "{public_view}");
    assert!(!public_view.contains("priv-data"), "private objects are invisible without login:\n{public_view}");

    // Read back what was written.
    run_ok(
        p11(&h)
            .args(["--token-label", "tool-token", "--read-object", "--type", "cert", "--id", "c0ffee", "-o"])
            .arg(d.join("back.der")),
    );
    assert_eq!(std::fs::read(d.join("back.der")).unwrap(), cert);
    run_ok(
        p11(&h)
            .args(login)
            .args(["--read-object", "--type", "data", "--label", "priv-data", "-o"])
            .arg(d.join("back.txt")),
    );
    assert_eq!(std::fs::read(d.join("back.txt")).unwrap(), b"private payload");

    // Delete, and the object is gone for every later process.
    run_ok(p11(&h).args(login).args(["--delete-object", "--type", "data", "--label", "pub-data"]));
    run_ok(p11(&h).args(login).args(["--delete-object", "--type", "cert", "--id", "c0ffee"]));
    let listed = run_ok(p11(&h).args(login).arg("--list-objects"));
    assert!(!listed.contains("pub-data") && !listed.contains("my-cert"), "{listed}");
    assert!(listed.contains("priv-data"), "{listed}");

    // A wrong PIN is refused.
    let out =
        p11(&h).args(["--token-label", "tool-token", "--login", "--pin", "9999", "--list-objects"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CKR_PIN_INCORRECT"));
}

#[test]
fn pkcs11_tool_symmetric_keys_agree_with_openssl() {
    let h = Harness::new();
    let d = h.dir.path();
    run_ok(p11(&h).args(["--init-token", "--slot", "0", "--label", "sym", "--so-pin", SO_PIN]));
    run_ok(p11(&h).args(["--token-label", "sym", "--init-pin", "--so-pin", SO_PIN, "--pin", USER_PIN]));
    let login = ["--token-label", "sym", "--login", "--pin", USER_PIN];
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(d.join("data.bin"), &data).unwrap();
    let iv = "000102030405060708090a0b0c0d0e0f";

    // AES key generated in the token: CBC_PAD round trip through pkcs11-tool.
    let generated =
        run_ok(p11(&h).args(login).args(["--keygen", "--key-type", "AES:32", "--label", "gen-aes", "--id", "01"]));
    assert!(generated.contains("gen-aes"), "{generated}");
    run_ok(
        p11(&h)
            .args(login)
            .args(["--encrypt", "-m", "AES-CBC-PAD", "--iv", iv, "--id", "01", "-i"])
            .arg(d.join("data.bin"))
            .arg("-o")
            .arg(d.join("ct.bin")),
    );
    run_ok(
        p11(&h)
            .args(login)
            .args(["--decrypt", "-m", "AES-CBC-PAD", "--iv", iv, "--id", "01", "-i"])
            .arg(d.join("ct.bin"))
            .arg("-o")
            .arg(d.join("back.bin")),
    );
    assert_eq!(std::fs::read(d.join("back.bin")).unwrap(), data);
    assert_eq!(std::fs::read(d.join("ct.bin")).unwrap().len(), 1008);

    // An imported AES key: what the token encrypts, openssl decrypts.
    let key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(29) ^ 0xa5).collect();
    std::fs::write(d.join("key.bin"), &key).unwrap();
    run_ok(p11(&h).args(login).arg("--write-object").arg(d.join("key.bin")).args([
        "--type",
        "secrkey",
        "--key-type",
        "AES:32",
        "--label",
        "imported",
        "--id",
        "02",
    ]));
    run_ok(
        p11(&h)
            .args(login)
            .args(["--encrypt", "-m", "AES-CBC-PAD", "--iv", iv, "--id", "02", "-i"])
            .arg(d.join("data.bin"))
            .arg("-o")
            .arg(d.join("ct2.bin")),
    );
    let plain = tool("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-K", &hex(&key), "-iv", iv, "-in"])
        .arg(d.join("ct2.bin"))
        .output()
        .unwrap();
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    assert_eq!(plain.stdout, data, "openssl decrypts what the token encrypted");

    // HMAC: a generic secret generated extractable, read out, and checked with openssl.
    run_ok(p11(&h).args(login).args([
        "--keygen",
        "--key-type",
        "GENERIC:32",
        "--extractable",
        "--label",
        "mac",
        "--id",
        "03",
    ]));
    run_ok(
        p11(&h)
            .args(login)
            .args(["--sign", "-m", "SHA256-HMAC", "--id", "03", "-i"])
            .arg(d.join("data.bin"))
            .arg("-o")
            .arg(d.join("mac.bin")),
    );
    let verified = run_ok(
        p11(&h)
            .args(login)
            .args(["--verify", "-m", "SHA256-HMAC", "--id", "03", "-i"])
            .arg(d.join("data.bin"))
            .arg("--signature-file")
            .arg(d.join("mac.bin")),
    );
    assert!(verified.contains("Signature is valid"), "{verified}");
    run_ok(
        p11(&h).args(login).args(["--read-object", "--type", "secrkey", "--id", "03", "-o"]).arg(d.join("mackey.bin")),
    );
    let mac_key = std::fs::read(d.join("mackey.bin")).unwrap();
    assert_eq!(mac_key.len(), 32);
    let want = run_ok(
        tool("openssl")
            .args(["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{}", hex(&mac_key))])
            .arg(d.join("data.bin")),
    );
    assert!(want.trim_end().ends_with(&hex(&std::fs::read(d.join("mac.bin")).unwrap())), "openssl: {want}");
    // A tampered MAC is refused.
    let mut bad = std::fs::read(d.join("mac.bin")).unwrap();
    bad[0] ^= 1;
    std::fs::write(d.join("bad.bin"), &bad).unwrap();
    let out = p11(&h)
        .args(login)
        .args(["--verify", "-m", "SHA256-HMAC", "--id", "03", "-i"])
        .arg(d.join("data.bin"))
        .arg("--signature-file")
        .arg(d.join("bad.bin"))
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("CKR_SIGNATURE_INVALID") || all.contains("Invalid signature"), "{all}");
    // The generated AES key never reveals its value.
    let out = p11(&h)
        .args(login)
        .args(["--read-object", "--type", "secrkey", "--id", "01", "-o"])
        .arg(d.join("nope.bin"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn pkcs11_tool_key_pairs_sign_and_verify_with_openssl() {
    let h = Harness::new();
    let d = h.dir.path();
    run_ok(p11(&h).args(["--init-token", "--slot", "0", "--label", "pki", "--so-pin", SO_PIN]));
    run_ok(p11(&h).args(["--token-label", "pki", "--init-pin", "--so-pin", SO_PIN, "--pin", USER_PIN]));
    let login = ["--token-label", "pki", "--login", "--pin", USER_PIN];
    std::fs::write(d.join("msg"), b"signed by pkcs11-tool through oxihsm").unwrap();
    let openssl = |args: &[&str]| {
        let out = tool("openssl").current_dir(d).args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (key_type, id, mechs) in [
        (
            "rsa:2048",
            "21",
            &[
                ("SHA256-RSA-PKCS", "-sha256", ""),
                ("SHA384-RSA-PKCS", "-sha384", ""),
                ("SHA256-RSA-PKCS-PSS", "-sha256", "pss"),
            ][..],
        ),
        ("EC:prime256v1", "22", &[("ECDSA-SHA256", "-sha256", "")][..]),
        ("EC:secp384r1", "23", &[("ECDSA-SHA384", "-sha384", "")][..]),
    ] {
        let generated =
            run_ok(p11(&h).args(login).args(["--keypairgen", "--key-type", key_type, "--id", id, "--label", key_type]));
        assert!(generated.contains("Private Key Object") || generated.contains("Key pair generated"), "{generated}");
        // The public key read back is a valid SubjectPublicKeyInfo for openssl. opensc 0.23's
        // --read-object cannot export P-384 keys (it fails the same way with SoftHSMv2), so
        // for P-384 the SPKI is built from the EC_POINT pkcs11-tool lists.
        if key_type == "EC:secp384r1" {
            let listed = run_ok(p11(&h).args(["--token-label", "pki", "--list-objects", "--type", "pubkey"]));
            let block = listed
                .split("Public Key Object")
                .find(|b| b.contains(&format!("ID:         {id}")))
                .expect("the P-384 key listed");
            let point_hex = block
                .lines()
                .find_map(|l| l.trim().strip_prefix("EC_POINT:"))
                .expect("EC_POINT listed")
                .trim()
                .to_string();
            let point = unhex(&point_hex);
            assert_eq!(&point[..2], &[0x04, 0x61], "DER-wrapped uncompressed point");
            let mut spki = vec![
                0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81,
                0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
            ];
            spki.extend_from_slice(&point[2..]);
            std::fs::write(d.join("pub.der"), spki).unwrap();
        } else {
            run_ok(
                p11(&h)
                    .args(["--token-label", "pki", "--read-object", "--type", "pubkey", "--id", id, "-o"])
                    .arg(d.join("pub.der")),
            );
        }
        openssl(&["pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem"]);
        for (m, hash, pad) in mechs {
            let mut sign = p11(&h);
            sign.args(login)
                .args(["--sign", "-m", m, "--id", id, "-i"])
                .arg(d.join("msg"))
                .arg("-o")
                .arg(d.join("sig"));
            if m.starts_with("ECDSA") {
                sign.args(["--signature-format", "openssl"]);
            }
            run_ok(&mut sign);
            let mut verify = p11(&h);
            verify
                .args(login)
                .args(["--verify", "-m", m, "--id", id, "-i"])
                .arg(d.join("msg"))
                .arg("--signature-file")
                .arg(d.join("sig"));
            if m.starts_with("ECDSA") {
                verify.args(["--signature-format", "openssl"]);
            }
            let v = run_ok(&mut verify);
            assert!(v.contains("Signature is valid"), "{m}: {v}");
            let mut args = vec!["dgst", *hash];
            if *pad == "pss" {
                args.extend_from_slice(&["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]);
            }
            args.extend_from_slice(&["-verify", "pub.pem", "-signature", "sig", "msg"]);
            assert!(openssl(&args).contains("Verified OK"), "{m} verified by openssl");
        }
    }
    let listed = run_ok(p11(&h).args(login).arg("--list-objects"));
    assert!(listed.contains("Private Key Object; RSA") && listed.contains("Private Key Object; EC"), "{listed}");
    // The mechanism list shows what the token does.
    let mechs = run_ok(p11(&h).args(["--token-label", "pki", "--list-mechanisms"]));
    for m in ["RSA-PKCS-KEY-PAIR-GEN", "ECDSA", "SHA256-RSA-PKCS-PSS", "AES-GCM", "ECDH1-DERIVE"] {
        assert!(mechs.contains(m), "{m} missing from:\n{mechs}");
    }
}

/// Another PKCS#11 module's C_* functions in the process's global scope (here SoftHSMv2
/// preloaded; a program linked against a module, or one that dlopens a module with
/// RTLD_GLOBAL, puts them there too) do not replace oxihsm's own: the library binds its
/// function tables to its own functions (`-Bsymbolic-functions`). Before, the tables held
/// relocations against the exported names, resolved to SoftHSMv2's, and the first call
/// failed with CKR_CRYPTOKI_NOT_INITIALIZED.
#[test]
fn another_modules_functions_in_the_global_scope_do_not_replace_ours() {
    let softhsm = Path::new("/usr/lib/softhsm/libsofthsm2.so");
    assert!(softhsm.is_file(), "SoftHSMv2 is not installed: .ci/run installs it (apt-get install softhsm2)");
    let h = Harness::new();
    let conf = h.dir.path().join("softhsm2.conf");
    std::fs::create_dir_all(h.dir.path().join("softhsm-tokens")).unwrap();
    std::fs::write(&conf, format!("directories.tokendir = {}\n", h.dir.path().join("softhsm-tokens").display()))
        .unwrap();
    let preloaded = || {
        let mut c = p11(&h);
        c.env("LD_PRELOAD", softhsm).env("SOFTHSM2_CONF", &conf);
        c
    };
    let info = run_ok(preloaded().arg("--show-info"));
    assert!(info.contains("oxihsm"), "{info}");
    run_ok(preloaded().args(["--init-token", "--slot", "0", "--label", "beside-softhsm", "--so-pin", SO_PIN]));
    let slots = run_ok(preloaded().arg("--list-slots"));
    assert!(slots.contains("beside-softhsm"), "{slots}");
    // No relocation of the library names one of its own exported functions (each would be
    // resolved by name, in the global scope first).
    let relocs = run_ok(tool("readelf").arg("-rW").arg(&h.lib));
    let named: Vec<&str> =
        relocs.lines().filter(|l| l.split_whitespace().nth(4).is_some_and(|s| s.starts_with("C_"))).collect();
    assert!(named.is_empty(), "relocations against exported functions: {named:?}");
    // Nor does loading it make the process's stacks executable (an object without its
    // .note.GNU-stack would: glibc then remaps every thread stack RWX, or refuses the load).
    let headers = run_ok(tool("readelf").arg("-lW").arg(&h.lib));
    let stack = headers.lines().find(|l| l.trim_start().starts_with("GNU_STACK")).expect("a GNU_STACK header");
    assert!(stack.contains(" RW ") && !stack.contains("RWE"), "{stack}");
}
