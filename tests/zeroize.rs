//! Secrets in memory (issue 9): key material and PINs are zeroized when freed.
//!
//! This test links the module in-process (its C functions, from the rlib) under a global
//! allocator that scans every block as it is freed for two markers: a key value and a user
//! PIN, which the test itself keeps only on its stack. A marker found in a freed block means
//! a copy of a secret was released without being wiped (a plain Vec, a String, or a
//! reallocation that left the old buffer behind).

use cryptoki_sys::*;
use oxihsm::ffi::FUNCTION_LIST_3_0 as F;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const KEY: [u8; 32] = *b"ZEROIZE-CHECK:key-material-0123!";
const PIN: [u8; 12] = *b"PIN:7f3a9c51";

static SCANNING: AtomicBool = AtomicBool::new(false);
static KEY_FOUND: AtomicUsize = AtomicUsize::new(0);
static PIN_FOUND: AtomicUsize = AtomicUsize::new(0);
static LAST_KEY_BLOCK: AtomicUsize = AtomicUsize::new(0);

struct Scanning;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// SAFETY: forwards every request to the system allocator unchanged; `dealloc` only reads the
// block it is given (valid for `layout.size()` bytes) before freeing it, and never allocates.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the trait's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if SCANNING.load(Ordering::Relaxed) && layout.size() >= PIN.len() {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until freed below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if contains(block, &KEY) {
                KEY_FOUND.fetch_add(1, Ordering::Relaxed);
                LAST_KEY_BLOCK.store(layout.size(), Ordering::Relaxed);
            }
            if contains(block, &PIN) {
                PIN_FOUND.fetch_add(1, Ordering::Relaxed);
            }
        }
        // SAFETY: as the trait's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Scanning = Scanning;

fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}: 0x{rv:x}");
}

#[test]
fn secrets_are_wiped_when_freed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("oxihsm.toml");
    std::fs::write(
        &conf,
        format!(
            "token_dir = \"{}\"\n[pin_kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    // SAFETY: this test binary has one test, so no other thread reads the environment.
    unsafe { std::env::set_var("OXIHSM_CONF", &conf) };
    let mut key = KEY;
    let mut pin = PIN;
    // The scanner works: a plain copy of each secret, freed, is seen.
    SCANNING.store(true, Ordering::SeqCst);
    drop(std::hint::black_box(key.to_vec()));
    drop(std::hint::black_box(String::from_utf8(pin.to_vec()).unwrap()));
    SCANNING.store(false, Ordering::SeqCst);
    assert_eq!((KEY_FOUND.swap(0, Ordering::SeqCst), PIN_FOUND.swap(0, Ordering::SeqCst)), (1, 1));
    let so = *b"12345678";
    // SAFETY: every pointer refers to a live local of the length passed.
    unsafe {
        ok(F.C_Initialize.unwrap()(std::ptr::null_mut()), "C_Initialize");
        let label = [b' '; 32];
        ok(F.C_InitToken.unwrap()(0, so.as_ptr().cast_mut(), 8, label.as_ptr().cast_mut()), "C_InitToken");
        let mut s = 0;
        let rw = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        ok(F.C_OpenSession.unwrap()(0, rw, std::ptr::null_mut(), None, &mut s), "C_OpenSession");
        SCANNING.store(true, Ordering::SeqCst);
        ok(F.C_Login.unwrap()(s, CKU_SO, so.as_ptr().cast_mut(), 8), "C_Login SO");
        ok(F.C_InitPIN.unwrap()(s, pin.as_mut_ptr(), pin.len() as CK_ULONG), "C_InitPIN");
        ok(F.C_Logout.unwrap()(s), "C_Logout");
        ok(F.C_Login.unwrap()(s, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG), "C_Login");
        // The master key now in memory is locked against swapping.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let locked_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmLck:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmLck in /proc/self/status");
        assert!(locked_kb > 0, "no memory is mlock()ed after login");

        // A token AES key with a known value, used for encryption and CMAC, then destroyed.
        let (class, kt, t, f) = (CKO_SECRET_KEY, CKK_AES, CK_TRUE, CK_FALSE);
        let mut tmpl = [
            CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw const class).cast_mut().cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_KEY_TYPE, pValue: (&raw const kt).cast_mut().cast(), ulValueLen: 8 },
            CK_ATTRIBUTE { type_: CKA_TOKEN, pValue: (&raw const t).cast_mut().cast(), ulValueLen: 1 },
            CK_ATTRIBUTE { type_: CKA_ENCRYPT, pValue: (&raw const t).cast_mut().cast(), ulValueLen: 1 },
            CK_ATTRIBUTE { type_: CKA_SIGN, pValue: (&raw const t).cast_mut().cast(), ulValueLen: 1 },
            CK_ATTRIBUTE { type_: CKA_EXTRACTABLE, pValue: (&raw const f).cast_mut().cast(), ulValueLen: 1 },
            CK_ATTRIBUTE { type_: CKA_VALUE, pValue: key.as_mut_ptr().cast(), ulValueLen: 32 },
        ];
        let mut k = 0;
        ok(F.C_CreateObject.unwrap()(s, tmpl.as_mut_ptr(), tmpl.len() as CK_ULONG, &mut k), "C_CreateObject");
        let mut data = [7u8; 64];
        let mut out = [0u8; 64];
        let mut n: CK_ULONG = 64;
        let mut m = CK_MECHANISM { mechanism: CKM_AES_ECB, pParameter: std::ptr::null_mut(), ulParameterLen: 0 };
        ok(F.C_EncryptInit.unwrap()(s, &mut m, k), "C_EncryptInit");
        ok(F.C_Encrypt.unwrap()(s, data.as_mut_ptr(), 64, out.as_mut_ptr(), &mut n), "C_Encrypt");
        let mut m = CK_MECHANISM { mechanism: CKM_AES_CMAC, pParameter: std::ptr::null_mut(), ulParameterLen: 0 };
        n = 64;
        ok(F.C_SignInit.unwrap()(s, &mut m, k), "C_SignInit");
        ok(F.C_Sign.unwrap()(s, data.as_mut_ptr(), 64, out.as_mut_ptr(), &mut n), "C_Sign");

        // Log out and back in (the key is loaded again from the store, found under a new
        // handle: the old one ended with the login), change the PIN.
        ok(F.C_Logout.unwrap()(s), "C_Logout");
        ok(F.C_Login.unwrap()(s, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG), "C_Login again");
        let mut found = 0;
        ok(F.C_FindObjectsInit.unwrap()(s, tmpl.as_mut_ptr(), 3), "C_FindObjectsInit");
        ok(F.C_FindObjects.unwrap()(s, &mut found, 1, &mut n), "C_FindObjects");
        assert_eq!(n, 1, "the key is found again");
        ok(F.C_FindObjectsFinal.unwrap()(s), "C_FindObjectsFinal");
        let k = found;
        let mut m = CK_MECHANISM { mechanism: CKM_AES_ECB, pParameter: std::ptr::null_mut(), ulParameterLen: 0 };
        n = 64;
        ok(F.C_EncryptInit.unwrap()(s, &mut m, k), "C_EncryptInit again");
        ok(F.C_Encrypt.unwrap()(s, data.as_mut_ptr(), 64, out.as_mut_ptr(), &mut n), "C_Encrypt again");
        let mut new_pin = *b"new-pin-0000";
        ok(F.C_SetPIN.unwrap()(s, pin.as_mut_ptr(), 12, new_pin.as_mut_ptr(), 12), "C_SetPIN");
        ok(F.C_SetPIN.unwrap()(s, new_pin.as_mut_ptr(), 12, pin.as_mut_ptr(), 12), "C_SetPIN back");
        ok(F.C_DestroyObject.unwrap()(s, k), "C_DestroyObject");
        ok(F.C_Logout.unwrap()(s), "C_Logout");
        ok(F.C_CloseAllSessions.unwrap()(0), "C_CloseAllSessions");
        ok(F.C_Finalize.unwrap()(std::ptr::null_mut()), "C_Finalize");
        SCANNING.store(false, Ordering::SeqCst);
    }
    // The test's own copies live on its stack; wipe them for good measure.
    key.fill(0);
    pin.fill(0);
    assert_eq!(
        KEY_FOUND.load(Ordering::SeqCst),
        0,
        "key material was freed without being zeroized (last block {} bytes)",
        LAST_KEY_BLOCK.load(Ordering::SeqCst)
    );
    assert_eq!(PIN_FOUND.load(Ordering::SeqCst), 0, "a PIN was freed without being zeroized");
}
