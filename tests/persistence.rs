//! Persistence and encryption at rest: token objects made by one process are found by a
//! later process and by one running at the same time; key material and private objects
//! never appear in plaintext in any file of the token directory.

mod common;
use common::*;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use std::path::Path;

fn p11_list(h: &Harness, login: bool) -> String {
    let mut c = tool("pkcs11-tool");
    c.arg("--module").arg(&h.lib).envs(h.env()).args(["--token-label", "persist"]);
    if login {
        c.args(["--login", "--pin", USER_PIN]);
    }
    run_ok(c.arg("--list-objects"))
}

#[test]
fn objects_are_shared_with_later_and_concurrent_processes() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "persist");
    let s = user_session(&p, slot);
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(b"made-by-first".to_vec()),
        Attribute::Value(b"1".to_vec()),
    ])
    .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(b"private-by-first".to_vec()),
    ])
    .unwrap();
    // Session objects are not persisted.
    s.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Label(b"ephemeral".to_vec())]).unwrap();

    // A second process, while this one still has its session open.
    let listed = p11_list(&h, true);
    assert!(listed.contains("made-by-first") && listed.contains("private-by-first"), "{listed}");
    assert!(!listed.contains("ephemeral"), "{listed}");

    // The second process writes; this process sees it on its next call.
    std::fs::write(h.dir.path().join("v.txt"), b"from the other process").unwrap();
    run_ok(
        tool("pkcs11-tool")
            .arg("--module")
            .arg(&h.lib)
            .envs(h.env())
            .args(["--token-label", "persist", "--login", "--pin", USER_PIN, "--write-object"])
            .arg(h.dir.path().join("v.txt"))
            .args(["--type", "data", "--label", "made-by-second"]),
    );
    let found = s.find_objects(&[Attribute::Label(b"made-by-second".to_vec())]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        s.get_attributes(found[0], &[AttributeType::Value]).unwrap(),
        vec![Attribute::Value(b"from the other process".to_vec())]
    );
    // And deletions by this process are seen by the next one.
    s.destroy_object(found[0]).unwrap();
    assert!(!p11_list(&h, true).contains("made-by-second"));

    // A later process after this one finalised.
    drop(s);
    p.finalize().unwrap();
    let listed = p11_list(&h, true);
    assert!(listed.contains("made-by-first") && listed.contains("private-by-first"), "{listed}");
    let public = p11_list(&h, false);
    assert!(public.contains("made-by-first") && !public.contains("private-by-first"), "{public}");
}

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn no_key_material_or_private_value_reaches_the_disk() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "at-rest");
    let s = user_session(&p, slot);
    let key = b"KEYBYTES-0123456789abcdef-KEY!!!";
    let secret = b"PRIVATE-DATA-OBJECT-VALUE-7f3a91";
    let public = b"PUBLIC-DATA-OBJECT-VALUE-4c2b88";
    let private_label = b"PRIVATE-LABEL-e1d2c3";
    let k = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Value(key.to_vec()),
            Attribute::Label(b"at-rest-key".to_vec()),
        ])
        .unwrap();
    // A public, extractable key: its value is still sealed on disk.
    let k2 = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Value(b"PUBLIC-KEY-OBJECT-VALUE-93ab".to_vec()),
        ])
        .unwrap();
    let o = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(private_label.to_vec()),
            Attribute::Value(secret.to_vec()),
        ])
        .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Value(public.to_vec()),
    ])
    .unwrap();
    // Updates and copies rewrite records: they must stay sealed too.
    s.update_attributes(k, &[Attribute::Label(b"renamed".to_vec())]).unwrap();
    s.copy_object(o, &[Attribute::Label(b"copy".to_vec())]).unwrap();
    s.update_attributes(k2, &[Attribute::Label(b"k2".to_vec())]).unwrap();

    let needles: [&[u8]; 6] =
        [key, secret, b"PUBLIC-KEY-OBJECT-VALUE-93ab", private_label, USER_PIN.as_bytes(), SO_PIN.as_bytes()];
    let check = |phase: &str| {
        for needle in needles {
            let hits = files_containing(&h.token_dir, needle);
            assert!(hits.is_empty(), "{phase}: {:?} found in {hits:?}", String::from_utf8_lossy(needle));
        }
        // The scan does find plaintext where plaintext is expected.
        assert!(!files_containing(&h.token_dir, public).is_empty(), "{phase}: the scan itself works");
    };
    // While the process is live (WAL and shared memory present), and after it finalised.
    check("live");
    drop(s);
    p.finalize().unwrap();
    check("finalised");
}

/// A public token key's material is sealed like any key's: without a login (no master key)
/// the key can be found and its public attributes read, but not made, used, copied or
/// changed (CKR_USER_NOT_LOGGED_IN; it was CKR_KEY_SIZE_RANGE and
/// CKR_ATTRIBUTE_VALUE_INVALID), and its value, however extractable, is unavailable
/// (CKR_ATTRIBUTE_SENSITIVE, not CKR_ATTRIBUTE_TYPE_INVALID). Nothing is lost: after a login
/// the key is whole.
#[test]
fn public_token_keys_need_a_login_for_their_material() {
    use cryptoki::error::{Error as CkError, RvError};
    use cryptoki::mechanism::Mechanism;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "public-keys");
    let value = b"0123456789abcdef".to_vec();
    let template = |label: &str| {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(value.clone()),
        ]
    };
    let rv = |e: cryptoki::error::Error| match e {
        CkError::Pkcs11(rv, _) => rv,
        e => panic!("{e}"),
    };
    let s = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(s.create_object(&template("early")).unwrap_err()), RvError::UserNotLoggedIn);
    s.login(cryptoki::session::UserType::User, Some(&cryptoki::types::AuthPin::new(USER_PIN.into()))).unwrap();
    s.create_object(&template("public")).unwrap();
    s.logout().unwrap();
    // After the logout, and after the library was finalized and initialised again (every
    // object then comes from the store, loaded without the master key).
    let check = |s: &cryptoki::session::Session| {
        let k = s.find_objects(&[Attribute::Label(b"public".to_vec())]).unwrap()[0];
        assert_eq!(s.get_attributes(k, &[AttributeType::Encrypt]).unwrap(), vec![Attribute::Encrypt(true)]);
        let raw = RawSession::new(&h, s);
        assert_eq!(raw.get_bytes(k.handle(), cryptoki_sys::CKA_VALUE), Err(cryptoki_sys::CKR_ATTRIBUTE_SENSITIVE));
        // What an AES key has not got stays CKR_ATTRIBUTE_TYPE_INVALID, withheld material or not.
        let modulus = raw.get_bytes(k.handle(), cryptoki_sys::CKA_MODULUS);
        assert_eq!(modulus, Err(cryptoki_sys::CKR_ATTRIBUTE_TYPE_INVALID));
        assert_eq!(rv(s.encrypt(&Mechanism::AesEcb, k, &[0u8; 16]).unwrap_err()), RvError::UserNotLoggedIn);
        assert_eq!(rv(s.copy_object(k, &[]).unwrap_err()), RvError::UserNotLoggedIn);
        let renamed = [Attribute::Label(b"renamed".to_vec())];
        assert_eq!(rv(s.update_attributes(k, &renamed).unwrap_err()), RvError::UserNotLoggedIn);
    };
    check(&s);
    drop(s);
    p.finalize().unwrap();
    let p = h.ctx();
    let s2 = p.open_rw_session(slot).unwrap();
    check(&s2);
    s2.login(cryptoki::session::UserType::User, Some(&cryptoki::types::AuthPin::new(USER_PIN.into()))).unwrap();
    let k = s2.find_objects(&[Attribute::Label(b"public".to_vec())]).unwrap()[0];
    assert_eq!(s2.get_attributes(k, &[AttributeType::Value]).unwrap(), vec![Attribute::Value(value.clone())]);
    assert_eq!(s2.encrypt(&Mechanism::AesEcb, k, &[0u8; 16]).unwrap().len(), 16);
}

/// A process caches the token objects it uses; a change made by another connection to the
/// store (here the engine opened separately, as another process would) is seen on the next
/// call: a changed attribute, a destroyed key, a new object.
#[test]
fn cached_token_objects_follow_changes_by_others() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use oxihsm::object::{Attribute as A, Value};
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "shared");
    let s = user_session(&p, slot);
    let o = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"before".to_vec()),
        ])
        .unwrap();
    assert_eq!(s.get_attributes(o, &[AttributeType::Label]).unwrap(), vec![Attribute::Label(b"before".to_vec())]);

    // Another connection changes the label, then destroys the object.
    let other = oxihsm::Module::new(oxihsm::config::Config::from_toml_file(&h.conf).unwrap()).unwrap();
    let oh = other.open_session(slot.id(), cryptoki_sys::CKF_SERIAL_SESSION | cryptoki_sys::CKF_RW_SESSION).unwrap();
    other.login(oh, cryptoki_sys::CKU_USER, USER_PIN.as_bytes()).unwrap();
    // Its own handle for the object (a private object's handle is the login's that gave it).
    other.find_init(oh, &[A::new(cryptoki_sys::CKA_LABEL, Value::bytes(b"before".to_vec()))]).unwrap();
    let theirs = other.find_next(oh, 2).unwrap();
    assert_eq!(theirs.len(), 1);
    other.set_attributes(oh, theirs[0], &[A::new(cryptoki_sys::CKA_LABEL, Value::bytes(b"after".to_vec()))]).unwrap();
    assert_eq!(s.get_attributes(o, &[AttributeType::Label]).unwrap(), vec![Attribute::Label(b"after".to_vec())]);
    other.destroy_object(oh, theirs[0]).unwrap();
    assert!(s.get_attributes(o, &[AttributeType::Label]).is_err(), "a destroyed object is gone for everyone");
}

/// A change the store's change marker does not announce (a writer that died between its
/// commit and the marker, or one that does not know the marker) is still seen once the cache
/// has gone unconfirmed for `store::changes::TRUST`: here a row deleted behind the module's
/// back.
#[test]
fn a_change_without_the_marker_is_seen_within_the_trust_period() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "unmarked");
    let s = user_session(&p, slot);
    let o = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"cached".to_vec()),
        ])
        .unwrap();
    assert_eq!(s.get_attributes(o, &[AttributeType::Label]).unwrap(), vec![Attribute::Label(b"cached".to_vec())]);
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(db.execute("DELETE FROM objects WHERE id = ?1", [o.handle() as i64]).unwrap(), 1);
    drop(db);
    std::thread::sleep(oxihsm::store::changes::TRUST + std::time::Duration::from_millis(200));
    assert_eq!(rv(s.get_attributes(o, &[AttributeType::Label])), cryptoki::error::RvError::ObjectHandleInvalid);
}

/// C_GetSlotList, C_GetSlotInfo and the mechanism calls answer from the slot list this
/// process last read while the store's change marker says no token was made or deleted
/// since: a token another process makes, or deletes, is seen at once all the same.
#[test]
fn tokens_other_processes_make_and_delete_are_seen_at_once() {
    use cryptoki::error::RvError;
    use cryptoki::slot::Slot;
    let h = Harness::new();
    let p = h.ctx();
    let ids = |p: &cryptoki::context::Pkcs11| p.get_all_slots().unwrap().iter().map(|s| s.id()).collect::<Vec<_>>();
    let slot = |id: u64| Slot::try_from(id).unwrap();
    assert_eq!(ids(&p), [0], "a new store: the spare slot only");
    assert_eq!(rv(p.get_slot_info(slot(1))), RvError::SlotIdInvalid);
    let util = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_softhsm2-util"));
        c.envs(h.env()).arg("--module").arg(&h.lib);
        c
    };
    let made = |label: &str| {
        run_ok(util().args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN]));
    };
    made("first");
    assert_eq!(ids(&p), [0, 1], "a token made by another process");
    p.get_slot_info(slot(1)).unwrap();
    assert!(!p.get_mechanism_list(slot(1)).unwrap().is_empty());
    made("second");
    p.get_mechanism_info(slot(2), cryptoki::mechanism::MechanismType::SHA256).unwrap();
    assert_eq!(p.get_token_info(slot(1)).unwrap().label(), "second");
    let serial = p.get_token_info(slot(0)).unwrap().serial_number().to_string();
    run_ok(util().args(["--delete-token", "--token", "first"]));
    assert_eq!(ids(&p), [1, 2], "a token deleted by another process");
    // The deletion is the SO's act in the audit trail, with the slot and serial it had.
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    let last = oxihsm::store::audit::records(&db).unwrap().pop().unwrap();
    assert_eq!(
        (last.function.as_str(), last.user.as_deref(), last.slot_id, last.serial.as_deref()),
        ("softhsm2-util --delete-token", Some("so"), Some(0), Some(serial.as_str()))
    );
    drop(db);
    assert_eq!(rv(p.get_slot_info(slot(0))), RvError::SlotIdInvalid);
    assert_eq!(rv(p.get_mechanism_list(slot(0))), RvError::SlotIdInvalid);
    // A change the marker does not announce is seen once the list has gone unconfirmed
    // for store::changes::TRUST.
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(db.execute("DELETE FROM tokens WHERE label LIKE 'second%'", []).unwrap(), 1);
    drop(db);
    std::thread::sleep(oxihsm::store::changes::TRUST + std::time::Duration::from_millis(200));
    assert_eq!(ids(&p), [0]);
    assert_eq!(rv(p.get_slot_info(slot(1))), RvError::SlotIdInvalid);
}
