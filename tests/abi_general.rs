//! General-purpose and interface functions through the built liboxihsm.so: interface list,
//! function tables, C_GetInfo per interface, C_Initialize/C_Finalize argument rules, a
//! second copy of the library in one process, C_Finalize while another thread has made
//! calls, the exported symbol set, and a program the application starts inheriting none of
//! the store's open files.

mod common;
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

fn version_of(list: *mut std::ffi::c_void) -> (u8, u8) {
    // SAFETY: every function list starts with its CK_VERSION.
    let v = unsafe { &*list.cast::<CK_VERSION>() };
    (v.major, v.minor)
}

#[test]
fn interface_list_and_function_tables() {
    let h = Harness::new();
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let mut n: CK_ULONG = 0;
        assert_eq!(raw.C_GetInterfaceList(null_mut(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetInterfaceList(null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 3);
        let mut list: Vec<CK_INTERFACE> =
            (0..3).map(|_| CK_INTERFACE { pInterfaceName: null_mut(), pFunctionList: null_mut(), flags: 0 }).collect();
        let mut small: CK_ULONG = 1;
        assert_eq!(raw.C_GetInterfaceList(list.as_mut_ptr(), &mut small), CKR_BUFFER_TOO_SMALL);
        assert_eq!(small, 3);
        assert_eq!(raw.C_GetInterfaceList(list.as_mut_ptr(), &mut n), CKR_OK);
        let versions: Vec<_> = list.iter().map(|i| version_of(i.pFunctionList)).collect();
        assert_eq!(versions, [(3, 2), (3, 0), (2, 40)]);
        for i in &list {
            assert_eq!(std::ffi::CStr::from_ptr(i.pInterfaceName.cast()).to_str().unwrap(), "PKCS 11");
        }

        let mut iface: *mut CK_INTERFACE = null_mut();
        assert_eq!(raw.C_GetInterface(null_mut(), null_mut(), &mut iface, 0), CKR_OK);
        assert_eq!(version_of((*iface).pFunctionList), (3, 2), "default interface is the newest");
        let mut v30 = CK_VERSION { major: 3, minor: 0 };
        let mut name = *b"PKCS 11\0";
        assert_eq!(raw.C_GetInterface(name.as_mut_ptr(), &mut v30, &mut iface, 0), CKR_OK);
        assert_eq!(version_of((*iface).pFunctionList), (3, 0));
        let mut bogus = CK_VERSION { major: 9, minor: 9 };
        assert_eq!(raw.C_GetInterface(name.as_mut_ptr(), &mut bogus, &mut iface, 0), CKR_ARGUMENTS_BAD);
        let mut other = *b"Vendor X\0";
        assert_eq!(raw.C_GetInterface(other.as_mut_ptr(), null_mut(), &mut iface, 0), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetInterface(null_mut(), null_mut(), null_mut(), 0), CKR_ARGUMENTS_BAD);
        assert_eq!(
            raw.C_GetInterface(null_mut(), null_mut(), &mut iface, CKF_INTERFACE_FORK_SAFE),
            CKR_ARGUMENTS_BAD,
            "oxihsm needs C_Initialize after fork, so it offers no fork-safe interface"
        );

        let mut fl: *mut CK_FUNCTION_LIST = null_mut();
        assert_eq!(raw.C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetFunctionList(&mut fl), CKR_OK);
        assert_eq!(version_of(fl.cast()), (2, 40));

        // C_GetInfo reports the version of the interface it was reached through.
        let mut info: CK_INFO = std::mem::zeroed();
        assert_eq!((*fl).C_GetInfo.unwrap()(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(h.raw_init(&raw), CKR_OK);
        for i in &list {
            let f32 = &*i.pFunctionList.cast::<CK_FUNCTION_LIST>();
            assert_eq!(f32.C_GetInfo.unwrap()(&mut info), CKR_OK);
            let want = version_of(i.pFunctionList);
            assert_eq!((info.cryptokiVersion.major, info.cryptokiVersion.minor), want);
            assert!(info.manufacturerID.starts_with(b"oxihsm"));
            // The library's version is the package's (0.1 while this is written).
            let package: (u8, u8) =
                (env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap(), env!("CARGO_PKG_VERSION_MINOR").parse().unwrap());
            assert_eq!((info.libraryVersion.major, info.libraryVersion.minor), package);
            assert_ne!(package, (0, 0));
            // A build on AWS-LC's FIPS module says so (that build runs this test in .ci/run).
            let description: &[u8; 32] = if cfg!(feature = "fips") {
                b"oxihsm PKCS#11 token (FIPS mode)"
            } else {
                b"oxihsm PKCS#11 software token   "
            };
            assert_eq!(&info.libraryDescription, description);
            assert_eq!(f32.C_GetInfo.unwrap()(null_mut()), CKR_ARGUMENTS_BAD);
        }

        // Every function of the 3.2 table is present; those not implemented say so.
        let f32 = &*list[0].pFunctionList.cast::<CK_FUNCTION_LIST_3_2>();
        assert!(f32.C_EncapsulateKey.is_some() && f32.C_UnwrapKeyAuthenticated.is_some() && f32.C_LoginUser.is_some());
        let mut n: CK_ULONG = 0;
        assert_eq!(f32.C_SignEncryptUpdate.unwrap()(1, null_mut(), 0, null_mut(), &mut n), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(
            f32.C_WrapKeyAuthenticated.unwrap()(1, null_mut(), 1, 2, null_mut(), 0, null_mut(), &mut n),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(f32.C_AsyncJoin.unwrap()(1, null_mut(), 0, null_mut(), 0), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(f32.C_MessageSignInit.unwrap()(1, null_mut(), 1), CKR_SESSION_HANDLE_INVALID);
        // No slot event ever happens: not waiting gives CKR_NO_EVENT, waiting is refused.
        assert_eq!(f32.C_WaitForSlotEvent.unwrap()(CKF_DONT_BLOCK, null_mut(), null_mut()), CKR_NO_EVENT);
        assert_eq!(f32.C_WaitForSlotEvent.unwrap()(0, null_mut(), null_mut()), CKR_FUNCTION_NOT_SUPPORTED);
        assert_eq!(f32.C_GetFunctionStatus.unwrap()(12345), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(
            f32.C_WaitForSlotEvent.unwrap()(CKF_DONT_BLOCK, null_mut(), null_mut()),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
    }
}

unsafe extern "C" fn create_mutex(_: *mut *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}
unsafe extern "C" fn mutex_op(_: *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}

#[test]
fn initialize_and_finalize_rules() {
    let h = Harness::new();
    let raw = h.raw();
    // SAFETY: raw PKCS#11 calls with pointers to live local buffers of the lengths passed.
    unsafe {
        let mut slots: CK_ULONG = 0;
        assert_eq!(raw.C_GetSlotList(0, null_mut(), &mut slots), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);

        let mut reserved = 0u8;
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: (&raw mut reserved).cast(),
        };
        assert_eq!(h.raw_init_args(&raw, (&raw mut args).cast()), CKR_ARGUMENTS_BAD, "pReserved must be NULL");
        args.pReserved = null_mut();
        args.CreateMutex = Some(create_mutex);
        assert_eq!(h.raw_init_args(&raw, (&raw mut args).cast()), CKR_ARGUMENTS_BAD, "mutex callbacks are all or none");
        args.DestroyMutex = Some(mutex_op);
        args.LockMutex = Some(mutex_op);
        args.UnlockMutex = Some(mutex_op);
        args.flags = 0;
        // Callbacks without CKF_OS_LOCKING_OK are accepted: oxihsm uses its own locks.
        assert_eq!(h.raw_init_args(&raw, (&raw mut args).cast()), CKR_OK);
        assert_eq!(raw.C_Initialize(null_mut()), CKR_CRYPTOKI_ALREADY_INITIALIZED);
        assert_eq!(raw.C_GetSlotList(0, null_mut(), &mut slots), CKR_OK);
        assert_eq!(slots, 1, "a new store shows one slot with an uninitialised token");
        assert_eq!(raw.C_Finalize((&raw mut reserved).cast()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(raw.C_GetSlotList(0, null_mut(), &mut slots), CKR_CRYPTOKI_NOT_INITIALIZED);
        // Initialise again after finalising.
        assert_eq!(h.raw_init(&raw), CKR_OK);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
        // A caller that forbids the library threads of its own: oxihsm makes none, so it
        // works (the alternative the specification allows is CKR_NEED_TO_CREATE_THREADS).
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_LIBRARY_CANT_CREATE_OS_THREADS,
            pReserved: null_mut(),
        };
        assert_eq!(h.raw_init_args(&raw, (&raw mut args).cast()), CKR_OK);
        assert_eq!(raw.C_GetSlotList(0, null_mut(), &mut slots), CKR_OK);
        assert_eq!(raw.C_Finalize(null_mut()), CKR_OK);
    }
}

#[test]
fn a_bad_configuration_fails_initialize_cleanly() {
    let h = Harness::new();
    std::fs::write(&h.conf, "token_dir = 5\n").unwrap();
    let raw = h.raw();
    assert_eq!(h.raw_init(&raw), CKR_GENERAL_ERROR);
    std::fs::write(&h.conf, format!("token_dir = \"{}\"\n", h.token_dir.display())).unwrap();
    assert_eq!(h.raw_init(&raw), CKR_OK);
    // SAFETY: NULL reserved.
    assert_eq!(unsafe { raw.C_Finalize(null_mut()) }, CKR_OK);
}

/// A second file with the same library, on the same store: a second, independent instance
/// (to the store, another process).
fn other_instance(h: &Harness) -> Harness {
    let copy = h.dir.path().join("liboxihsm-other.so");
    std::fs::copy(&h.lib, &copy).unwrap();
    Harness { dir: tempfile::tempdir().unwrap(), lib: copy, conf: h.conf.clone(), token_dir: h.token_dir.clone() }
}

#[test]
fn two_copies_in_one_process_share_the_store() {
    let h = Harness::new();
    let a = h.ctx();
    let slot = init_token(&a, "shared");
    let s = user_session(&a, slot);
    use cryptoki::object::{Attribute, ObjectClass};
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Label(b"from-a".to_vec()),
        Attribute::Value(b"hello".to_vec()),
    ])
    .unwrap();

    let h2 = other_instance(&h);
    let b = h2.ctx();
    assert_eq!(b.get_slots_with_initialized_token().unwrap().len(), 1);
    let s2 = user_session(&b, slot);
    let found = s2.find_objects(&[Attribute::Label(b"from-a".to_vec())]).unwrap();
    assert_eq!(found.len(), 1);
    // Logging in through B did not log in A's sessions, and both keep working.
    assert_eq!(s.find_objects(&[Attribute::Label(b"from-a".to_vec())]).unwrap().len(), 1);
    // The same path loaded again is the same instance: already initialised.
    let again = cryptoki::context::Pkcs11::new(&h.lib).unwrap();
    let r =
        again.initialize(cryptoki::context::CInitializeArgs::new(cryptoki::context::CInitializeFlags::OS_LOCKING_OK));
    assert_eq!(rv(r), cryptoki::error::RvError::CryptokiAlreadyInitialized);
}

/// Another instance (another process, as far as the store knows) initialises the token again
/// while this one has a session on it: this instance's session belongs to a token that is
/// gone. Logging in or creating a token object on it says CKR_TOKEN_NOT_RECOGNIZED (not
/// CKR_DEVICE_ERROR), nothing of the new token is reached through it, new sessions reach the
/// new token, and once the slot's new token is seen the old sessions are closed.
#[test]
fn a_token_initialised_again_by_another_instance() {
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let h = Harness::new();
    let a = h.ctx();
    let slot = init_token(&a, "first");
    let old = a.open_rw_session(slot).unwrap();
    let h2 = other_instance(&h);
    let b = h2.ctx();
    b.init_token(slot, &AuthPin::new(SO_PIN.into()), "second").unwrap();
    let sb = b.open_rw_session(slot).unwrap();
    sb.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    sb.init_pin(&AuthPin::new("5555".into())).unwrap();
    sb.logout().unwrap();
    let data = [Attribute::Class(ObjectClass::DATA), Attribute::Token(true), Attribute::Private(false)];
    sb.create_object(&data).unwrap();

    let r = old.login(UserType::User, Some(&AuthPin::new("5555".into())));
    assert_eq!(rv(r), cryptoki::error::RvError::TokenNotRecognized);
    assert_eq!(rv(old.create_object(&data)), cryptoki::error::RvError::TokenNotRecognized);
    assert!(old.find_objects(&[Attribute::Token(true)]).unwrap().is_empty(), "the new token's objects");
    let fresh = a.open_rw_session(slot).unwrap();
    assert_eq!(fresh.find_objects(&[Attribute::Token(true)]).unwrap().len(), 1);
    assert_eq!(a.get_token_info(slot).unwrap().label(), "second");
    // Once this instance has seen the slot's new token, the old token's sessions are closed,
    // as for a token taken out of its slot.
    assert_eq!(rv(old.get_session_info()), cryptoki::error::RvError::SessionHandleInvalid);
    fresh.login(UserType::User, Some(&AuthPin::new("5555".into()))).unwrap();
}

/// Files of the store this process holds open (its database and journal), from /proc.
fn open_store_files(h: &Harness) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&h.token_dir))
        .count()
}

/// C_Finalize while another thread has made calls (each thread keeps a cached reference to
/// the module): that thread's next call is CKR_CRYPTOKI_NOT_INITIALIZED, the store's files
/// are closed at once, and after C_Initialize the thread reaches the new instance, where its
/// old session handle is gone.
#[test]
fn finalize_while_another_thread_has_called() {
    use std::sync::mpsc::channel;
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "finalize").id();
    let raw = h.raw();
    let (to_other, from_main) = channel::<()>();
    let (to_main, from_other) = channel::<CK_RV>();
    // Each side owns the sender it talks on, so a failed assertion on one side ends the other
    // (its receive fails) instead of leaving it waiting.
    let (raw, hr) = (&raw, &h);
    std::thread::scope(move |sc| {
        sc.spawn(move || {
            let mut hs: CK_SESSION_HANDLE = 0;
            let mut info = CK_SESSION_INFO { slotID: 0, state: 0, flags: 0, ulDeviceError: 0 };
            // SAFETY: raw calls with pointers to live locals.
            unsafe {
                let rv = raw.C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut hs);
                to_main.send(rv).unwrap();
                from_main.recv().unwrap();
                to_main.send(raw.C_GetSessionInfo(hs, &mut info)).unwrap();
                from_main.recv().unwrap();
                to_main.send(raw.C_GetSessionInfo(hs, &mut info)).unwrap();
                let mut again: CK_SESSION_HANDLE = 0;
                to_main.send(raw.C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut again)).unwrap();
            }
        });
        assert_eq!(from_other.recv().unwrap(), CKR_OK, "the other thread's session");
        assert!(open_store_files(hr) > 0, "the store is open while initialised");
        // SAFETY: a plain call.
        assert_eq!(unsafe { raw.C_Finalize(null_mut()) }, CKR_OK);
        assert_eq!(open_store_files(hr), 0, "C_Finalize closed the store though a thread still holds the module");
        to_other.send(()).unwrap();
        assert_eq!(from_other.recv().unwrap(), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(hr.raw_init(raw), CKR_OK);
        to_other.send(()).unwrap();
        assert_eq!(
            from_other.recv().unwrap(),
            CKR_SESSION_HANDLE_INVALID,
            "the old session went with the old instance"
        );
        assert_eq!(from_other.recv().unwrap(), CKR_OK, "a new session on the new instance");
    });
    drop(p);
}

#[test]
fn only_pkcs11_symbols_are_exported() {
    let out = run_ok(tool("nm").args(["-D", "--defined-only"]).arg(built_lib()));
    let names: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(names.len() >= 90, "expected every PKCS#11 function, found {}", names.len());
    let leaked: Vec<_> = names.iter().filter(|n| !n.starts_with("C_")).collect();
    assert!(leaked.is_empty(), "non-PKCS#11 symbols exported: {leaked:?}");
    for f in [
        "C_GetFunctionList",
        "C_GetInterfaceList",
        "C_GetInterface",
        "C_Initialize",
        "C_LoginUser",
        "C_SessionCancel",
        "C_EncapsulateKey",
        "C_VerifySignatureFinal",
    ] {
        assert!(names.contains(&f), "{f} not exported");
    }
}

/// The store's files (the database, its WAL and shared-memory index, the change marker) are
/// open with close-on-exec: a program the application starts after C_Initialize and a login
/// inherits none of them (a web server running a CGI script, say, hands it no descriptor of
/// the token store).
#[test]
fn programs_the_application_starts_inherit_no_store_file() {
    let h = Harness::new();
    let p = h.ctx();
    let slot = init_token(&p, "exec");
    let s = user_session(&p, slot);
    let key = s
        .generate_key(
            &cryptoki::mechanism::Mechanism::AesKeyGen,
            &[cryptoki::object::Attribute::Token(true), cryptoki::object::Attribute::ValueLen(32.into())],
        )
        .unwrap();
    assert_ne!(key.handle(), 0);
    let ours = std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|e| std::fs::read_link(e.unwrap().path()).ok());
    let token_dir = h.token_dir.canonicalize().unwrap();
    assert!(ours.into_iter().any(|l| l.starts_with(&token_dir)), "this process has the store open");
    // The child lists its own descriptors (`$$` is the shell that `ls` runs under).
    let out = run_ok(std::process::Command::new("sh").args(["-c", "ls -l /proc/$$/fd/"]));
    assert!(!out.contains(token_dir.to_str().unwrap()), "inherited: {out}");
}
