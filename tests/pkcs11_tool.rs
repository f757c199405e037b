//! OpenSC's pkcs11-tool driving liboxihsm.so as a real client: --show-info, --list-slots,
//! --init-token, --init-pin, --login --list-objects, --write-object (data and certificate),
//! --read-object and --delete-object.

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
