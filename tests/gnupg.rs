//! GnuPG with token keys through gnupg-pkcs11-scd (Debian's `gnupg-pkcs11-scd`), the
//! scdaemon that serves PKCS#11 keys to gpg-agent: OpenPGP keys made from two token RSA keys
//! (a primary key that signs, a subkey that decrypts), a signature verified by gpg and a
//! message encrypted to the subkey decrypted by the token.

mod common;
use common::clients::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Stops the gpg-agent (and its scdaemon) of a GnuPG home when dropped.
struct Agent(PathBuf);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", &self.0).args(["--kill", "all"]).status();
    }
}

/// A pinentry that answers every PIN request with the user PIN (the Assuan protocol).
fn pinentry(dir: &Path) -> PathBuf {
    let path = dir.join("pinentry.sh");
    let script = format!(
        "#!/bin/sh\necho 'OK ready'\nwhile read -r line; do\n  case \"$line\" in\n    GETPIN*) echo 'D {USER_PIN}'; echo OK;;\n    BYE*) echo OK; exit 0;;\n    *) echo OK;;\n  esac\ndone\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn gnupg_signs_and_decrypts_with_token_keys() {
    let h = Harness::new();
    token(&h);
    let d = h.dir.path();
    // A second RSA key for decryption, and a certificate for each RSA key on the token under
    // the key's id: gnupg-pkcs11-scd offers the keys it finds certificates for.
    let pkcs11_tool = || {
        let mut c = tool("pkcs11-tool");
        c.arg("--module").arg(&h.lib).envs(h.env()).args(["--token-label", TOKEN, "--login", "--pin", USER_PIN]);
        c
    };
    run_ok(pkcs11_tool().args(["--keypairgen", "--key-type", "rsa:2048", "--id", "03", "--label", "rsa-enc"]));
    let conf = engine_conf(&h);
    for (label, id) in [("rsa", "01"), ("rsa-enc", "03")] {
        let pem = engine_cert(&h, &conf, label);
        let der = d.join(format!("{label}.der"));
        run_ok(tool("openssl").args(["x509", "-outform", "DER", "-in"]).arg(&pem).arg("-out").arg(&der));
        let der = der.to_str().unwrap();
        run_ok(pkcs11_tool().args(["--write-object", der, "--type", "cert", "--id", id, "--label", label]));
    }

    let home = d.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let scd = Path::new("/usr/bin/gnupg-pkcs11-scd");
    assert!(scd.exists(), "gnupg-pkcs11-scd is not installed: .ci/run installs it (apt-get install gnupg-pkcs11-scd)");
    std::fs::write(
        home.join("gpg-agent.conf"),
        format!("scdaemon-program {}\npinentry-program {}\n", scd.display(), pinentry(d).display()),
    )
    .unwrap();
    std::fs::write(
        home.join("gnupg-pkcs11-scd.conf"),
        format!("providers oxihsm\nprovider-oxihsm-library {}\n", h.lib.display()),
    )
    .unwrap();
    let _agent = Agent(home.clone());
    let gnupg = |name: &str| {
        let mut c = tool(name);
        c.current_dir(d).envs(h.env()).env("GNUPGHOME", &home).stdin(Stdio::null());
        c
    };

    // The token's keys as the agent learns them: a keygrip per key id.
    let learned = run_ok(gnupg("gpg-connect-agent").args(["SCD LEARN", "/bye"]));
    let grip = |id: &str| {
        let line = learned
            .lines()
            .find(|l| l.starts_with("S KEYPAIRINFO") && l.ends_with(&format!("/{id}")))
            .unwrap_or_else(|| panic!("no key {id} learned: {learned}"));
        line.split_whitespace().nth(2).unwrap().to_string()
    };
    let (sign_grip, enc_grip) = (grip("01"), grip("03"));
    assert!(!learned.contains("/02"), "the EC key has no certificate: {learned}");
    run_ok(gnupg("gpg-connect-agent").args(["learn --force", "/bye"]));

    // An OpenPGP key on the token's signing key: its self-signature is the token's.
    std::fs::write(
        d.join("params"),
        format!(
            "%no-protection\nKey-Type: RSA\nKey-Grip: {sign_grip}\nKey-Usage: sign\nName-Real: Token Key\n\
             Name-Email: token@example.org\nExpire-Date: 0\n%commit\n"
        ),
    )
    .unwrap();
    run_ok(gnupg("gpg").args(["--batch", "--gen-key", "params"]));
    // The decryption key as a subkey ("existing key" in gpg's expert menu).
    let mut add = gnupg("gpg");
    add.args(["--expert", "--batch", "--command-fd", "0", "--edit-key", "token@example.org"]).stdin(Stdio::piped());
    let mut child = add.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("addkey\n13\n{enc_grip}\nQ\n0\nsave\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "addkey: {}", String::from_utf8_lossy(&out.stderr));
    let keys = run_ok(gnupg("gpg").args(["--list-secret-keys", "--with-keygrip"]));
    assert!(keys.contains(&sign_grip) && keys.contains(&enc_grip) && keys.contains("Card serial no."), "{keys}");

    // A detached signature made by the token, checked by gpg.
    std::fs::write(d.join("msg"), "signed by a key that never left the token\n").unwrap();
    run_ok(gnupg("gpg").args(["--batch", "--yes", "-u", "token@example.org", "--detach-sign", "-o", "msg.sig", "msg"]));
    let verified = gnupg("gpg").args(["--batch", "--status-fd", "1", "--verify", "msg.sig", "msg"]).output().unwrap();
    let status = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && status.contains("[GNUPG:] GOODSIG"), "{status}");
    std::fs::write(d.join("msg"), "a changed message\n").unwrap();
    let bad = gnupg("gpg").args(["--batch", "--status-fd", "1", "--verify", "msg.sig", "msg"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stdout).contains("[GNUPG:] BADSIG"));

    // Encrypted to the subkey by gpg, decrypted by the token.
    let secret = "for the token's eyes only";
    std::fs::write(d.join("plain"), secret).unwrap();
    run_ok(gnupg("gpg").args([
        "--batch",
        "--yes",
        "--trust-model",
        "always",
        "-r",
        "token@example.org",
        "-e",
        "-o",
        "enc.gpg",
        "plain",
    ]));
    assert_eq!(run_ok(gnupg("gpg").args(["--batch", "-d", "enc.gpg"])), secret);
}
