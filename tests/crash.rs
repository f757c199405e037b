//! Crash consistency (DESIGN §6): a child process creates, modifies and destroys token
//! objects and changes the user PIN through liboxihsm.so, journalling each call before and
//! after it returns CKR_OK; it is killed with SIGKILL at random moments, 200 times. After
//! each kill the store passes SQLite's integrity check and holds exactly the objects whose
//! calls returned CKR_OK (the one call in flight may have landed or not).

mod common;
use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const PINS: [&str; 2] = [USER_PIN, "4321"];

/// The child: runs until killed. Journal lines: "B op arg" before a call, "OK op arg" after.
fn child_workload() {
    let lib = std::env::var("CRASH_LIB").unwrap();
    let journal_path = std::env::var("CRASH_JOURNAL").unwrap();
    let pin = std::env::var("CRASH_PIN").unwrap();
    let mut seed: u64 = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut journal = std::fs::OpenOptions::new().append(true).create(true).open(&journal_path).unwrap();
    let mut log = |line: String| {
        journal.write_all(format!("{line}\n").as_bytes()).unwrap();
        journal.sync_data().unwrap();
    };
    let p = cryptoki::context::Pkcs11::new(&lib).unwrap();
    p.initialize(cryptoki::context::CInitializeArgs::new(cryptoki::context::CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(pin.clone().into()))).unwrap();
    let mut current_pin = pin;
    loop {
        let n = rnd();
        let existing = s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap();
        match n % 10 {
            0..=4 => {
                let label = format!("obj-{}-{}", std::process::id(), rnd() % 1_000_000_000);
                log(format!("B create {label}"));
                s.create_object(&[
                    Attribute::Class(ObjectClass::DATA),
                    Attribute::Token(true),
                    Attribute::Private(n % 2 == 0),
                    Attribute::Label(label.clone().into_bytes()),
                    Attribute::Value(b"v0".to_vec()),
                ])
                .unwrap();
                log(format!("OK create {label}"));
            }
            5 | 6 if !existing.is_empty() => {
                let o = existing[(rnd() as usize) % existing.len()];
                let label = String::from_utf8(match &s.get_attributes(o, &[AttributeType::Label]).unwrap()[0] {
                    Attribute::Label(l) => l.clone(),
                    _ => unreachable!(),
                })
                .unwrap();
                log(format!("B destroy {label}"));
                s.destroy_object(o).unwrap();
                log(format!("OK destroy {label}"));
            }
            7 | 8 if !existing.is_empty() => {
                let o = existing[(rnd() as usize) % existing.len()];
                let label = String::from_utf8(match &s.get_attributes(o, &[AttributeType::Label]).unwrap()[0] {
                    Attribute::Label(l) => l.clone(),
                    _ => unreachable!(),
                })
                .unwrap();
                let value = format!("v{}", rnd() % 1000);
                log(format!("B modify {label} {value}"));
                s.update_attributes(o, &[Attribute::Value(value.clone().into_bytes())]).unwrap();
                log(format!("OK modify {label} {value}"));
            }
            _ => {
                let new = if current_pin == PINS[0] { PINS[1] } else { PINS[0] };
                log(format!("B pin {new}"));
                s.set_pin(&AuthPin::new(current_pin.clone().into()), &AuthPin::new(new.into())).unwrap();
                log(format!("OK pin {new}"));
                current_pin = new.into();
            }
        }
    }
}

/// What the journal says must be in the store, and the call that was in flight.
struct Expected {
    /// label -> possible values (several only while a modification was in flight).
    objects: BTreeMap<String, Vec<String>>,
    /// Labels that may or may not exist (create/destroy in flight).
    maybe: Vec<String>,
    pins: Vec<String>,
}

/// Only lines ending in a newline count. SIGKILL can cut a journal write short (Linux stops
/// a write to a file between pages once a fatal signal is pending), and a torn line says
/// nothing: a torn "B" line was written before its call started, and a torn "OK" line
/// leaves its "B" line as the call in flight, which may have landed or not.
fn replay(journal: &str, first_pin: &str) -> Expected {
    let mut objects: BTreeMap<String, String> = BTreeMap::new();
    let mut pin = first_pin.to_string();
    let mut inflight: Option<Vec<String>> = None;
    let complete = &journal[..journal.rfind('\n').map_or(0, |i| i + 1)];
    for line in complete.lines() {
        let w: Vec<String> = line.split(' ').map(String::from).collect();
        match (w[0].as_str(), w[1].as_str()) {
            ("B", _) => inflight = Some(w[1..].to_vec()),
            ("OK", "create") => {
                objects.insert(w[2].clone(), "v0".into());
                inflight = None;
            }
            ("OK", "destroy") => {
                objects.remove(&w[2]);
                inflight = None;
            }
            ("OK", "modify") => {
                objects.insert(w[2].clone(), w[3].clone());
                inflight = None;
            }
            ("OK", "pin") => {
                pin = w[2].clone();
                inflight = None;
            }
            _ => panic!("bad journal line {line:?}"),
        }
    }
    let mut e = Expected {
        objects: objects.into_iter().map(|(k, v)| (k, vec![v])).collect(),
        maybe: Vec::new(),
        pins: vec![pin],
    };
    if let Some(op) = inflight {
        match op[0].as_str() {
            "create" | "destroy" => e.maybe.push(op[1].clone()),
            "modify" => {
                if let Some(v) = e.objects.get_mut(&op[1]) {
                    v.push(op[2].clone());
                }
            }
            "pin" => e.pins.push(op[1].clone()),
            _ => unreachable!(),
        }
    }
    e
}

#[test]
fn store_survives_sigkill_at_random_moments() {
    if std::env::var_os("CRASH_CHILD").is_some() {
        child_workload();
        return;
    }
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "crash");
    p.finalize().unwrap();
    let journal = h.dir.path().join("journal");
    let exe = std::env::current_exe().unwrap();
    let mut pin = USER_PIN.to_string();
    let mut total_ops = 0;
    std::fs::write(&journal, "").unwrap();
    for round in 0..200u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "store_survives_sigkill_at_random_moments", "--nocapture", "--test-threads", "1"])
            .env("CRASH_CHILD", "1")
            .env("CRASH_LIB", &h.lib)
            .env("CRASH_JOURNAL", &journal)
            .env("CRASH_PIN", &pin)
            .envs(h.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + (round * 7919) % 90));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "the child must have been killed, not have exited: {status:?}");

        // SQLite's own check.
        let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(db);

        let text = std::fs::read_to_string(&journal).unwrap();
        total_ops += text.lines().filter(|l| l.starts_with("OK ")).count();
        let expected = replay(&text, &pin);
        // A fresh module instance (as a new process would be) sees the store.
        let module = oxihsm::Module::new(oxihsm::config::Config::from_toml_file(&h.conf).unwrap()).unwrap();
        let sh =
            module.open_session(slot.id(), cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION).unwrap();
        let logged = expected.pins.iter().find(|p| module.login(sh, cryptoki_sys::CKU_USER, p.as_bytes()).is_ok());
        pin = logged.unwrap_or_else(|| panic!("round {round}: no expected PIN works ({:?})", expected.pins)).clone();
        use oxihsm::object::{Attribute as A, Value};
        module.find_init(sh, &[A::new(cryptoki_sys::CKA_CLASS, Value::Ulong(cryptoki_sys::CKO_DATA))]).unwrap();
        let handles = module.find_next(sh, usize::MAX).unwrap();
        module.find_final(sh).unwrap();
        let mut found = BTreeMap::new();
        for o in handles {
            let r = module.get_attributes(sh, o, &[cryptoki_sys::CKA_LABEL, cryptoki_sys::CKA_VALUE]).unwrap();
            let get = |i: usize| match &r[i] {
                oxihsm::token::objects::AttrResult::Value(Value::Bytes(b)) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            };
            found.insert(get(0), get(1));
        }
        for (label, values) in &expected.objects {
            match found.get(label) {
                Some(v) => assert!(values.contains(v), "round {round}: {label} has {v}, expected one of {values:?}"),
                None => assert!(expected.maybe.contains(label), "round {round}: {label} was lost"),
            }
        }
        for label in found.keys() {
            assert!(
                expected.objects.contains_key(label) || expected.maybe.contains(label),
                "round {round}: {label} should not exist"
            );
        }
        // The verified state becomes the start of the next round's journal.
        let checkpoint: String = found.iter().map(|(l, v)| format!("OK create {l}\nOK modify {l} {v}\n")).collect();
        std::fs::write(&journal, checkpoint).unwrap();
    }
    assert!(total_ops > 200, "the children did some work: {total_ops} calls");
}

/// A journal cut anywhere in its last line reads as if that line had not been written.
#[test]
fn a_torn_journal_line_counts_as_unwritten() {
    let full = "OK create a\nOK modify a v1\nB modify a v2\nOK modify a v2\nB create b\n";
    for cut in 0..=full.len() {
        let e = replay(&full[..cut], USER_PIN);
        let lines = full[..cut].matches('\n').count();
        let a: &[&str] = match lines {
            0 => &[],
            1 => &["v0"],
            2 => &["v1"],
            3 => &["v1", "v2"],
            _ => &["v2"],
        };
        assert_eq!(e.objects.get("a").map(Vec::as_slice).unwrap_or_default(), a, "cut at {cut}");
        assert_eq!(e.maybe, if lines == 5 { vec!["b".to_string()] } else { vec![] }, "cut at {cut}");
        assert_eq!(e.pins, [USER_PIN]);
    }
}
