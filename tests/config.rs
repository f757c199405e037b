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
    // An empty XDG_DATA_HOME counts as unset (the XDG base directory rule): $HOME's
    // .local/share/oxihsm.
    let home = h.dir.path().join("home");
    run_ok(p11(&h.lib).env("XDG_DATA_HOME", "").env("HOME", &home).args([
        "--init-token",
        "--slot",
        "0",
        "--label",
        "home-token",
        "--so-pin",
        SO_PIN,
    ]));
    assert!(home.join(".local/share/oxihsm/oxihsm.db").exists());
}

/// softhsm2.conf's other keys take effect: slots.mechanisms (allow and deny lists),
/// slots.removable, objectstore.umask and log.level.
#[test]
fn softhsm2_conf_keys_take_effect() {
    let h = Harness::new();
    let d = h.dir.path();
    let write = |name: &str, extra: &str| {
        let dir = d.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = d.join(format!("{name}.conf"));
        std::fs::write(&conf, format!("directories.tokendir = {}\n{extra}", dir.display())).unwrap();
        (conf, dir)
    };
    let mechs = |conf: &std::path::Path| run_ok(p11(&h.lib).env("SOFTHSM2_CONF", conf).arg("--list-mechanisms"));

    let (all, _) = write("all", "slots.mechanisms = ALL\n");
    let every = mechs(&all);
    assert!(every.contains("RSA-PKCS") && every.contains("AES-GCM"), "{every}");

    let (allow, _) = write("allow", "slots.mechanisms = CKM_AES_GCM,CKM_SHA256,0x1\n");
    let only = mechs(&allow);
    let names: Vec<&str> =
        only.lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().split([',', ' ']).next().unwrap()).collect();
    assert_eq!(names.len(), 3, "{only}");
    assert!(only.contains("AES-GCM") && only.contains("SHA256") && !only.contains("AES-CBC"), "{only}");

    let (deny, _) = write("deny", "slots.mechanisms = -CKM_RSA_PKCS,-CKM_AES_ECB\n");
    let most = mechs(&deny);
    let has = |text: &str, m: &str| text.lines().any(|l| l.trim_start().starts_with(&format!("{m},")));
    assert!(has(&every, "RSA-PKCS") && has(&every, "AES-ECB"), "{every}");
    assert!(!has(&most, "RSA-PKCS") && !has(&most, "AES-ECB") && has(&most, "AES-GCM"), "{most}");
    assert_eq!(most.lines().count() + 2, every.lines().count(), "two fewer:\n{most}");

    // A disabled mechanism is not usable either.
    let (conf, _) = write("use", "slots.mechanisms = -CKM_AES_ECB\n");
    run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).args([
        "--init-token",
        "--slot",
        "0",
        "--label",
        "m",
        "--so-pin",
        SO_PIN,
    ]));
    run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).args([
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        SO_PIN,
        "--init-pin",
        "--pin",
        USER_PIN,
    ]));
    run_ok(p11(&h.lib).env("SOFTHSM2_CONF", &conf).args([
        "--login",
        "--pin",
        USER_PIN,
        "--keygen",
        "--key-type",
        "AES:16",
        "--label",
        "k",
    ]));
    let data = d.join("sixteen");
    std::fs::write(&data, [0u8; 16]).unwrap();
    let out = p11(&h.lib)
        .env("SOFTHSM2_CONF", &conf)
        .args(["--login", "--pin", USER_PIN, "--encrypt", "--mechanism", "AES-ECB", "--label", "k", "--input-file"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("CKR_MECHANISM_INVALID"), "{text}");

    // Removable slots; the store's mode under the umask (0600 by default).
    use std::os::unix::fs::PermissionsExt;
    let (conf, dir) = write("removable", "slots.removable = true\nobjectstore.umask = 0027\n");
    let removable = |conf: &std::path::Path| {
        let c = oxihsm::config::Config::from_softhsm_file(conf).unwrap();
        let m = oxihsm::Module::new(c).unwrap();
        m.slot_info(0).unwrap().flags & cryptoki_sys::CKF_REMOVABLE_DEVICE != 0
    };
    assert!(removable(&conf));
    assert_eq!(std::fs::metadata(dir.join("oxihsm.db")).unwrap().permissions().mode() & 0o777, 0o640);
    let (conf, dir) = write("fixed", "slots.removable = false\n");
    assert!(!removable(&conf));
    assert_eq!(std::fs::metadata(dir.join("oxihsm.db")).unwrap().permissions().mode() & 0o777, 0o600);

    // log.level ERROR silences warnings (here: an unknown key); INFO shows them.
    for (level, shown) in [("ERROR", false), ("INFO", true)] {
        let (conf, _) = write(&format!("log-{level}"), &format!("log.level = {level}\nfrobnicate = 1\n"));
        let out = p11(&h.lib).env("SOFTHSM2_CONF", &conf).arg("--list-slots").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.contains("unknown key `frobnicate`"), shown, "{level}: {err}");
    }
    // Bad values name the line.
    let (conf, _) = write("bad", "\nslots.mechanisms = CKM_NOT_A_THING\n");
    let out = p11(&h.lib).env("SOFTHSM2_CONF", &conf).arg("--list-slots").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf:3") && err.contains("CKM_NOT_A_THING"), "{err}");
}
