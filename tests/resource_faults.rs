//! Resource faults (issue 9): a read-only store, a full disk and a store locked by another
//! process for longer than the busy timeout. Each gives the specification's CKR code, a
//! logged reason, and leaves the store intact. The store directory is a small tmpfs mount
//! (the tests run as root, as `.ci/run` does).

mod common;
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the life of the value.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (as .ci/run runs): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    /// Remounts with `opts`. A read-only remount is refused ("busy") while a file on the
    /// mount is open for writing or unlinked and not yet released; the kernel may release the
    /// store's files a moment after C_Finalize closed them (it did once in a loaded `.ci/run`),
    /// so a busy answer is retried for up to five seconds. A descriptor the module kept open
    /// would still fail it.
    fn remount(&self, opts: &str) {
        let mut tries = 0;
        loop {
            let out = Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(&self.0).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return;
            }
            tries += 1;
            assert!(err.contains("busy") && tries < 50, "remount {opts}: {err}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn integrity_ok(token_dir: &Path) {
    let db = rusqlite::Connection::open(token_dir.join("oxihsm.db")).unwrap();
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

fn data(label: &str, value: Vec<u8>) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value),
    ]
}

fn count_data(s: &cryptoki::session::Session) -> usize {
    s.find_objects(&[Attribute::Class(ObjectClass::DATA)]).unwrap().len()
}

/// Runs pkcs11-tool against the harness's library and returns (success, stdout + stderr).
fn pkcs11_tool(h: &Harness, args: &[&str]) -> (bool, String) {
    let out = tool("pkcs11-tool").arg("--module").arg(&h.lib).args(args).envs(h.env()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn read_only_store_is_usable_and_write_protected() {
    let h = Harness::new();
    let fs = Tmpfs::mount(&h.token_dir, "8m");
    let p = h.ctx();
    let slot = init_token(&p, "ro");
    let s = user_session(&p, slot);
    s.create_object(&data("kept", b"payload".to_vec())).unwrap();
    let key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(true), Attribute::ValueLen(32.into()), Attribute::Label(b"aes".to_vec())],
        )
        .unwrap();
    let iv = [7u8; 16];
    let ct = s.encrypt(&Mechanism::AesCbcPad(iv), key, b"hello").unwrap();
    drop(s);
    p.finalize().unwrap();

    fs.remount("ro");
    let p = h.ctx();
    let info = p.get_token_info(slot).unwrap();
    assert!(info.write_protected(), "{info:?}");
    assert_eq!(rv(p.open_rw_session(slot)), RvError::TokenWriteProtected);
    assert_eq!(rv(p.init_token(slot, &AuthPin::new(SO_PIN.into()), "again")), RvError::TokenWriteProtected);
    let s = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(s.login(UserType::User, Some(&AuthPin::new("9999".into())))), RvError::PinIncorrect);
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    // Reads and crypto work; token objects cannot be made; session objects can.
    assert_eq!(count_data(&s), 1);
    let key = s.find_objects(&[Attribute::Label(b"aes".to_vec())]).unwrap()[0];
    assert_eq!(s.decrypt(&Mechanism::AesCbcPad(iv), key, &ct).unwrap(), b"hello");
    assert_eq!(rv(s.create_object(&data("new", b"x".to_vec()))), RvError::SessionReadOnly);
    let mut session_obj = data("session", b"x".to_vec());
    session_obj[1] = Attribute::Token(false);
    s.create_object(&session_obj).unwrap();
    drop(s);
    p.finalize().unwrap();

    // Writable again: nothing was lost or damaged, and the failed login was not counted.
    fs.remount("rw");
    integrity_ok(&h.token_dir);
    let p = h.ctx();
    assert!(!p.get_token_info(slot).unwrap().write_protected());
    let s = user_session(&p, slot);
    assert_eq!(count_data(&s), 1);
    s.create_object(&data("after", b"y".to_vec())).unwrap();
    assert_eq!(count_data(&s), 2);
}

#[test]
fn full_disk_gives_device_memory_and_loses_nothing() {
    let h = Harness::new();
    let fs = Tmpfs::mount(&h.token_dir, "1m");
    let p = h.ctx();
    let slot = init_token(&p, "full");
    let s = user_session(&p, slot);
    let mut created = 0;
    let mut failures = 0;
    for i in 0..1000 {
        match s.create_object(&data(&format!("blob-{i}"), vec![i as u8; 16 * 1024])) {
            Ok(_) => created += 1,
            Err(cryptoki::error::Error::Pkcs11(RvError::DeviceMemory, _)) => {
                failures += 1;
                if failures == 5 {
                    break;
                }
            }
            Err(e) => panic!("object {i}: expected CKR_OK or CKR_DEVICE_MEMORY, got {e}"),
        }
    }
    assert_eq!(failures, 5, "the 1 MiB file system filled up");
    assert!(created > 10, "{created} objects fit");
    // Reading still works and the session carries on.
    assert_eq!(count_data(&s), created);
    // A real client sees the code and the module logs why.
    let (ok, text) = pkcs11_tool(
        &h,
        &["--login", "--pin", USER_PIN, "--write-object", "/etc/hostname", "--type", "data", "--label", "cli"],
    );
    let blob = h.dir.path().join("big");
    std::fs::write(&blob, vec![1u8; 64 * 1024]).unwrap();
    let (ok2, text2) = pkcs11_tool(
        &h,
        &["--login", "--pin", USER_PIN, "--write-object", blob.to_str().unwrap(), "--type", "data", "--label", "cli2"],
    );
    assert!(!(ok && ok2), "a 64 KiB object cannot fit: {text}\n{text2}");
    if !ok2 {
        assert!(text2.contains("CKR_DEVICE_MEMORY"), "{text2}");
        assert!(text2.contains("oxihsm: store full"), "the reason is logged: {text2}");
    }
    drop(s);
    p.finalize().unwrap();

    integrity_ok(&h.token_dir);
    fs.remount("size=8m");
    let p = h.ctx();
    let s = user_session(&p, slot);
    let cli = usize::from(ok);
    assert_eq!(count_data(&s), created + cli, "exactly the objects whose creation returned CKR_OK");
    for i in 0..created {
        let found = s.find_objects(&[Attribute::Label(format!("blob-{i}").into_bytes())]).unwrap();
        assert_eq!(found.len(), 1, "blob-{i}");
    }
    s.create_object(&data("room-again", vec![0; 16 * 1024])).unwrap();
}

#[test]
fn store_locked_by_another_process_times_out_with_device_error() {
    let h = Harness::with_config("busy_timeout_ms = 300");
    let p = h.ctx();
    let slot = init_token(&p, "locked");
    let s = user_session(&p, slot);
    s.create_object(&data("before", b"1".to_vec())).unwrap();

    // Another process takes the write lock and keeps it until its stdin closes. (It must be
    // another process: POSIX locks do not exclude connections within one process.)
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder", "--nocapture", "--test-threads", "1"])
        .env("LOCK_DB", h.token_dir.join("oxihsm.db"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("LOCKED") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "the lock holder died");
    }

    // Readers carry on; writers wait the busy timeout, then get CKR_DEVICE_ERROR.
    assert_eq!(count_data(&s), 1);
    assert_eq!(rv(s.create_object(&data("during", b"2".to_vec()))), RvError::DeviceError);
    let o = s.find_objects(&[Attribute::Label(b"before".to_vec())]).unwrap()[0];
    assert_eq!(rv(s.destroy_object(o)), RvError::DeviceError);
    let (ok, text) = pkcs11_tool(
        &h,
        &["--login", "--pin", USER_PIN, "--write-object", "/etc/hostname", "--type", "data", "--label", "cli"],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("CKR_DEVICE_ERROR"), "{text}");
    assert!(text.contains("busy_timeout_ms"), "the log says why and what to change: {text}");

    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    // The lock gone, everything works and nothing changed meanwhile.
    assert_eq!(count_data(&s), 1);
    s.create_object(&data("after", b"3".to_vec())).unwrap();
    s.destroy_object(o).unwrap();
    let labels: Vec<_> = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap()
        .into_iter()
        .map(|o| s.get_attributes(o, &[cryptoki::object::AttributeType::Label]).unwrap())
        .collect();
    assert_eq!(labels, vec![vec![Attribute::Label(b"after".to_vec())]]);
    integrity_ok(&h.token_dir);
}

/// The lock-holding process of the test above (does nothing when run on its own).
#[test]
fn lock_holder() {
    let Some(db) = std::env::var_os("LOCK_DB") else { return };
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn.execute("UPDATE tokens SET label = label", []).unwrap();
    println!("\nLOCKED");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut rest);
    conn.execute_batch("ROLLBACK").unwrap();
}
