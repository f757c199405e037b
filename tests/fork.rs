//! Fork (DESIGN §2): a child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize,
//! C_Finalize in the child is safe, the child then works on its own, and the parent carries
//! on unaffected. One test in this binary, so the process has no other test threads.

mod common;
use common::*;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki_sys::*;
use std::ptr::null_mut;

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
            check(raw.C_Finalize(null_mut()) == CKR_OK);
            0
        };
        // SAFETY: ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child crashed: status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed at step {}", libc::WEXITSTATUS(status));

    // The parent's session and login are untouched.
    let found = s.find_objects(&[Attribute::Label(b"parent".to_vec())]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s.get_session_info().unwrap().session_state(), cryptoki::session::SessionState::RwUser);
}
