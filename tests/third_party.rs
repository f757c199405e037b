//! Third-party PKCS#11 test suites, unchanged, against liboxihsm.so: the Go suites of
//! ThalesIgnite/crypto11 (Go's crypto.Signer, crypto.Decrypter, cipher.AEAD ... over PKCS#11)
//! and miekg/pkcs11 (the Go binding crypto11 stands on), as Debian ships their sources
//! (golang-github-thalesignite-crypto11-dev, golang-github-miekg-pkcs11-dev). Every test of a
//! suite runs, except those listed in `EXCLUDED` with the reason: they ask for another
//! module's answers, not the specification's.

mod common;
use common::*;
use std::path::Path;

/// Tests left out, with why.
const EXCLUDED: &[(&str, &str)] = &[
    // crypto11 makes HMAC keys with nCipher's vendor key-generation mechanism first and gives
    // up when the module answers CKR_MECHANISM_INVALID, the specification's answer to a
    // mechanism it does not know (it goes on to CKM_GENERIC_SECRET_KEY_GEN only after
    // CKR_TEMPLATE_INCONSISTENT or CKR_ATTRIBUTE_VALUE_INVALID, nShield's and CloudHSM's).
    ("TestHmac", "vendor key-generation mechanism"),
    // miekg/pkcs11's asserts that the module's manufacturer is "SoftHSM".
    ("TestGetInfo", "manufacturer must be SoftHSM"),
];

/// A Go package copied from `/usr/share/gocode/src/<import_path>` into a GOPATH of the test's
/// own (the suites write their configuration beside their sources).
struct GoPackage {
    gopath: std::path::PathBuf,
    dir: std::path::PathBuf,
}

fn go_package(h: &Harness, import_path: &str, apt: &str) -> GoPackage {
    let src = Path::new("/usr/share/gocode/src").join(import_path);
    assert!(src.is_dir(), "{} missing: .ci/run installs {apt}", src.display());
    let gopath = h.dir.path().join("gopath");
    let dir = gopath.join("src").join(import_path);
    std::fs::create_dir_all(&dir).unwrap();
    run_ok(tool("cp").arg("-r").arg(format!("{}/.", src.display())).arg(&dir));
    GoPackage { gopath, dir }
}

/// Runs the package's tests but the excluded ones: every test `go test -list` names.
fn go_test(h: &Harness, pkg: &GoPackage, env: &[(&str, &str)]) -> String {
    // The package's dependencies come from Debian's GOPATH.
    let gopath = format!("{}:/usr/share/gocode", pkg.gopath.display());
    let go = |args: &[&str]| {
        let mut c = tool("go");
        c.args(args).current_dir(&pkg.dir).env("GOPATH", &gopath).env("GO111MODULE", "off").env("GOFLAGS", "");
        c.envs(h.env()).envs(env.iter().copied());
        c
    };
    let listed = run_ok(&mut go(&["test", "-list", "."]));
    let tests: Vec<&str> =
        listed.lines().filter(|l| l.starts_with("Test") && !EXCLUDED.iter().any(|(t, _)| t == l)).collect();
    assert!(tests.len() > 10, "{listed}");
    let pattern = format!("^({})$", tests.join("|"));
    let out = run_ok(&mut go(&["test", "-count=1", "-v", "-run", &pattern, "."]));
    // Every listed test ran and passed (none skipped itself for a missing feature).
    for t in &tests {
        assert!(out.contains(&format!("--- PASS: {t} ")), "{t} did not pass:\n{out}");
    }
    out
}

#[test]
fn crypto11_suite() {
    let h = Harness::new();
    init_token(&h.ctx(), "crypto11");
    let pkg = go_package(&h, "github.com/ThalesIgnite/crypto11", "golang-github-thalesignite-crypto11-dev");
    std::fs::write(
        pkg.dir.join("config"),
        format!(r#"{{"Path": "{}", "TokenLabel": "crypto11", "Pin": "{USER_PIN}"}}"#, h.lib.display()),
    )
    .unwrap();
    // CRYPTO11_SKIP would skip certificate, OAEP-label or DSA tests: none is skipped.
    go_test(&h, &pkg, &[("CRYPTO11_SKIP", "")]);
}

#[test]
fn miekg_pkcs11_suite() {
    let h = Harness::new();
    init_token(&h.ctx(), "miekg");
    let pkg = go_package(&h, "github.com/miekg/pkcs11", "golang-github-miekg-pkcs11-dev");
    let lib = h.lib.to_str().unwrap();
    go_test(&h, &pkg, &[("SOFTHSM_LIB", lib), ("SOFTHSM_TOKENLABEL", "miekg"), ("SOFTHSM_PIN", USER_PIN)]);
}
