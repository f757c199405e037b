//! softhsm-compat (issue 6): oxihsm's `softhsm2-util` against SoftHSMv2's own (apt
//! `softhsm2`) on the same commands, and a shell script written for SoftHSMv2 run unchanged
//! with only PATH and the module path pointing at oxihsm.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn util() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_softhsm2-util"))
}

/// A softhsm2.conf for a fresh token directory; oxihsm and SoftHSMv2 both read it.
fn softhsm_conf(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )
    .unwrap();
    conf
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out: Output = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `args` with our tool on our module copy `lib`, under the softhsm2.conf `conf`.
fn ours(conf: &Path, lib: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(util()).args(args).arg("--module").arg(lib).env("SOFTHSM2_CONF", conf).env_remove("OXIHSM_CONF"))
}

/// Runs `args` with our tool (`lib` = our module copy) and with SoftHSMv2's.
fn both(ours_conf: &Path, theirs: &Path, lib: &Path, args: &[&str]) -> ((i32, String, String), (i32, String, String)) {
    let a = ours(ours_conf, lib, args);
    let b = run(tool("softhsm2-util").args(args).env("SOFTHSM2_CONF", theirs).env_remove("OXIHSM_CONF"));
    (a, b)
}

/// pkcs11-tool on `module`'s token `label`, logged in with `pin`, under the softhsm2.conf
/// `conf`.
fn pkcs11_tool(module: &Path, conf: &Path, label: &str, pin: &str) -> Command {
    let mut c = tool("pkcs11-tool");
    c.arg("--module")
        .arg(module)
        .args(["--token-label", label, "--login", "--pin", pin])
        .env("SOFTHSM2_CONF", conf)
        .env_remove("OXIHSM_CONF");
    c
}

/// SoftHSMv2 numbers its slots by a hash of the serial: compare messages without the numbers.
fn shape(s: &str) -> String {
    s.split_whitespace()
        .map(|w| if w.chars().all(|c| c.is_ascii_digit()) { "N" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn softhsm2_util_behaves_like_softhsmv2s() {
    let h = Harness::new();
    let ours = softhsm_conf(&h.dir.path().join("ours"));
    let theirs = softhsm_conf(&h.dir.path().join("theirs"));
    let lib = &h.lib;
    let key = h.dir.path().join("ec.pem");
    run_ok(
        tool("openssl").args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]).arg(&key),
    );
    let rsa = h.dir.path().join("rsa.pem");
    run_ok(
        tool("openssl").args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(&rsa),
    );
    let enc = h.dir.path().join("rsa-enc.pem");
    run_ok(
        tool("openssl").args(["pkcs8", "-topk8", "-passout", "pass:filepin", "-in"]).arg(&rsa).arg("-out").arg(&enc),
    );
    let aes = h.dir.path().join("aes.bin");
    std::fs::write(&aes, [7u8; 32]).unwrap();
    let (key, rsa, enc, aes) =
        (key.to_str().unwrap(), rsa.to_str().unwrap(), enc.to_str().unwrap(), aes.to_str().unwrap());

    // The same commands, the same exit codes and messages (slot numbers aside).
    let cases: Vec<Vec<&str>> = vec![
        vec!["--init-token", "--free", "--label", "alpha", "--so-pin", "12345678", "--pin", "1234"],
        vec!["--init-token", "--free", "--label", "beta", "--so-pin", "12345678", "--pin", "1234"],
        vec!["--init-token", "--slot", "99", "--label", "x", "--so-pin", "12345678", "--pin", "1234"],
        vec!["--import", key, "--token", "alpha", "--label", "ec", "--id", "01", "--pin", "1234"],
        vec!["--import", key, "--token", "alpha", "--label", "ec", "--id", "01", "--pin", "1234"],
        vec!["--import", key, "--token", "alpha", "--label", "ec", "--id", "01", "--pin", "1234", "--force"],
        vec!["--import", key, "--token", "alpha", "--label", "ec", "--pin", "1234"],
        vec!["--import", key, "--token", "alpha", "--label", "ec", "--id", "02", "--pin", "0000"],
        vec!["--import", key, "--token", "nope", "--label", "ec", "--id", "02", "--pin", "1234"],
        vec!["--import", rsa, "--token", "beta", "--label", "rsa", "--id", "0a", "--pin", "1234", "--no-public-key"],
        vec![
            "--import",
            enc,
            "--token",
            "beta",
            "--label",
            "rsa2",
            "--id",
            "0b",
            "--pin",
            "1234",
            "--file-pin",
            "filepin",
        ],
        vec!["--import", aes, "--aes", "--token", "beta", "--label", "aes", "--id", "0c", "--pin", "1234"],
        vec!["--import", key, "--token", "beta", "--label", "ec", "--id", "0e", "--pin", "1234"],
        vec!["--import", "/nonexistent.pem", "--token", "beta", "--label", "x", "--id", "0d", "--pin", "1234"],
        vec!["--delete-token", "--token", "nope"],
        vec!["--delete-token", "--token", "alpha"],
        vec!["--bogus-flag"],
        vec![],
    ];
    for args in &cases {
        let ((ca, oa, ea), (cb, ob, eb)) = both(&ours, &theirs, lib, args);
        assert_eq!(ca, cb, "exit code of {args:?}\nours: {oa}{ea}\ntheirs: {ob}{eb}");
        // SoftHSMv2 names deleted tokens by directory, oxihsm by serial; oxihsm's usage text
        // lists its extra options; the rest is the same.
        if !matches!(args.first(), Some(&"--delete-token") | Some(&"--bogus-flag") | None) {
            assert_eq!(shape(&oa), shape(&ob), "stdout of {args:?}");
        }
        let first_err = |e: &str| e.lines().next().map(shape).unwrap_or_default();
        if !args.is_empty() && args[0] != "--bogus-flag" {
            assert_eq!(first_err(&ea), first_err(&eb), "stderr of {args:?}");
        }
    }
    // --show-slots: the same layout.
    let ((_, oa, _), (_, ob, _)) = both(&ours, &theirs, lib, &["--show-slots"]);
    let fields = |s: &str| -> Vec<String> {
        s.lines().map(|l| l.split(':').next().unwrap().trim().to_string()).filter(|l| !l.starts_with("Slot ")).collect()
    };
    assert_eq!(fields(&oa), fields(&ob), "ours:\n{oa}\ntheirs:\n{ob}");
    assert!(oa.contains("Label:            beta"), "{oa}");
    // Help and version.
    let (c, out, _) = run(Command::new(util()).arg("--help"));
    assert_eq!(c, 0);
    assert!(out.contains("--init-token") && out.contains("--import <path>"));
    let (c, out, _) = run(Command::new(util()).arg("-v"));
    assert_eq!((c, out.trim().is_empty()), (0, false));
    // What was imported is there and usable, seen by pkcs11-tool through the same conf.
    let p11 = |extra: &[&str]| run_ok(pkcs11_tool(lib, &ours, "beta", "1234").args(extra));
    let listed = p11(&["--list-objects"]);
    let softhsm = Path::new("/usr/lib/softhsm/libsofthsm2.so");
    let theirs_listed = run_ok(pkcs11_tool(softhsm, &theirs, "beta", "1234").arg("--list-objects"));
    // The same objects with the same usage and access flags as SoftHSMv2's tool makes
    // (pkcs11-tool's listing; SoftHSMv2 2.6 has no CKA_UNIQUE_ID to list).
    let objects = |listing: &str| {
        let mut blocks: Vec<String> = Vec::new();
        for line in listing.lines().filter(|l| !l.trim_start().starts_with("Unique ID:")) {
            match blocks.last_mut() {
                Some(b) if line.starts_with(' ') => b.push_str(&format!("\n{line}")),
                _ => blocks.push(line.to_string()),
            }
        }
        blocks.sort();
        blocks
    };
    assert_eq!(objects(&listed), objects(&theirs_listed));
    assert_eq!(listed.matches("Private Key Object").count(), 3, "{listed}");
    assert_eq!(listed.matches("Public Key Object").count(), 2, "rsa imported with --no-public-key: {listed}");
    assert_eq!(listed.matches("Secret Key Object").count(), 1, "{listed}");
    let msg = h.dir.path().join("msg");
    std::fs::write(&msg, b"from an encrypted PKCS#8 file").unwrap();
    let sig = h.dir.path().join("sig");
    p11(&[
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS",
        "--id",
        "0b",
        "--input-file",
        msg.to_str().unwrap(),
        "--output-file",
        sig.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::metadata(&sig).unwrap().len(), 256);
}

#[test]
fn a_softhsm_script_runs_unchanged() {
    let h = Harness::new();
    let d = h.dir.path();
    let conf = softhsm_conf(&d.join("store"));
    // A script as teams write them for SoftHSMv2: the module path comes from a variable
    // (MODULE), softhsm2-util from PATH.
    let script = d.join("setup-hsm.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
set -eu
MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
softhsm2-util --init-token --free --label "ci-token" --so-pin 87654321 --pin 1234
softhsm2-util --show-slots | grep -q "ci-token"
pkcs11-tool --module "$MODULE" --token-label ci-token --login --pin 1234 \
    --keypairgen --key-type EC:prime256v1 --label signer --id 01
echo "hello" > "$WORK/msg"
pkcs11-tool --module "$MODULE" --token-label ci-token --login --pin 1234 \
    --sign --mechanism ECDSA-SHA256 --id 01 --input-file "$WORK/msg" --output-file "$WORK/sig"
pkcs11-tool --module "$MODULE" --token-label ci-token --login --pin 1234 --list-objects | grep -q signer
echo OK
"#,
    )
    .unwrap();
    // Only PATH (our softhsm2-util first) and the module path change.
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(util(), bin.join("softhsm2-util")).unwrap();
    std::fs::copy(&h.lib, bin.join("liboxihsm.so")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new("sh")
        .arg(&script)
        .env("PATH", path)
        .env("MODULE", bin.join("liboxihsm.so"))
        .env("SOFTHSM2_CONF", &conf)
        .env_remove("OXIHSM_CONF")
        .env("WORK", d)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("OK"), "{text}");
    assert!(text.contains("The token has been initialized and is reassigned to slot"), "{text}");
    assert_eq!(std::fs::metadata(d.join("sig")).unwrap().len(), 64, "an ECDSA P-256 signature");
    // The token lives in oxihsm's store under the softhsm2.conf token directory.
    assert!(d.join("store/tokens/oxihsm.db").exists());
}

/// The options a test of SoftHSMv2's own behaviour cannot cover: help and version (no
/// complaint about an unknown option), oxihsm's `--show-config`, `--import-type` (the long
/// form of `--aes`, and `cert`), and tokens named by `--serial`.
#[test]
fn our_own_options_and_tokens_by_serial() {
    let h = Harness::new();
    let conf = softhsm_conf(&h.dir.path().join("store"));
    let ours = |args: &[&str]| ours(&conf, &h.lib, args);
    for help in ["-h", "--help"] {
        let (c, out, err) = ours(&[help]);
        assert_eq!((c, err.as_str()), (0, ""), "{help}");
        assert!(out.contains("--init-token") && out.contains("--show-config"), "{out}");
    }
    for version in ["-v", "--version"] {
        assert_eq!(ours(&[version]), (0, format!("{}\n", env!("CARGO_PKG_VERSION")), String::new()));
    }
    let (c, out, _) = ours(&["--show-config"]);
    assert_eq!(c, 0);
    assert!(out.contains(&format!("Configuration:   {}", conf.display())), "{out}");
    assert!(out.contains(&format!("Token directory: {}", conf.parent().unwrap().join("tokens").display())), "{out}");

    let init = ours(&["--init-token", "--free", "--label", "by-serial", "--so-pin", "12345678", "--pin", "1234"]);
    assert_eq!(init.0, 0, "{init:?}");
    let slots = ours(&["--show-slots"]).1;
    let serial = slots
        .lines()
        .find_map(|l| l.trim().strip_prefix("Serial number:"))
        .map(|s| s.trim().to_string())
        .expect("a serial number");
    let aes = h.dir.path().join("aes.bin");
    std::fs::write(&aes, [9u8; 16]).unwrap();
    let cert = h.dir.path().join("cert.pem");
    run_ok(
        tool("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=t"])
            .args(["-days", "1", "-keyout"])
            .arg(h.dir.path().join("k.pem"))
            .arg("-out")
            .arg(&cert),
    );
    // A PKCS #8 key in DER (oxihsm's tool reads DER as well as PEM).
    let der = h.dir.path().join("k.der");
    run_ok(
        tool("openssl")
            .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
            .arg(h.dir.path().join("k.pem"))
            .arg("-out")
            .arg(&der),
    );
    let (aes, cert, der) = (aes.to_str().unwrap(), cert.to_str().unwrap(), der.to_str().unwrap());
    let imported = ours(&["--import", der, "--serial", &serial, "--label", "d", "--id", "03", "--pin", "1234"]);
    assert_eq!(imported.0, 0, "{imported:?}");
    let imported = ours(&[
        "--import",
        aes,
        "--import-type",
        "aes",
        "--serial",
        &serial,
        "--label",
        "k",
        "--id",
        "01",
        "--pin",
        "1234",
    ]);
    assert_eq!(imported.0, 0, "{imported:?}");
    assert!(imported.1.contains("matching serial"), "{imported:?}");
    let imported = ours(&[
        "--import",
        cert,
        "--import-type",
        "cert",
        "--serial",
        &serial,
        "--label",
        "c",
        "--id",
        "02",
        "--pin",
        "1234",
    ]);
    assert_eq!(imported.0, 0, "{imported:?}");
    let listed = run_ok(pkcs11_tool(&h.lib, &conf, "by-serial", "1234").arg("--list-objects"));
    assert!(listed.contains("Secret Key Object; AES length 16") && listed.contains("Certificate Object"), "{listed}");
    assert_eq!(listed.matches("Private Key Object; EC").count(), 1, "{listed}");
    let wrong = ours(&["--import", aes, "--import-type", "rsa", "--serial", &serial, "--label", "x", "--pin", "1234"]);
    assert_eq!(wrong.0, 1, "{wrong:?}");
    // A label of 32 characters at most (SoftHSMv2's message for one longer).
    let long = ours(&["--init-token", "--free", "--label", &"x".repeat(33), "--so-pin", "12345678", "--pin", "1234"]);
    assert_eq!(long.0, 1);
    assert!(long.2.contains("must not have a length greater than 32"), "{long:?}");
    let longest =
        ours(&["--init-token", "--free", "--label", &"x".repeat(32), "--so-pin", "12345678", "--pin", "1234"]);
    assert_eq!(longest.0, 0, "{longest:?}");
    // Deleted by serial: gone from the slot list.
    let deleted = ours(&["--delete-token", "--serial", &serial]);
    assert_eq!(deleted.0, 0, "{deleted:?}");
    assert!(!ours(&["--show-slots"]).1.contains("by-serial"));
    assert_eq!(ours(&["--delete-token", "--serial", &serial]).0, 1, "already deleted");
}

/// Without `--pin`, the user PIN is asked for on the terminal, as SoftHSMv2 asks: one too
/// short is asked again, and so is one not confirmed; the third try sets it. (`script` gives
/// the tool a terminal; each answer is typed once its prompt is shown.)
#[test]
fn the_pin_is_asked_for_on_the_terminal() {
    use std::io::{Read, Write};
    let h = Harness::new();
    let conf = softhsm_conf(&h.dir.path().join("store"));
    let label = "prompted";
    let cmd = format!(
        "{} --init-token --free --label {label} --so-pin 12345678 --module {}",
        util().display(),
        h.lib.display()
    );
    let mut child = tool("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("SOFTHSM2_CONF", &conf)
        .env_remove("OXIHSM_CONF")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut from, mut to) = (child.stdout.take().unwrap(), Some(child.stdin.take().unwrap()));
    let mut answers = ["12", "1234", "1233", "4321", "4321"].into_iter();
    let (mut seen, mut answered, mut buf) = (String::new(), 0, [0u8; 256]);
    loop {
        let n = from.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        while answered < seen.matches("PIN: ").count() {
            answered += 1;
            match answers.next() {
                Some(a) => to.as_mut().unwrap().write_all(format!("{a}\n").as_bytes()).unwrap(),
                // More prompts than answers: end of input, which fails the tool.
                None => to = None,
            }
        }
    }
    assert!(child.wait().unwrap().success(), "{seen}");
    assert_eq!(seen.matches("Please enter user PIN: ").count(), 3, "{seen}");
    assert_eq!(seen.matches("Please reenter user PIN: ").count(), 2, "{seen}");
    assert_eq!(seen.matches("ERROR: The entered PINs are not equal.").count(), 1, "{seen}");
    assert!(seen.contains("The token has been initialized"), "{seen}");
    // The PIN set is the last one typed.
    let login = |pin: &str| run(pkcs11_tool(&h.lib, &conf, label, pin).arg("--list-objects")).0;
    assert_ne!(login("1234"), 0);
    assert_eq!(login("4321"), 0);
}
