//! A token for the client tests (tests/clients.rs, tests/gnupg.rs): RSA and EC keys made by
//! pkcs11-tool, and certificates for them made by OpenSSL through the libp11 engine.

use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TOKEN: &str = "clients";

/// A token with an RSA-2048 key pair "rsa" (id 01) and a P-256 key pair "ec" (id 02).
pub fn token(h: &Harness) {
    let p11 = || {
        let mut c = tool("pkcs11-tool");
        c.arg("--module").arg(&h.lib).envs(h.env());
        c
    };
    run_ok(p11().args(["--init-token", "--slot", "0", "--label", TOKEN, "--so-pin", SO_PIN]));
    run_ok(p11().args(["--token-label", TOKEN, "--init-pin", "--so-pin", SO_PIN, "--pin", USER_PIN]));
    let login = ["--token-label", TOKEN, "--login", "--pin", USER_PIN];
    run_ok(p11().args(login).args(["--keypairgen", "--key-type", "rsa:2048", "--id", "01", "--label", "rsa"]));
    run_ok(p11().args(login).args(["--keypairgen", "--key-type", "EC:prime256v1", "--id", "02", "--label", "ec"]));
}

pub fn key_uri(label: &str) -> String {
    format!("pkcs11:token={TOKEN};object={label};type=private;pin-value={USER_PIN}")
}

/// An OpenSSL configuration loading the libp11 engine with liboxihsm.so.
pub fn engine_conf(h: &Harness) -> PathBuf {
    let dirs = run_ok(tool("openssl").args(["version", "-e"]));
    let dir = dirs.split('"').nth(1).expect("ENGINESDIR").to_string();
    let engine = Path::new(&dir).join("pkcs11.so");
    assert!(engine.exists(), "{} missing: .ci/run installs libengine-pkcs11-openssl", engine.display());
    let conf = h.dir.path().join("engine.cnf");
    std::fs::write(
        &conf,
        format!(
            "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n[engine_section]\npkcs11 = pkcs11_section\n\
             [pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {}\nMODULE_PATH = {}\ninit = 1\n[req]\ndistinguished_name = dn\n[dn]\n",
            engine.display(),
            h.lib.display()
        ),
    )
    .unwrap();
    conf
}

pub fn openssl(h: &Harness, conf: &Path) -> Command {
    let mut c = tool("openssl");
    c.current_dir(h.dir.path()).envs(h.env()).env("OPENSSL_CONF", conf);
    c
}

/// A self-signed certificate for localhost made with the token key `label` via the engine.
pub fn engine_cert(h: &Harness, conf: &Path, label: &str) -> PathBuf {
    let out = h.dir.path().join(format!("{label}.pem"));
    run_ok(
        openssl(h, conf)
            .args(["req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine", "-key", &key_uri(label)])
            .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "2", "-out"])
            .arg(&out),
    );
    out
}
