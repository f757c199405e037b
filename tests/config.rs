//! How the module finds its store (DESIGN §7), checked in real child processes:
//! OXIHSM_CONF, else SOFTHSM2_CONF (softhsm2.conf syntax), else $XDG_DATA_HOME/oxihsm.

mod common;
use common::*;
use std::process::Command;

fn p11(lib: &std::path::Path) -> Command {
    let mut c = tool("pkcs11-tool");
    c.arg("--module").arg(lib).env_remove("OXIHSM_CONF").env_remove("SOFTHSM2_CONF");
    c
}

#[test]
fn softhsm2_conf_is_honoured_when_oxihsm_conf_is_absent() {
    let h = Harness::new();
    let tokendir = h.dir.path().join("softhsm-tokens");
    std::fs::create_dir(&tokendir).unwrap();
    let conf = h.dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("# SoftHSMv2 configuration\ndirectories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokendir.display()),
    )
    .unwrap();
    run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).args([
        "--init-token",
        "--slot",
        "0",
        "--label",
        "via-softhsm-conf",
        "--so-pin",
        SO_PIN,
    ]));
    assert!(tokendir.join("oxihsm.db").exists(), "the store is in directories.tokendir");
    let slots = run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).arg("--list-slots"));
    assert!(slots.contains("via-softhsm-conf"), "{slots}");

    // OXIHSM_CONF wins over SOFTHSM2_CONF.
    let slots = run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).env("OXIHSM_CONF", &h.conf).arg("--list-slots"));
    assert!(!slots.contains("via-softhsm-conf"), "{slots}");

    // An invalid file fails C_Initialize with a message naming the file and line.
    std::fs::write(&conf, format!("directories.tokendir = {}\nlog.level = LOUD\n", tokendir.display())).unwrap();
    let out = p11(&h.lib).env("SOFTHSM2_CONF", &conf).arg("--list-slots").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2", conf.display())), "{err}");
}

#[test]
fn xdg_data_home_is_the_default() {
    let h = Harness::new();
    let xdg = h.dir.path().join("xdg");
    run_ok(p11(&h.lib).env("XDG_DATA_HOME", &xdg).args([
        "--init-token",
        "--slot",
        "0",
        "--label",
        "xdg-token",
        "--so-pin",
        SO_PIN,
    ]));
    assert!(xdg.join("oxihsm/oxihsm.db").exists());
    let slots = run_ok(p11(&h.lib).env("XDG_DATA_HOME", &xdg).arg("--list-slots"));
    assert!(slots.contains("xdg-token"), "{slots}");
}
