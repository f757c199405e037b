//! The Quick start: `oxihsm demo` builds a local store through the real ABI, and the
//! pkcs11-tool command it prints works as printed. The benchmark harness runs and prints
//! its tables.

mod common;
use common::*;

#[test]
fn demo_runs_twice_and_its_pkcs11_tool_command_works() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo");
    let first =
        run_ok(std::process::Command::new(built_cli()).arg("demo").arg("--dir").arg(&store).env_remove("OXIHSM_CONF"));
    assert!(first.contains("initialised in slot 0"), "{first}");
    assert!(first.contains("read:    'Hello from oxihsm"), "{first}");
    assert!(first.contains("CKA_SENSITIVE=true CKA_EXTRACTABLE=false"), "{first}");
    assert!(first.contains("CKR_ATTRIBUTE_SENSITIVE"), "{first}");
    let second =
        run_ok(std::process::Command::new(built_cli()).arg("demo").arg("--dir").arg(&store).env_remove("OXIHSM_CONF"));
    assert!(second.contains("found in slot 0"), "a second run reuses the token: {second}");

    // Run the suggested command as printed (with the environment it names).
    let line = second.lines().find(|l| l.contains("pkcs11-tool")).expect("a pkcs11-tool hint").trim();
    let (env, cmd) = line.split_once(' ').unwrap();
    let (k, v) = env.split_once('=').unwrap();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let listed = run_ok(tool(words[0]).args(&words[1..]).env(k, v));
    assert!(listed.contains("demo-note") && listed.contains("demo-aes-key"), "{listed}");
    // Exactly one of each: re-runs replace the demo objects.
    assert_eq!(
        listed.matches("label:      demo-aes-key").count() + listed.matches("label:          'demo-note'").count(),
        2,
        "{listed}"
    );

    let bad = std::process::Command::new(built_cli()).arg("frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// `oxihsm bench`, the harness of README "Performance": one short run of one operation
/// against oxihsm and SoftHSMv2 and a small scale test. Checks the shape of the tables and
/// that every measured cell is a rate or a ratio; never that anything is fast.
#[test]
fn bench_compares_modules_and_prints_its_tables() {
    let softhsm = "/usr/lib/softhsm/libsofthsm2.so";
    assert!(std::path::Path::new(softhsm).exists(), "SoftHSMv2 is needed (apt softhsm2): {softhsm}");
    let out = run_ok(
        std::process::Command::new(built_cli())
            .args(["bench", "--markdown", "--only", "HMAC|key wrap|slot list", "--seconds", "0.05", "--rounds", "2"])
            .args(["--threads", "1,2", "--scale", "20", "--compare"])
            .arg(format!("oxihsm={}", built_lib().display()))
            .args(["--compare", &format!("softhsm={softhsm}")])
            .env_remove("OXIHSM_CONF")
            .env_remove("SOFTHSM2_CONF"),
    );
    let cells = |l: &str| l.split('|').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect::<Vec<_>>();
    let header = out.lines().find(|l| l.starts_with("| operation")).map(cells).expect("operation table");
    assert_eq!(
        header,
        [
            "operation",
            "thr",
            "oxihsm ops/s",
            "softhsm ops/s",
            "aws-lc-rs ops/s",
            "oxihsm / softhsm",
            "oxihsm / raw",
            "oxihsm MB/s",
            "oxihsm scaling",
            "raw scaling"
        ]
    );
    let rows: Vec<Vec<String>> = out.lines().filter(|l| l.starts_with("| HMAC-SHA256 sign 1 KiB")).map(cells).collect();
    assert_eq!(rows.len(), 2, "{out}");
    let rate = |c: &str| c.parse::<f64>().ok().filter(|r| *r > 0.0);
    let ratio = |c: &str| c.strip_suffix('x').and_then(rate);
    for (row, thr) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row[1], thr);
        for c in &row[2..5] {
            assert!(rate(c).is_some(), "rate {c:?} in {row:?}");
        }
        for c in &row[5..7] {
            assert!(ratio(c).is_some(), "ratio {c:?} in {row:?}");
        }
        assert!(rate(&row[7]).is_some(), "MB/s in {row:?}");
        for c in &row[8..10] {
            assert_eq!(ratio(c).is_some(), thr == "2", "scaling {c:?} in {row:?}");
        }
    }
    // Key wrapping has an aws-lc-rs counterpart; the slot and mechanism queries have none.
    for (op, raw) in [("AES-256 key wrap", true), ("slot list, slot and mechanism info", false)] {
        let rows: Vec<Vec<String>> = out.lines().filter(|l| l.starts_with(&format!("| {op}"))).map(cells).collect();
        assert_eq!(rows.len(), 2, "{op}: {out}");
        for row in &rows {
            assert!(rate(&row[2]).is_some() && rate(&row[3]).is_some(), "rates in {row:?}");
            assert!(ratio(&row[5]).is_some(), "ratio in {row:?}");
            assert_eq!(rate(&row[4]).is_some() && ratio(&row[6]).is_some(), raw, "raw cells in {row:?}");
        }
    }
    for module in ["oxihsm", "softhsm"] {
        let row = out.lines().find(|l| l.starts_with(&format!("| {module} | 20 |"))).map(cells);
        let row = row.unwrap_or_else(|| panic!("no scale row for {module}: {out}"));
        assert!(rate(&row[2]).is_some(), "create rate in {row:?}");
        assert!(row[3].ends_with("µs") || row[3].ends_with("ms"), "find time in {row:?}");
    }
}
