//! Slots, tokens, sessions and login through the built liboxihsm.so: SoftHSMv2 slot
//! semantics, token flags, C_InitToken/C_InitPIN/C_SetPIN, every session state, the PIN
//! retry counter and lockout (also seen by a new process), random numbers and mechanisms.

mod common;
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.into())
}

#[test]
fn slots_follow_softhsm_semantics() {
    let h = Harness::new();
    let p = h.ctx();
    let slots = p.get_all_slots().unwrap();
    assert_eq!(slots.len(), 1, "a new store has one slot with an uninitialised token");
    assert_eq!(p.get_slots_with_token().unwrap(), slots);
    assert!(p.get_slots_with_initialized_token().unwrap().is_empty());
    let info = p.get_token_info(slots[0]).unwrap();
    assert!(!info.token_initialized() && info.rng() && info.login_required());
    assert!(p.get_slot_info(slots[0]).unwrap().token_present());
    assert_eq!(rv(p.open_ro_session(slots[0])), RvError::TokenNotRecognized);

    assert_eq!(rv(p.init_token(slots[0], &pin("123"), "short")), RvError::PinLenRange);
    p.init_token(slots[0], &pin(SO_PIN), "alpha").unwrap();
    let slots2 = p.get_all_slots().unwrap();
    assert_eq!(slots2.len(), 2, "initialising the spare token adds a new spare slot");
    assert_eq!(slots2[0], slots[0], "the token keeps its slot");
    let t = p.get_token_info(slots[0]).unwrap();
    assert!(t.token_initialized() && !t.user_pin_initialized());
    assert_eq!(t.label(), "alpha");
    let serial = t.serial_number().to_string();
    assert_eq!(serial.len(), 16);
    assert!(serial.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(p.get_token_info(slots[0]).unwrap().serial_number(), serial, "serial is stable");
    assert!(!p.get_token_info(slots2[1]).unwrap().token_initialized());

    let bad = Slot::try_from(999u64).unwrap();
    assert_eq!(rv(p.get_slot_info(bad)), RvError::SlotIdInvalid);
    assert_eq!(rv(p.get_token_info(bad)), RvError::SlotIdInvalid);
    assert_eq!(rv(p.init_token(bad, &pin(SO_PIN), "x")), RvError::SlotIdInvalid);

    // A second token, then a fresh instance of the library sees both with the same serials.
    p.init_token(slots2[1], &pin(SO_PIN), "beta").unwrap();
    p.finalize().unwrap();
    let p = h.ctx();
    let inited = p.get_slots_with_initialized_token().unwrap();
    assert_eq!(inited.len(), 2);
    assert_eq!(p.get_token_info(inited[0]).unwrap().serial_number(), serial);
    assert_eq!(p.get_token_info(inited[1]).unwrap().label(), "beta");
}

#[test]
fn reinitialising_a_token_checks_the_so_pin_and_wipes_it() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "wipe-me");
    let serial = p.get_token_info(slot).unwrap().serial_number().to_string();
    {
        let s = user_session(&p, slot);
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"x".to_vec()),
        ])
        .unwrap();
        assert_eq!(rv(p.init_token(slot, &pin(SO_PIN), "again")), RvError::SessionExists);
    }
    assert_eq!(rv(p.init_token(slot, &pin("wrong-pin"), "again")), RvError::PinIncorrect);
    p.init_token(slot, &pin(SO_PIN), "again").unwrap();
    let t = p.get_token_info(slot).unwrap();
    assert_eq!(t.label(), "again");
    assert_eq!(t.serial_number(), serial);
    assert!(!t.user_pin_initialized(), "the user PIN is gone with the old token");
    assert!(!t.so_pin_count_low(), "the failed attempt belonged to the old token");
    let s = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), RvError::UserPinNotInitialized);
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert!(s.find_objects(&[]).unwrap().is_empty(), "objects are wiped");
}

#[test]
fn session_states_and_login_rules() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "states");
    let ro = p.open_ro_session(slot).unwrap();
    let rw = p.open_rw_session(slot).unwrap();
    assert_eq!(ro.get_session_info().unwrap().session_state(), SessionState::RoPublic);
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwPublic);
    assert!(rw.get_session_info().unwrap().read_write() && !ro.get_session_info().unwrap().read_write());
    assert_eq!(p.get_token_info(slot).unwrap().session_count(), Some(2));
    assert_eq!(p.get_token_info(slot).unwrap().rw_session_count(), Some(1));

    assert_eq!(rv(rw.login(UserType::So, Some(&pin(SO_PIN)))), RvError::SessionReadOnlyExists);
    assert_eq!(rv(ro.logout()), RvError::UserNotLoggedIn);
    rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(ro.get_session_info().unwrap().session_state(), SessionState::RoUser, "login applies to every session");
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwUser);
    assert_eq!(rv(ro.login(UserType::User, Some(&pin(USER_PIN)))), RvError::UserAlreadyLoggedIn);
    assert_eq!(rv(ro.login(UserType::So, Some(&pin(SO_PIN)))), RvError::UserAnotherAlreadyLoggedIn);
    assert_eq!(rv(ro.login(UserType::ContextSpecific, Some(&pin(USER_PIN)))), RvError::OperationNotInitialized);
    ro.logout().unwrap();
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwPublic);
    // With nobody logged in there is no operation a context-specific login could be for:
    // "improper use of this user type" (§5.6).
    assert_eq!(rv(rw.login(UserType::ContextSpecific, Some(&pin(USER_PIN)))), RvError::OperationNotInitialized);
    drop(ro);

    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(rw.get_session_info().unwrap().session_state(), SessionState::RwSecurityOfficer);
    assert_eq!(rv(p.open_ro_session(slot)), RvError::SessionReadWriteSoExists);
    let rw2 = p.open_rw_session(slot).unwrap();
    assert_eq!(rw2.get_session_info().unwrap().session_state(), SessionState::RwSecurityOfficer);
    drop(rw2);
    drop(rw);
    // Closing the last session logged the SO out.
    let s = p.open_ro_session(slot).unwrap();
    assert_eq!(s.get_session_info().unwrap().session_state(), SessionState::RoPublic);

    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let mut hs: CK_SESSION_HANDLE = 0;
        assert_eq!(
            raw.C_OpenSession(slot.id(), CKF_RW_SESSION, null_mut(), None, &mut hs),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED
        );
        hs = 0xdead;
        for flags in [CKF_SERIAL_SESSION | CKF_ASYNC_SESSION, CKF_SERIAL_SESSION | CKF_RW_SESSION | CKF_ASYNC_SESSION] {
            assert_eq!(raw.C_OpenSession(slot.id(), flags, null_mut(), None, &mut hs), CKR_SESSION_ASYNC_NOT_SUPPORTED);
            assert_eq!(hs, 0xdead, "no handle written");
        }
        let mut ti: CK_TOKEN_INFO = std::mem::zeroed();
        assert_eq!(raw.C_GetTokenInfo(slot.id(), &mut ti), CKR_OK);
        assert_eq!(ti.flags & CKF_ASYNC_SESSION_SUPPORTED, 0);
        assert_eq!(raw.C_OpenSession(slot.id(), CKF_SERIAL_SESSION, null_mut(), None, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_OpenSession(slot.id(), CKF_SERIAL_SESSION, null_mut(), None, &mut hs), CKR_OK);
        assert_eq!(raw.C_Login(hs, 77, null_mut(), 0), CKR_ARGUMENTS_BAD);
        let mut up = USER_PIN.as_bytes().to_vec();
        assert_eq!(raw.C_Login(hs, 77, up.as_mut_ptr(), up.len() as CK_ULONG), CKR_USER_TYPE_INVALID);
        let mut name = b"alice".to_vec();
        assert_eq!(raw.C_LoginUser(hs, CKU_USER, up.as_mut_ptr(), up.len() as CK_ULONG, name.as_mut_ptr(), 5), CKR_OK);
        assert_eq!(raw.C_Logout(hs), CKR_OK);
        let mut info: CK_SESSION_INFO = std::mem::zeroed();
        assert_eq!(raw.C_GetSessionInfo(hs, null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetSessionInfo(0xdead, &mut info), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_CloseSession(0xdead), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_CloseAllSessions(slot.id()), CKR_OK);
        assert_eq!(raw.C_GetSessionInfo(hs, &mut info), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_CloseAllSessions(999), CKR_SLOT_ID_INVALID);
    }
    assert_eq!(p.get_token_info(slot).unwrap().session_count(), Some(0));
}

/// Sessions opened on some threads and closed on others: handles stay distinct, the token
/// counts them, and the login ends exactly when the last one closes, also when the last
/// few close at the same moment on different threads.
#[test]
fn sessions_across_threads_and_the_last_close_logs_out() {
    const THREADS: usize = 4;
    const EACH: usize = 3;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "threads");
    let mut seen = std::collections::HashSet::new();
    for round in 0..100 {
        let anchor = user_session(&p, slot);
        let barrier = std::sync::Barrier::new(THREADS + 1);
        let opened: Vec<Vec<cryptoki::session::Session>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..THREADS)
                .map(|_| {
                    sc.spawn(|| {
                        let v: Vec<_> = (0..EACH).map(|_| p.open_ro_session(slot).unwrap()).collect();
                        barrier.wait();
                        v
                    })
                })
                .collect();
            barrier.wait();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let info = p.get_token_info(slot).unwrap();
        assert_eq!(info.session_count(), Some((THREADS * EACH + 1) as u64), "round {round}");
        assert_eq!(info.rw_session_count(), Some(1), "round {round}");
        for s in opened.iter().flatten() {
            assert_eq!(s.get_session_info().unwrap().session_state(), SessionState::RoUser, "round {round}");
        }
        for s in opened.iter().flatten().chain([&anchor]) {
            let raw = s.handle();
            assert!(raw != 0 && seen.insert(raw), "round {round}: handle {raw:#x} repeated or zero");
        }
        // Every thread closes another thread's sessions, all at once; the anchor goes first.
        drop(anchor);
        let mut sets: Vec<_> = opened.into_iter().collect();
        sets.rotate_left(1);
        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|sc| {
            for set in sets {
                let barrier = &barrier;
                sc.spawn(move || {
                    barrier.wait();
                    drop(set);
                });
            }
        });
        assert_eq!(p.get_token_info(slot).unwrap().session_count(), Some(0), "round {round}");
        let s = p.open_ro_session(slot).unwrap();
        assert_eq!(
            s.get_session_info().unwrap().session_state(),
            SessionState::RoPublic,
            "round {round}: still logged in"
        );
    }
}

/// Threads logging the same user in at once, each on its own session: one succeeds, the
/// others are told CKR_USER_ALREADY_LOGGED_IN (never CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
/// which would say a different user holds the token), however their PIN checks interleave.
#[test]
fn concurrent_logins_of_one_user() {
    const THREADS: usize = 8;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "logins");
    let anchor = p.open_ro_session(slot).unwrap();
    for round in 0..20 {
        let barrier = std::sync::Barrier::new(THREADS);
        let results: Vec<_> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..THREADS)
                .map(|_| {
                    sc.spawn(|| {
                        let s = p.open_ro_session(slot).unwrap();
                        barrier.wait();
                        s.login(UserType::User, Some(&pin(USER_PIN))).map_err(|e| match e {
                            cryptoki::error::Error::Pkcs11(rv, _) => rv,
                            other => panic!("{other}"),
                        })
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert!(
            results.iter().all(|r| matches!(r, Ok(()) | Err(RvError::UserAlreadyLoggedIn))),
            "round {round}: {results:?}"
        );
        anchor.logout().unwrap();
    }
}

/// Sessions on more tokens than the session table counts per shard: every token still
/// counts its own sessions and logs out with its own last one.
#[test]
fn many_tokens_each_log_out_with_their_last_session() {
    let h = Harness::new();
    let p = h.ctx();
    let slots: Vec<Slot> = (0..20).map(|i| init_token(&p, &format!("t{i}"))).collect();
    let firsts: Vec<_> = slots.iter().map(|s| user_session(&p, *s)).collect();
    let seconds: Vec<_> = slots.iter().map(|s| p.open_ro_session(*s).unwrap()).collect();
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(p.get_token_info(*slot).unwrap().session_count(), Some(2), "token {i}");
    }
    drop(firsts);
    for (i, (slot, s)) in slots.iter().zip(&seconds).enumerate() {
        assert_eq!(s.get_session_info().unwrap().session_state(), SessionState::RoUser, "token {i}");
        assert_eq!(p.get_token_info(*slot).unwrap().session_count(), Some(1), "token {i}");
    }
    drop(seconds);
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(p.get_token_info(*slot).unwrap().session_count(), Some(0), "token {i}");
        let s = p.open_ro_session(*slot).unwrap();
        assert_eq!(s.get_session_info().unwrap().session_state(), SessionState::RoPublic, "token {i}");
    }
}

#[test]
fn pin_retry_counter_locks_and_is_shared_with_new_processes() {
    let h = Harness::with_config("max_pin_failures = 3");
    let p = h.ctx();
    let slot = init_token(&p, "lockout");
    let s = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(s.login(UserType::User, Some(&pin("0000")))), RvError::PinIncorrect);
    let t = p.get_token_info(slot).unwrap();
    assert!(t.user_pin_count_low() && !t.user_pin_final_try() && !t.user_pin_locked());
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    s.logout().unwrap();
    assert!(!p.get_token_info(slot).unwrap().user_pin_count_low(), "a good PIN clears the counter");

    assert_eq!(rv(s.login(UserType::User, Some(&pin("0000")))), RvError::PinIncorrect);
    assert_eq!(rv(s.login(UserType::User, Some(&pin("0000")))), RvError::PinIncorrect);
    assert!(p.get_token_info(slot).unwrap().user_pin_final_try());
    assert_eq!(rv(s.login(UserType::User, Some(&pin("0000")))), RvError::PinIncorrect);
    assert!(p.get_token_info(slot).unwrap().user_pin_locked());
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), RvError::PinLocked, "locked even with the right PIN");

    // A new process sees the lock.
    let out = tool("pkcs11-tool")
        .arg("--module")
        .arg(&h.lib)
        .args(["--slot", &slot.id().to_string(), "--login", "--pin", USER_PIN, "--list-objects"])
        .envs(h.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CKR_PIN_LOCKED"), "pkcs11-tool said: {err}");

    // The SO unlocks the user by setting a new PIN.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin("5678")).unwrap();
    s.logout().unwrap();
    assert!(!p.get_token_info(slot).unwrap().user_pin_locked());
    s.login(UserType::User, Some(&pin("5678"))).unwrap();
}

#[test]
fn init_pin_and_set_pin() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "pins");
    assert!(p.get_token_info(slot).unwrap().user_pin_initialized());
    let rw = p.open_rw_session(slot).unwrap();
    assert_eq!(rv(rw.init_pin(&pin("9999"))), RvError::UserNotLoggedIn);
    // Not logged in: C_SetPIN changes the user PIN.
    assert_eq!(rv(rw.set_pin(&pin("0000"), &pin("4321"))), RvError::PinIncorrect);
    assert_eq!(rv(rw.set_pin(&pin(USER_PIN), &pin("12"))), RvError::PinLenRange);
    rw.set_pin(&pin(USER_PIN), &pin("4321")).unwrap();
    assert_eq!(rv(rw.login(UserType::User, Some(&pin(USER_PIN)))), RvError::PinIncorrect);
    rw.login(UserType::User, Some(&pin("4321"))).unwrap();
    rw.set_pin(&pin("4321"), &pin("8765")).unwrap();
    rw.logout().unwrap();
    rw.login(UserType::User, Some(&pin("8765"))).unwrap();
    rw.logout().unwrap();
    let ro = p.open_ro_session(slot).unwrap();
    assert_eq!(rv(ro.set_pin(&pin("8765"), &pin("1111"))), RvError::SessionReadOnly);
    drop(ro);
    // The SO changes its own PIN.
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(rv(rw.init_pin(&pin("1"))), RvError::PinLenRange);
    rw.set_pin(&pin(SO_PIN), &pin("new-so-pin")).unwrap();
    rw.logout().unwrap();
    assert_eq!(rv(rw.login(UserType::So, Some(&pin(SO_PIN)))), RvError::PinIncorrect);
    rw.login(UserType::So, Some(&pin("new-so-pin"))).unwrap();

    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        assert_eq!(raw.C_InitPIN(rw.handle(), null_mut(), 4), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_SetPIN(rw.handle(), null_mut(), 0, null_mut(), 0), CKR_ARGUMENTS_BAD);
        let mut label = [b' '; 32];
        assert_eq!(raw.C_InitToken(slot.id(), null_mut(), 0, label.as_mut_ptr()), CKR_ARGUMENTS_BAD);
        let mut so = SO_PIN.as_bytes().to_vec();
        assert_eq!(raw.C_InitToken(slot.id(), so.as_mut_ptr(), so.len() as CK_ULONG, null_mut()), CKR_ARGUMENTS_BAD);
    }
}

#[test]
fn random_numbers() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "rng");
    let s = p.open_ro_session(slot).unwrap();
    let a = s.generate_random_vec(32).unwrap();
    let b = s.generate_random_vec(32).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, vec![0u8; 32]);
    assert!(s.generate_random_vec(0).unwrap().is_empty());
    s.seed_random(&[]).unwrap();
    s.seed_random(&[7u8; 1000]).unwrap();
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        assert_eq!(raw.C_GenerateRandom(s.handle(), null_mut(), 16), CKR_ARGUMENTS_BAD);
        let mut buf = [0u8; 4];
        assert_eq!(raw.C_GenerateRandom(0xdead, buf.as_mut_ptr(), 4), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_SeedRandom(s.handle(), null_mut(), 8), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_SeedRandom(0xdead, buf.as_mut_ptr(), 4), CKR_SESSION_HANDLE_INVALID);
    }
}

/// C_CloseAllSessions closes the sessions of its slot, with their session objects, and no
/// other: a session on another token keeps its objects.
#[test]
fn close_all_sessions_closes_one_slot() {
    let h = Harness::new();
    let p = h.ctx();
    let (a, b) = (init_token(&p, "a"), init_token(&p, "b"));
    let object = |s: &cryptoki::session::Session| {
        s.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(false), Attribute::Value(vec![1])])
            .unwrap()
    };
    let (sa, sb) = (p.open_rw_session(a).unwrap(), p.open_rw_session(b).unwrap());
    let (oa, ob) = (object(&sa), object(&sb));
    // SAFETY: a plain call.
    assert_eq!(unsafe { h.raw().C_CloseAllSessions(a.id()) }, CKR_OK);
    assert_eq!(rv(sa.get_session_info()), RvError::SessionHandleInvalid);
    assert_eq!(sb.get_attributes(ob, &[cryptoki::object::AttributeType::Value]).unwrap(), [Attribute::Value(vec![1])]);
    let again = p.open_rw_session(a).unwrap();
    assert_eq!(rv(again.get_attributes(oa, &[cryptoki::object::AttributeType::Value])), RvError::ObjectHandleInvalid);
    std::mem::forget(sa); // its handle is closed already
}

#[test]
fn mechanism_list_and_digests() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "mech");
    let list = p.get_mechanism_list(slot).unwrap();
    assert!(list.contains(&MechanismType::SHA256) && list.contains(&MechanismType::SHA512));
    let info = p.get_mechanism_info(slot, MechanismType::SHA256).unwrap();
    assert!(info.digest() && !info.sign());
    assert_eq!(rv(p.get_mechanism_info(slot, MechanismType::SLH_DSA)), RvError::MechanismInvalid);
    // DES key sizes in bytes, as Triple DES's and AES's.
    let des = p.get_mechanism_info(slot, MechanismType::DES_CBC).unwrap();
    assert!(des.encrypt() && des.wrap() && (des.min_key_size(), des.max_key_size()) == (8, 8));
    let bad = Slot::try_from(4242u64).unwrap();
    assert_eq!(rv(p.get_mechanism_list(bad)), RvError::SlotIdInvalid);

    // FIPS 180-2 / FIPS 202 known answers for "abc".
    let s = p.open_ro_session(slot).unwrap();
    let kat = [
        (Mechanism::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (Mechanism::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            Mechanism::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            Mechanism::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (m, want) in kat {
        let d = s.digest(&m, b"abc").unwrap();
        assert_eq!(hex(&d), want, "{m:?}");
        s.digest_init(&m).unwrap();
        s.digest_update(b"a").unwrap();
        s.digest_update(b"bc").unwrap();
        assert_eq!(hex(&s.digest_final().unwrap()), want, "{m:?} multi-part");
    }

    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let hs = s.handle();
        let mut m = CK_MECHANISM { mechanism: CKM_SHA256, pParameter: null_mut(), ulParameterLen: 0 };
        let mut out = [0u8; 64];
        let mut n: CK_ULONG = 0;
        let mut data = *b"abc";
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(raw.C_DigestInit(hs, null_mut()), CKR_ARGUMENTS_BAD);
        let mut unknown = CK_MECHANISM { mechanism: 0x7fff_fff0, pParameter: null_mut(), ulParameterLen: 0 };
        assert_eq!(raw.C_DigestInit(hs, &mut unknown), CKR_MECHANISM_INVALID);
        let mut with_param =
            CK_MECHANISM { mechanism: CKM_SHA256, pParameter: out.as_mut_ptr().cast(), ulParameterLen: 4 };
        assert_eq!(raw.C_DigestInit(hs, &mut with_param), CKR_MECHANISM_PARAM_INVALID);
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OPERATION_ACTIVE);
        // Size query, then a short buffer: both keep the operation.
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 32);
        n = 31;
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_BUFFER_TOO_SMALL);
        assert_eq!(n, 32, "the needed length is reported");
        n = 64;
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 32);
        assert_eq!(hex(&out[..32]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(raw.C_DigestFinal(hs, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED, "C_Digest ended it");
        // After C_Digest's size query, neither C_DigestUpdate nor C_DigestFinal may follow:
        // refused, they end the operation, as their errors do.
        for update in [true, false] {
            assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
            assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, null_mut(), &mut n), CKR_OK);
            let rv = if update {
                raw.C_DigestUpdate(hs, data.as_mut_ptr(), 3)
            } else {
                raw.C_DigestFinal(hs, out.as_mut_ptr(), &mut n)
            };
            assert_eq!(rv, CKR_OPERATION_ACTIVE);
            n = 64;
            assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        }
        // Init then Final at once digests the empty string.
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
        n = 64;
        assert_eq!(raw.C_DigestFinal(hs, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(hex(&out[..32]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        // C_Digest cannot finish a multi-part operation: refused, and, as a failed C_Digest
        // always does (§5.12), it ends the operation, a size query of C_DigestFinal before it
        // notwithstanding (google/pkcs11test's DigestIntersperse).
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
        assert_eq!(raw.C_DigestUpdate(hs, data.as_mut_ptr(), 3), CKR_OK);
        n = 0;
        assert_eq!(raw.C_DigestFinal(hs, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 32);
        n = 64;
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OPERATION_ACTIVE);
        assert_eq!(raw.C_DigestFinal(hs, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // C_SessionCancel ends a digest.
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
        assert_eq!(raw.C_DigestUpdate(hs, data.as_mut_ptr(), 3), CKR_OK);
        assert_eq!(raw.C_SessionCancel(hs, CKF_DIGEST), CKR_OK);
        assert_eq!(raw.C_DigestUpdate(hs, data.as_mut_ptr(), 3), CKR_OPERATION_NOT_INITIALIZED);
        // A NULL data pointer with a length is a bad argument and ends the operation.
        assert_eq!(raw.C_DigestInit(hs, &mut m), CKR_OK);
        assert_eq!(raw.C_DigestUpdate(hs, null_mut(), 3), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_DigestFinal(hs, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // SHA3-256 (FIPS 202) through the raw interface.
        let mut m3 = CK_MECHANISM { mechanism: CKM_SHA3_256, pParameter: null_mut(), ulParameterLen: 0 };
        assert_eq!(raw.C_DigestInit(hs, &mut m3), CKR_OK);
        n = 64;
        assert_eq!(raw.C_Digest(hs, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(hex(&out[..n as usize]), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
        // Mechanism list size conventions.
        let mut count: CK_ULONG = 0;
        assert_eq!(raw.C_GetMechanismList(slot.id(), null_mut(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetMechanismList(slot.id(), null_mut(), &mut count), CKR_OK);
        assert!(count as usize >= 9);
        let mut few = vec![0 as CK_MECHANISM_TYPE; 2];
        let mut two: CK_ULONG = 2;
        assert_eq!(raw.C_GetMechanismList(slot.id(), few.as_mut_ptr(), &mut two), CKR_BUFFER_TOO_SMALL);
        assert_eq!(two, count);
        let mut slots = [0 as CK_SLOT_ID; 1];
        let mut ns: CK_ULONG = 0;
        assert_eq!(raw.C_GetSlotList(0, slots.as_mut_ptr(), &mut ns), CKR_BUFFER_TOO_SMALL);
        assert_eq!(ns, 2);
        assert_eq!(raw.C_GetSlotList(0, null_mut(), null_mut()), CKR_ARGUMENTS_BAD);
    }
}
