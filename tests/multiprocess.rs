//! Multi-process load (issue 9): 4 processes x 2 threads create, find, sign with a shared
//! token key, and destroy objects on one token for a bounded time, while also failing logins
//! on a second token. Afterwards the token holds exactly the objects the workers created and
//! did not destroy (none lost, none duplicated) and the second token's failure counter equals
//! the number of wrong PINs tried.

mod common;
use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROCESSES: usize = 4;
const THREADS: usize = 2;
const RUN_FOR: Duration = Duration::from_secs(4);

/// One worker thread; returns (labels it left alive, wrong PINs tried).
fn worker(
    p: Arc<Pkcs11>,
    slot_a: cryptoki::slot::Slot,
    slot_b: cryptoki::slot::Slot,
    tag: String,
) -> (Vec<String>, u64) {
    let s = p.open_rw_session(slot_a).unwrap();
    let sb = p.open_ro_session(slot_b).unwrap();
    let key = s
        .find_objects(&[Attribute::Label(b"shared-sign".to_vec()), Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(key.len(), 1, "{tag}: the shared key");
    let public = s
        .find_objects(&[Attribute::Label(b"shared-sign".to_vec()), Attribute::Class(ObjectClass::PUBLIC_KEY)])
        .unwrap()[0];
    let mut alive: Vec<String> = Vec::new();
    let mut wrong = 0;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN_FOR {
        n += 1;
        let label = format!("{tag}-{n}");
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(n.is_multiple_of(2)),
            Attribute::Label(label.clone().into_bytes()),
            Attribute::Value(n.to_le_bytes().to_vec()),
        ])
        .unwrap_or_else(|e| panic!("{tag}: create {label}: {e}"));
        let found = s.find_objects(&[Attribute::Label(label.clone().into_bytes())]).unwrap();
        assert_eq!(found.len(), 1, "{tag}: {label} found once");
        let v = s.get_attributes(found[0], &[AttributeType::Value]).unwrap();
        assert_eq!(v, vec![Attribute::Value(n.to_le_bytes().to_vec())]);
        alive.push(label);

        let msg = format!("message {tag} {n}");
        let sig = s.sign(&Mechanism::EcdsaSha256, key[0], msg.as_bytes()).unwrap();
        s.verify(&Mechanism::EcdsaSha256, public, msg.as_bytes(), &sig).unwrap();

        if n.is_multiple_of(3) {
            let victim = alive.remove((n as usize * 7) % alive.len());
            let h = s.find_objects(&[Attribute::Label(victim.clone().into_bytes())]).unwrap();
            assert_eq!(h.len(), 1, "{tag}: {victim} before destroy");
            s.destroy_object(h[0]).unwrap_or_else(|e| panic!("{tag}: destroy {victim}: {e}"));
            let left = s.find_objects(&[Attribute::Label(victim.clone().into_bytes())]).unwrap();
            assert!(left.is_empty(), "{tag}: {victim} still found after C_DestroyObject");
        }
        if n.is_multiple_of(5) {
            let r = sb.login(UserType::User, Some(&AuthPin::new("0000".into())));
            assert_eq!(rv(r), RvError::PinIncorrect, "{tag}: wrong PIN on token B");
            wrong += 1;
        }
    }
    (alive, wrong)
}

/// A worker process: logs in once, runs THREADS workers, prints what they left.
fn child(lib: &str, tag: &str) {
    let p = Arc::new(Pkcs11::new(lib).unwrap());
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slots = p.get_slots_with_initialized_token().unwrap();
    let (a, b) = (slots[0], slots[1]);
    let login = p.open_ro_session(a).unwrap();
    login.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let p = p.clone();
            let tag = format!("{tag}t{t}");
            std::thread::spawn(move || worker(p, a, b, tag))
        })
        .collect();
    // The test harness has printed "test ... " without a newline.
    println!();
    for t in threads {
        let (alive, wrong) = t.join().expect("worker thread");
        for l in alive {
            println!("ALIVE {l}");
        }
        println!("WRONG {wrong}");
    }
}

#[test]
fn four_processes_two_threads_share_one_token() {
    if let (Ok(lib), Ok(tag)) = (std::env::var("MP_LIB"), std::env::var("MP_TAG")) {
        child(&lib, &tag);
        return;
    }
    let h = Harness::with_config("max_pin_failures = 1000000");
    let p = h.ctx();
    let a = init_token(&p, "shared");
    let b = init_token(&p, "counters");
    let s = user_session(&p, a);
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"shared-sign".to_vec()),
            Attribute::EcParams(vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ],
        &[Attribute::Token(true), Attribute::Label(b"shared-sign".to_vec()), Attribute::Sign(true)],
    )
    .unwrap();
    drop(s);
    p.finalize().unwrap();

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "four_processes_two_threads_share_one_token", "--nocapture", "--test-threads", "1"])
                .env("MP_LIB", &h.lib)
                .env("MP_TAG", format!("p{i}"))
                .envs(h.env())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut expected: BTreeMap<String, ()> = BTreeMap::new();
    let mut wrong_total = 0u64;
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker process {i} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines() {
            if let Some(l) = line.strip_prefix("ALIVE ") {
                assert!(expected.insert(l.to_string(), ()).is_none(), "{l} reported twice");
            } else if let Some(n) = line.strip_prefix("WRONG ") {
                wrong_total += n.trim().parse::<u64>().unwrap();
            }
        }
    }
    assert!(expected.len() > 20, "the workers did some work: {} objects left", expected.len());

    let p = h.ctx();
    let s = user_session(&p, a);
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for o in s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap() {
        let Attribute::Label(l) = &s.get_attributes(o, &[AttributeType::Label]).unwrap()[0] else { unreachable!() };
        *found.entry(String::from_utf8(l.clone()).unwrap()).or_default() += 1;
    }
    let duplicated: Vec<_> = found.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated objects: {duplicated:?}");
    let lost: Vec<_> = expected.keys().filter(|l| !found.contains_key(*l)).collect();
    let extra: Vec<_> = found.keys().filter(|l| !expected.contains_key(*l)).collect();
    assert!(lost.is_empty() && extra.is_empty(), "lost objects: {lost:?}\nobjects that should be gone: {extra:?}");

    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    let failures: i64 =
        db.query_row("SELECT user_failures FROM tokens WHERE slot_id = ?1", [b.id() as i64], |r| r.get(0)).unwrap();
    assert!(wrong_total > 10, "{wrong_total} wrong PINs");
    assert_eq!(failures as u64, wrong_total, "every wrong PIN was counted exactly once");
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}
