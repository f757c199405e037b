//! The audit trail (DESIGN §8, issue 7): logins (good and bad), PIN changes, token
//! initialisation and key-management calls leave hash-chained records, with no secret in
//! them; `oxihsm audit verify` finds the first bad record after an edit, a deletion, a
//! reordering or a truncation.

mod common;
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use oxihsm::store::audit::{self, Verdict};
use std::process::Command;

fn records(h: &Harness) -> Vec<audit::Record> {
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    audit::records(&db).unwrap()
}

fn verify(h: &Harness) -> Verdict {
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    audit::verify(&db).unwrap()
}

fn cli_verify(h: &Harness) -> (bool, String) {
    let out = Command::new(built_cli()).args(["audit", "verify"]).envs(h.env()).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A token with a known history; returns the harness.
fn history() -> Harness {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "audited");
    let s = p.open_rw_session(slot).unwrap();
    assert!(s.login(UserType::User, Some(&AuthPin::new("9999".into()))).is_err());
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    let data = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"public-note".to_vec()),
            Attribute::Value(b"not secret".to_vec()),
        ])
        .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(b"private-label-XYZ".to_vec()),
    ])
    .unwrap();
    let kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(true), Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Unwrap(true)],
        )
        .unwrap();
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(cryptoki::object::KeyType::AES),
            Attribute::Token(true),
            Attribute::Extractable(true),
            Attribute::Value(b"KEYVALUE-must-not-appear-0123456".to_vec()),
        ])
        .unwrap();
    s.wrap_key(&Mechanism::AesKeyWrap, kek, key).unwrap();
    s.update_attributes(data, &[Attribute::Label(b"renamed-note".to_vec())]).unwrap();
    // A failed key-management call is recorded with its code.
    assert!(s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(7.into())]).is_err());
    s.destroy_object(data).unwrap();
    // PKCS#11 3.2 key encapsulation makes keys: recorded as such (ML-KEM, which a `fips`
    // build does not offer).
    if PQC {
        let (public, private) = s
            .generate_key_pair(
                &Mechanism::MlKemKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::ParameterSet(cryptoki::object::MlKemParameterSetType::ML_KEM_512.into()),
                ],
                &[Attribute::Token(true)],
            )
            .unwrap();
        let (ct, _) = s.encapsulate_key(&Mechanism::MlKem, public, &[Attribute::Token(true)]).unwrap();
        s.decapsulate_key(&Mechanism::MlKem, private, &[Attribute::Token(true)], &ct).unwrap();
    }
    s.set_pin(&AuthPin::new(USER_PIN.into()), &AuthPin::new("5678".into())).unwrap();
    drop(s);
    p.finalize().unwrap();
    h
}

#[test]
fn records_every_login_and_key_management_call() {
    let h = history();
    let recs = records(&h);
    let calls: Vec<(&str, i64)> = recs.iter().map(|r| (r.function.as_str(), r.result)).collect();
    use cryptoki_sys::*;
    let ok = CKR_OK as i64;
    let mut want = vec![
        ("C_InitToken", ok),
        ("C_Login", ok),
        ("C_InitPIN", ok),
        ("C_Login", CKR_PIN_INCORRECT as i64),
        ("C_Login", ok),
        ("C_CreateObject", ok),
        ("C_CreateObject", ok),
        ("C_GenerateKey", ok),
        ("C_CreateObject", ok),
        ("C_WrapKey", ok),
        ("C_SetAttributeValue", ok),
        ("C_GenerateKey", CKR_ATTRIBUTE_VALUE_INVALID as i64),
        ("C_DestroyObject", ok),
    ];
    if PQC {
        let kem =
            [("C_GenerateKeyPair", ok), ("C_GenerateKeyPair", ok), ("C_EncapsulateKey", ok), ("C_DecapsulateKey", ok)];
        want.extend(kem);
    }
    want.push(("C_SetPIN", ok));
    assert_eq!(calls, want, "{recs:#?}");
    // Who, where, what: users, slots, mechanisms, objects, public labels only.
    assert_eq!(recs[0].user.as_deref(), Some("so"), "C_InitToken is the SO's");
    assert_eq!(recs[1].user.as_deref(), Some("so"));
    assert_eq!(recs[4].user.as_deref(), Some("user"));
    let theirs = recs[4..].iter().map(|r| (r.function.as_str(), r.user.as_deref()));
    assert!(
        theirs.clone().all(|(_, u)| u == Some("user")),
        "after the user's login, all theirs: {:?}",
        theirs.collect::<Vec<_>>()
    );
    assert_eq!(recs.last().unwrap().user.as_deref(), Some("user"), "the user changed the user PIN");
    assert!(recs.iter().all(|r| r.slot_id == Some(0) && r.serial.as_ref().is_some_and(|s| s.len() == 16)));
    assert!(recs.iter().all(|r| r.pid == std::process::id() as i64 && r.time_ms > 1_700_000_000_000));
    assert_eq!(recs[5].label.as_deref(), Some("public-note"));
    assert_eq!(recs[6].label, None, "a private object's label is not written in clear");
    assert!(recs[6].object_uid.as_ref().is_some_and(|u| u.len() == 32));
    assert_eq!(recs[7].mechanism, Some(cryptoki_sys::CKM_AES_KEY_GEN as i64));
    assert_eq!(recs[9].mechanism, Some(cryptoki_sys::CKM_AES_KEY_WRAP as i64));
    assert_eq!(recs[9].object_uid, recs[8].object_uid, "the wrap names the wrapped key");
    assert_eq!(recs[10].label.as_deref(), Some("renamed-note"));
    // No secret anywhere in the trail.
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    let dump: String = db
        .prepare("SELECT quote(time_ms)||quote(pid)||quote(slot_id)||quote(serial)||quote(user)||quote(function)||quote(mechanism)||quote(object_uid)||quote(label)||quote(result) FROM audit")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for secret in [USER_PIN, "9999", "5678", SO_PIN, "KEYVALUE", "private-label-XYZ"] {
        assert!(!dump.contains(secret), "{secret:?} appears in the audit trail");
    }
    assert_eq!(verify(&h), Verdict::Intact(recs.len()));
    let (ok, text) = cli_verify(&h);
    assert!(ok && text.contains(&format!("{} records", recs.len())), "{text}");
    // Export (JSON lines) and show (text and JSON) through the CLI.
    let file = h.dir.path().join("trail.jsonl");
    let out = Command::new(built_cli()).args(["audit", "export", "--out"]).arg(&file).envs(h.env()).output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), recs.len());
    assert_eq!(lines[3]["function"], "C_Login");
    assert_eq!(lines[3]["result"], cryptoki_sys::CKR_PIN_INCORRECT as i64);
    let out = Command::new(built_cli()).args(["audit", "show", "--last", "3"]).envs(h.env()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("C_SetPIN") && text.contains("CKR_OK"), "{text}");
    let out = Command::new(built_cli()).args(["--json", "audit", "show"]).envs(h.env()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), recs.len());
}

#[test]
fn verify_finds_the_first_bad_record_after_tampering() {
    let h = history();
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    let n = records(&h).len();
    let save = |db: &rusqlite::Connection| db.execute_batch("CREATE TEMP TABLE saved AS SELECT * FROM audit").unwrap();
    let restore = |db: &rusqlite::Connection| {
        db.execute_batch("DELETE FROM audit; INSERT INTO audit SELECT * FROM saved; DROP TABLE saved").unwrap()
    };
    let expect_broken_at = |want: usize, what: &str| {
        match verify(&h) {
            Verdict::Broken { position, .. } => assert_eq!(position, want, "{what}"),
            other => panic!("{what}: not detected: {other:?}"),
        }
        let (ok, text) = cli_verify(&h);
        assert!(!ok, "{what}: the CLI must fail: {text}");
        assert!(text.contains(&format!("record {want}")), "{what}: {text}");
    };

    // An edit: a failed login turned into a success.
    save(&db);
    db.execute("UPDATE audit SET result = 0 WHERE seq = 4", []).unwrap();
    expect_broken_at(4, "edit");
    restore(&db);
    assert_eq!(verify(&h), Verdict::Intact(n));

    // An edit of each optional field: each is in the chained hash.
    for (what, sql, seq) in [
        ("user", "UPDATE audit SET user = 'so' WHERE seq = 5", 5),
        ("label", "UPDATE audit SET label = 'another-note' WHERE seq = 6", 6),
        ("object", "UPDATE audit SET object_uid = NULL WHERE seq = 7", 7),
        ("mechanism", "UPDATE audit SET mechanism = NULL WHERE seq = 8", 8),
        ("serial", "UPDATE audit SET serial = '0000000000000000' WHERE seq = 2", 2),
        ("slot", "UPDATE audit SET slot_id = 7 WHERE seq = 3", 3),
    ] {
        save(&db);
        assert_eq!(db.execute(sql, []).unwrap(), 1, "{what}");
        expect_broken_at(seq, what);
        restore(&db);
    }

    // A deletion in the middle.
    save(&db);
    db.execute("DELETE FROM audit WHERE seq = 6", []).unwrap();
    expect_broken_at(6, "deletion");
    restore(&db);

    // A reordering: records 7 and 8 swap places (their contents swap, numbers kept).
    save(&db);
    db.execute_batch(
        "UPDATE audit SET seq = -7 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = -7;",
    )
    .unwrap();
    expect_broken_at(7, "reordering");
    restore(&db);

    // A truncation: the newest record removed.
    save(&db);
    db.execute("DELETE FROM audit WHERE seq = ?1", [n as i64]).unwrap();
    expect_broken_at(n, "truncation");
    restore(&db);
    assert_eq!(verify(&h), Verdict::Intact(n));

    // The head's record of where the trail ends, removed or pointing elsewhere (the right
    // number with another hash, another number): the end is no longer proven.
    for (what, sql) in [
        ("head removed", "DELETE FROM audit_head"),
        ("head hash", "UPDATE audit_head SET hash = zeroblob(32)"),
        ("head number", "UPDATE audit_head SET seq = seq + 1"),
    ] {
        db.execute_batch("CREATE TEMP TABLE saved_head AS SELECT * FROM audit_head").unwrap();
        db.execute_batch(sql).unwrap();
        expect_broken_at(n + 1, what);
        db.execute_batch(
            "DELETE FROM audit_head; INSERT INTO audit_head SELECT * FROM saved_head; DROP TABLE saved_head",
        )
        .unwrap();
    }
    assert_eq!(verify(&h), Verdict::Intact(n));
    let (ok, text) = cli_verify(&h);
    assert!(ok, "{text}");
}

#[test]
fn crypto_operations_are_audited_when_configured() {
    let h = Harness::with_config("audit_crypto_operations = true\naudit_session_objects = true");
    let p = h.ctx();
    let slot = init_token(&p, "crypto-audit");
    let s = user_session(&p, slot);
    let k = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Encrypt(true), Attribute::Decrypt(true)],
        )
        .unwrap();
    s.encrypt(&Mechanism::AesEcb, k, &[0u8; 16]).unwrap();
    // The message-based calls name themselves too.
    let r = RawSession::new(&h, &s);
    let mut m = mech::<u8>(cryptoki_sys::CKM_AES_GCM, None);
    let mut hm = mech::<u8>(cryptoki_sys::CKM_SHA256_HMAC, None);
    let mac_key = r.secret_key(cryptoki_sys::CKK_GENERIC_SECRET, b"a key to sign messages with").unwrap();
    let (mut data, mut sig, mut n) = (*b"message", [0u8; 32], 32);
    // SAFETY: live mechanisms and buffers of the lengths given.
    unsafe {
        assert_eq!(r.lib.C_MessageEncryptInit(r.h, &mut m, k.handle()), cryptoki_sys::CKR_OK);
        assert_eq!(r.lib.C_MessageDecryptInit(r.h, &mut m, k.handle()), cryptoki_sys::CKR_OK);
        assert_eq!(r.lib.C_MessageSignInit(r.h, &mut hm, mac_key), cryptoki_sys::CKR_OK);
        let rv = r.lib.C_SignMessage(r.h, std::ptr::null_mut(), 0, data.as_mut_ptr(), 7, sig.as_mut_ptr(), &mut n);
        assert_eq!(rv, cryptoki_sys::CKR_OK);
    }
    s.destroy_object(k).unwrap();
    drop(s);
    p.finalize().unwrap();
    let f: Vec<String> = records(&h).into_iter().map(|r| r.function).collect();
    let tail: Vec<&str> = f.iter().rev().take(8).rev().map(String::as_str).collect();
    let want = [
        "C_GenerateKey",
        "C_EncryptInit",
        "C_CreateObject",
        "C_MessageEncryptInit",
        "C_MessageDecryptInit",
        "C_MessageSignInit",
        "C_SignMessage",
    ];
    assert_eq!(tail, [&want[..], &["C_DestroyObject"]].concat(), "{f:?}");

    // Off by default: session objects and crypto operations leave no record.
    let h2 = Harness::new();
    let p = h2.ctx();
    let slot = init_token(&p, "quiet");
    let s = user_session(&p, slot);
    let before = records(&h2).len();
    let k = s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into()), Attribute::Encrypt(true)]).unwrap();
    s.encrypt(&Mechanism::AesEcb, k, &[0u8; 16]).unwrap();
    assert_eq!(records(&h2).len(), before);
}

#[test]
fn records_written_by_threads_at_once_all_join_the_chain() {
    // Records on their own are committed in groups (one thread writes what the others
    // queued meanwhile): none may be lost, doubled or put out of the chain.
    let h = Harness::with_config("audit_crypto_operations = true");
    let p = h.ctx();
    let slot = init_token(&p, "group-commit");
    let s = user_session(&p, slot);
    let k = s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into()), Attribute::Encrypt(true)]).unwrap();
    let before = records(&h).len();
    const THREADS: usize = 4;
    const EACH: usize = 150;
    std::thread::scope(|sc| {
        for _ in 0..THREADS {
            sc.spawn(|| {
                let s = p.open_ro_session(slot).unwrap();
                for i in 0..EACH {
                    s.encrypt(&Mechanism::AesEcb, k, &[i as u8; 16]).unwrap();
                }
            });
        }
    });
    drop(s);
    p.finalize().unwrap();
    let recs = records(&h);
    let new = &recs[before..];
    assert_eq!(new.len(), THREADS * EACH);
    assert!(new.iter().all(|r| r.function == "C_EncryptInit" && r.result == 0), "{new:?}");
    assert!(recs.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(verify(&h), Verdict::Intact(recs.len()));
}

fn cli(h: &Harness, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(built_cli()).arg("audit").args(args).envs(h.env()).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn archived_records_leave_the_store_and_the_chain_still_verifies() {
    let h = history();
    let before = records(&h);
    let n = before.len();
    let (a1, a2) = (h.dir.path().join("a1.jsonl"), h.dir.path().join("a2.jsonl"));

    // Keep the newest three; the rest go to a1, as `audit export` wrote them, after a line
    // naming where they start.
    let (ok, text) = cli(&h, &[os("archive"), os("--keep"), os("3"), os("--out"), a1.as_os_str()]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("records 1-{} moved", n - 3)), "{text}");
    let file = std::fs::read_to_string(&a1).unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 1 + n - 3);
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!((header["after_seq"].as_i64(), header["after_hash"].as_str()), (Some(0), Some(&*"00".repeat(32))));
    for (line, r) in lines[1..].iter().zip(&before) {
        assert_eq!(*line, serde_json::to_string(r).unwrap());
    }
    // The store holds the three and the archiving's own record, and verifies from its anchor.
    let now = records(&h);
    assert_eq!(now[..3], before[n - 3..]);
    assert_eq!(now[3].function, "oxihsm audit archive");
    assert_eq!(now[3].label.as_deref(), Some(&*format!("records 1-{}", n - 3)));
    assert_eq!(verify(&h), Verdict::Intact(4));
    let (ok, text) = cli_verify(&h);
    assert!(ok && text.contains(&format!("4 records after {} archived", n - 3)), "{text}");
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a1.as_os_str()]);
    assert!(ok && text.contains(&format!("({} checked in the archives)", n - 3)), "{text}");
    let (_, text) = cli(&h, &[os("show")]);
    assert!(text.starts_with(&format!("(records 1-{} archived)", n - 3)), "{text}");

    // The module goes on appending to the chain; a second archive takes everything.
    let p = h.ctx();
    let s = p.open_rw_session(cryptoki::slot::Slot::try_from(0u64).unwrap()).unwrap();
    s.login(UserType::User, Some(&AuthPin::new("5678".into()))).unwrap();
    drop(s);
    p.finalize().unwrap();
    let (ok, text) = cli(&h, &[os("archive"), os("--out"), a2.as_os_str()]);
    assert!(ok, "{text}");
    assert_eq!(records(&h).len(), 1);
    assert_eq!(verify(&h), Verdict::Intact(1));
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a1.as_os_str(), os("--archive"), a2.as_os_str()]);
    assert!(ok && text.contains(&format!("({} checked in the archives)", n + 2)), "{text}");
    // The newest archive alone is checked from its own start.
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a2.as_os_str()]);
    assert!(ok, "{text}");
    // Out of order, or with a gap, the files do not link.
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a2.as_os_str(), os("--archive"), a1.as_os_str()]);
    assert!(!ok && text.contains("does not continue"), "{text}");
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a1.as_os_str()]);
    assert!(!ok && text.contains("do not continue the last archive"), "{text}");

    // An edited archive is found, by the number of the record.
    let edited = file.replacen("\"result\":160", "\"result\":0", 1);
    assert_ne!(edited, file, "record 4 is a failed login (CKR_PIN_INCORRECT = 0xa0)");
    std::fs::write(&a1, edited).unwrap();
    let (ok, text) = cli(&h, &[os("verify"), os("--archive"), a1.as_os_str(), os("--archive"), a2.as_os_str()]);
    assert!(!ok && text.contains("broken at record 4"), "{text}");

    // An archive never overwrites a file, and a broken trail is not archived.
    let (ok, text) = cli(&h, &[os("archive"), os("--out"), a1.as_os_str()]);
    assert!(!ok && text.contains("exists"), "{text}");
    assert_eq!(records(&h).len(), 1);
    let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
    db.execute("UPDATE audit_anchor SET seq = seq - 1", []).unwrap();
    assert!(matches!(verify(&h), Verdict::Broken { .. }), "a moved anchor breaks the chain");
    let a3 = h.dir.path().join("a3.jsonl");
    let (ok, text) = cli(&h, &[os("archive"), os("--out"), a3.as_os_str()]);
    assert!(!ok && text.contains("not archived") && !a3.exists(), "{text}");
}

/// 3.2's authenticated wrapping is key management like C_WrapKey / C_UnwrapKey: recorded with
/// its mechanism and the key that left or came in.
#[test]
fn authenticated_wrapping_is_audited() {
    use cryptoki_sys::*;
    let (h, _p, s) = user_env("auth-wrap-audit");
    let r = RawSession::new(&h, &s);
    let kek = r.create(&mut T::secret(CKK_AES).bytes(CKA_VALUE, &[1u8; 32]).flag(CKA_TOKEN, true)).unwrap();
    let mut t = T::secret(CKK_AES).bytes(CKA_VALUE, &[2u8; 16]).flag(CKA_TOKEN, true).flag(CKA_EXTRACTABLE, true);
    let key = r.create(&mut t).unwrap();
    let uid = String::from_utf8(r.get_bytes(key, CKA_UNIQUE_ID).unwrap()).unwrap();
    let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
    let mut gp = CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 0,
        ivGenerator: CKG_GENERATE,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    };
    let mut m = mech(CKM_AES_GCM, Some(&mut gp));
    let mut wrapped = [0u8; 16];
    let mut n: CK_ULONG = 16;
    let mut aad = *b"aad";
    // SAFETY: live mechanism, parameter and buffers of the lengths given.
    let rv = unsafe {
        r.lib.C_WrapKeyAuthenticated(r.h, &mut m, kek, key, aad.as_mut_ptr(), 3, wrapped.as_mut_ptr(), &mut n)
    };
    assert_eq!(rv, CKR_OK);
    gp.ivGenerator = CKG_NO_GENERATE;
    let mut m = mech(CKM_AES_GCM, Some(&mut gp));
    let mut t = T::secret(CKK_AES).flag(CKA_TOKEN, true);
    let mut back = 0;
    // SAFETY: as above.
    let rv = unsafe {
        r.lib.C_UnwrapKeyAuthenticated(
            r.h,
            &mut m,
            kek,
            wrapped.as_mut_ptr(),
            16,
            t.attrs.as_mut_ptr(),
            t.attrs.len() as _,
            aad.as_mut_ptr(),
            3,
            &mut back,
        )
    };
    assert_eq!(rv, CKR_OK);
    let back_uid = String::from_utf8(r.get_bytes(back, CKA_UNIQUE_ID).unwrap()).unwrap();
    let recs = records(&h);
    let tail: Vec<(&str, Option<i64>, Option<&str>)> =
        recs.iter().rev().take(2).rev().map(|r| (r.function.as_str(), r.mechanism, r.object_uid.as_deref())).collect();
    let gcm = Some(CKM_AES_GCM as i64);
    assert_eq!(
        tail,
        [
            ("C_WrapKeyAuthenticated", gcm, Some(uid.as_str())),
            ("C_UnwrapKeyAuthenticated", gcm, Some(back_uid.as_str()))
        ]
    );
    assert_eq!(verify(&h), Verdict::Intact(recs.len()));
}

/// Calls that name no mechanism (C_SetAttributeValue, C_DestroyObject) record the key's
/// CKA_KEY_GEN_MECHANISM when it has one, and none for a key made from its value.
#[test]
fn records_of_calls_without_a_mechanism_name_the_key_generation() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "origin");
    let s = user_session(&p, slot);
    let made =
        s.generate_key(&Mechanism::AesKeyGen, &[Attribute::Token(true), Attribute::ValueLen(16.into())]).unwrap();
    let imported = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(cryptoki::object::KeyType::AES),
            Attribute::Token(true),
            Attribute::Value(vec![7; 16]),
        ])
        .unwrap();
    for k in [made, imported] {
        s.update_attributes(k, &[Attribute::Label(b"renamed".to_vec())]).unwrap();
        s.destroy_object(k).unwrap();
    }
    drop(s);
    p.finalize().unwrap();
    let recs = records(&h);
    let last: Vec<(&str, Option<i64>)> =
        recs.iter().rev().take(4).rev().map(|r| (r.function.as_str(), r.mechanism)).collect();
    let made_by = Some(cryptoki_sys::CKM_AES_KEY_GEN as i64);
    let want = [
        ("C_SetAttributeValue", made_by),
        ("C_DestroyObject", made_by),
        ("C_SetAttributeValue", None),
        ("C_DestroyObject", None),
    ];
    assert_eq!(last, want);
}
