//! Fork (DESIGN §2): a child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize,
//! C_Finalize in the child is safe, the child then works on its own, and the parent carries
//! on unaffected. One test in this binary, so the process has no other test threads.

mod common;
use common::*;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki_sys::*;
use std::ptr::null_mut;

/// `n` rounds of C_Initialize (by `init`), a session, a login, a token object labelled
/// `label` and C_Finalize; the number of rounds in which every call succeeded.
///
/// # Safety
/// `raw` is the loaded module.
unsafe fn store_rounds(raw: &cryptoki_sys::Pkcs11, init: impl Fn() -> CK_RV, slot: CK_SLOT_ID, label: &[u8]) -> usize {
    let mut done = 0;
    for _ in 0..30 {
        // SAFETY: raw calls with live locals of the lengths given.
        unsafe {
            if init() != CKR_OK {
                continue;
            }
            let mut hs: CK_SESSION_HANDLE = 0;
            let mut pin = USER_PIN.as_bytes().to_vec();
            let mut class = CKO_DATA;
            let mut token: CK_BBOOL = 1;
            let mut label = label.to_vec();
            let mut t = [
                CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
                CK_ATTRIBUTE { type_: CKA_TOKEN, pValue: (&raw mut token).cast(), ulValueLen: 1 },
                CK_ATTRIBUTE { type_: CKA_LABEL, pValue: label.as_mut_ptr().cast(), ulValueLen: label.len() as _ },
            ];
            let mut o: CK_OBJECT_HANDLE = 0;
            let ok = raw.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut hs) == CKR_OK
                && raw.C_Login(hs, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG) == CKR_OK
                && raw.C_CreateObject(hs, t.as_mut_ptr(), 3, &mut o) == CKR_OK;
            if raw.C_Finalize(null_mut()) == CKR_OK && ok {
                done += 1;
            }
        }
    }
    done
}

#[test]
fn forked_child_reinitialises_and_parent_continues() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "fork");
    let s = user_session(&p, slot);
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"parent".to_vec()),
    ])
    .unwrap();
    let raw = h.raw();
    // Two pipes: the child says when it has stored its first object, the parent when it
    // has closed its store connection (C_Finalize) and opened a new one.
    let (mut ready, mut resume) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe() fills two descriptors in each array.
    assert!(unsafe { libc::pipe(ready.as_mut_ptr()) == 0 && libc::pipe(resume.as_mut_ptr()) == 0 });

    // SAFETY: the child only calls into the PKCS#11 module and then _exit()s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
        let code = unsafe {
            let mut n: CK_ULONG = 0;
            let mut step = 0;
            let mut check = |ok: bool| {
                step += 1;
                if !ok {
                    libc::_exit(step);
                }
            };
            check(raw.C_GetSlotList(0, null_mut(), &mut n) == CKR_CRYPTOKI_NOT_INITIALIZED);
            check(raw.C_Finalize(null_mut()) == CKR_CRYPTOKI_NOT_INITIALIZED);
            check(raw.C_Initialize(null_mut()) == CKR_OK);
            check(raw.C_GetSlotList(1, null_mut(), &mut n) == CKR_OK && n == 2);
            let mut hs: CK_SESSION_HANDLE = 0;
            check(
                raw.C_OpenSession(slot.id(), CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut hs) == CKR_OK,
            );
            let mut pin = USER_PIN.as_bytes().to_vec();
            check(raw.C_Login(hs, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG) == CKR_OK);
            // Writes and reads the store while the parent keeps its own connection open: the
            // parent's connection, inherited, must not stand in for the child's (SQLite
            // shares lock state between connections of one process).
            let mut class = CKO_DATA;
            let mut token: CK_BBOOL = 1;
            let mut label = b"child".to_vec();
            let mut t = [
                CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw mut class).cast(), ulValueLen: 8 },
                CK_ATTRIBUTE { type_: CKA_TOKEN, pValue: (&raw mut token).cast(), ulValueLen: 1 },
                CK_ATTRIBUTE { type_: CKA_LABEL, pValue: label.as_mut_ptr().cast(), ulValueLen: 5 },
            ];
            let mut byte = [1u8];
            for i in 0..3 {
                let mut o: CK_OBJECT_HANDLE = 0;
                check(raw.C_CreateObject(hs, t.as_mut_ptr(), 3, &mut o) == CKR_OK);
                if i == 0 {
                    // The parent closes its connection while this one is open: with the
                    // parent's inherited connection standing in for the child's locks, the
                    // parent would think itself the store's last user and checkpoint and
                    // delete the write-ahead log under this process.
                    check(libc::write(ready[1], byte.as_ptr().cast(), 1) == 1);
                    check(libc::read(resume[0], byte.as_mut_ptr().cast(), 1) == 1);
                }
            }
            let mut found = [0 as CK_OBJECT_HANDLE; 8];
            let mut n: CK_ULONG = 0;
            check(raw.C_FindObjectsInit(hs, t.as_mut_ptr(), 3) == CKR_OK);
            check(raw.C_FindObjects(hs, found.as_mut_ptr(), 8, &mut n) == CKR_OK && n == 3);
            check(raw.C_FindObjectsFinal(hs) == CKR_OK);
            check(raw.C_Finalize(null_mut()) == CKR_OK);
            // Then rounds of its own while the parent does the same.
            check(store_rounds(&raw, || raw.C_Initialize(null_mut()), slot.id(), b"child-round") == 30);
            0
        };
        // SAFETY: ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut byte = [0u8];
    // SAFETY: the pipes made above; `raw` is this process's module.
    assert_eq!(unsafe { libc::read(ready[0], byte.as_mut_ptr().cast(), 1) }, 1, "the child stopped early");
    // The parent's session and login are untouched by the child's work so far.
    assert_eq!(s.get_session_info().unwrap().session_state(), cryptoki::session::SessionState::RwUser);
    // SAFETY: as above.
    unsafe {
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(h.raw_init(&raw), CKR_OK);
        assert_eq!(libc::write(resume[1], byte.as_ptr().cast(), 1), 1);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(store_rounds(&raw, || h.raw_init(&raw), slot.id(), b"parent-round"), 30);
        assert_eq!(h.raw_init(&raw), CKR_OK);
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child crashed: status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed at step {}", libc::WEXITSTATUS(status));

    // The parent, on its new connection, sees what both stored and can store more.
    std::mem::forget(s);
    let s = p.open_rw_session(slot).unwrap();
    let count = |label: &[u8]| s.find_objects(&[Attribute::Label(label.to_vec())]).unwrap().len();
    assert_eq!((count(b"parent"), count(b"child")), (1, 3));
    assert_eq!((count(b"parent-round"), count(b"child-round")), (30, 30));
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"parent".to_vec()),
    ])
    .unwrap();
    assert_eq!(count(b"parent"), 2);
}
