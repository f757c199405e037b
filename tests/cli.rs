//! The Quick start: `oxihsm demo` builds a local store through the real ABI, and the
//! pkcs11-tool command it prints works as printed.

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
