//! General-purpose functions (PKCS#11 3.2 §5.4) and the interface functions: C_Initialize,
//! C_Finalize, C_GetInfo, C_GetFunctionList, C_GetInterfaceList, C_GetInterface, plus the
//! legacy parallel-function stubs and C_WaitForSlotEvent.

use super::{
    FORKED, InitLock, MODULE, entry, forget_cached, forget_inherited, guard, log, out, padded, register_fork_handler,
};
use super::{FUNCTION_LIST_2_40, FUNCTION_LIST_3_0, FUNCTION_LIST_3_2};
use crate::config::Config;
use crate::error::Error;
use crate::module::Module;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

/// §5.4 C_Initialize: accepts NULL, CKF_OS_LOCKING_OK and mutex callbacks (oxihsm always
/// uses its own locks); a second call is CKR_CRYPTOKI_ALREADY_INITIALIZED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Initialize(p_init_args: *mut c_void) -> CK_RV {
    guard(|| {
        // SAFETY: a non-NULL argument points to a CK_C_INITIALIZE_ARGS (§5.4).
        if let Some(args) = unsafe { p_init_args.cast::<CK_C_INITIALIZE_ARGS>().as_ref() } {
            if !args.pReserved.is_null() {
                return Err(Error::ArgumentsBad);
            }
            let set = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if set.iter().any(|&b| b != set[0]) {
                return Err(Error::ArgumentsBad);
            }
        }
        register_fork_handler();
        let _lock = InitLock::take();
        forget_inherited();
        if MODULE.load().is_some() {
            return Err(Error::CryptokiAlreadyInitialized);
        }
        // Reading the configuration and making the module take more stack than a small
        // thread has (crate::stack).
        let module = crate::stack::deep(|| {
            let config = Config::from_env().map_err(|e| {
                log(&e.to_string());
                Error::Internal("C_Initialize failed: configuration".into())
            })?;
            super::set_log_level(config.log_level);
            for w in &config.warnings {
                super::warn(w);
            }
            Module::new(config).map(Arc::new).map_err(|e| {
                log(&format!("cannot open the token store: {e}"));
                Error::Internal("C_Initialize failed: store".into())
            })
        })?;
        MODULE.store(Some(module));
        Ok(())
    })
}

/// §5.4 C_Finalize. In a forked child it forgets the inherited state safely.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_Finalize(p_reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let _lock = InitLock::take();
        if FORKED.load(Ordering::Acquire) {
            forget_inherited();
            return Err(Error::CryptokiNotInitialized);
        }
        let m = MODULE.swap(None).ok_or(Error::CryptokiNotInitialized)?;
        m.shutdown();
        drop(m);
        forget_cached();
        Ok(())
    })
}

fn get_info(p_info: *mut CK_INFO, version: CK_VERSION) -> CK_RV {
    entry(|_| {
        // SAFETY: caller passes NULL or a valid CK_INFO.
        let info = unsafe { out(p_info) }?;
        *info = CK_INFO {
            cryptokiVersion: version,
            manufacturerID: padded(crate::token::MANUFACTURER),
            flags: 0,
            libraryDescription: padded(library_description()),
            libraryVersion: library_version(),
        };
        Ok(())
    })
}

/// CK_INFO's library description: a build on AWS-LC's FIPS module says so (pkcs11-tool -I,
/// p11-kit list-modules and the like show it), so that a deployment can check which it loaded.
fn library_description() -> &'static str {
    if crate::crypto::fips_mode() { "oxihsm PKCS#11 token (FIPS mode)" } else { "oxihsm PKCS#11 software token" }
}

pub(crate) fn library_version() -> CK_VERSION {
    CK_VERSION {
        major: env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0),
        minor: env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0),
    }
}

/// §5.4 C_GetInfo through the 2.40 interface (and the exported symbol).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInfo(p_info: *mut CK_INFO) -> CK_RV {
    get_info(p_info, CK_VERSION { major: 2, minor: 40 })
}

/// C_GetInfo of the 3.0 interface.
pub unsafe extern "C" fn C_GetInfo_v3_0(p_info: *mut CK_INFO) -> CK_RV {
    get_info(p_info, CK_VERSION { major: 3, minor: 0 })
}

/// C_GetInfo of the 3.2 interface.
pub unsafe extern "C" fn C_GetInfo_v3_2(p_info: *mut CK_INFO) -> CK_RV {
    get_info(p_info, CK_VERSION { major: 3, minor: 2 })
}

/// §5.4 C_GetFunctionList: the 2.40 table. Works before C_Initialize.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(pp_function_list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        // SAFETY: caller passes NULL or a valid pointer to a pointer.
        let p = unsafe { out(pp_function_list) }?;
        *p = (&raw const FUNCTION_LIST_2_40).cast_mut();
        Ok(())
    })
}

/// The interfaces offered, newest first. The tables are static and never written through
/// these pointers; the name is a static NUL-terminated string.
struct Interfaces([CK_INTERFACE; 3]);

// SAFETY: the raw pointers in the interfaces point to immutable statics.
unsafe impl Sync for Interfaces {}
// SAFETY: as above.
unsafe impl Send for Interfaces {}

static INTERFACE_NAME: &[u8] = b"PKCS 11\0";

static INTERFACES: LazyLock<Interfaces> = LazyLock::new(|| {
    let name = INTERFACE_NAME.as_ptr().cast_mut();
    let iface = |list: *const c_void| CK_INTERFACE { pInterfaceName: name, pFunctionList: list.cast_mut(), flags: 0 };
    Interfaces([
        iface((&raw const FUNCTION_LIST_3_2).cast()),
        iface((&raw const FUNCTION_LIST_3_0).cast()),
        iface((&raw const FUNCTION_LIST_2_40).cast()),
    ])
});

/// §5.4 C_GetInterfaceList.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterfaceList(p_list: *mut CK_INTERFACE, pul_count: *mut CK_ULONG) -> CK_RV {
    guard(|| {
        // SAFETY: caller passes NULL or a valid CK_ULONG.
        let count = unsafe { out(pul_count) }?;
        let all = &INTERFACES.0;
        if p_list.is_null() {
            *count = all.len() as CK_ULONG;
            return Ok(());
        }
        if (*count as usize) < all.len() {
            *count = all.len() as CK_ULONG;
            return Err(Error::BufferTooSmall);
        }
        // SAFETY: the caller's buffer holds *count >= all.len() interfaces.
        let dst = unsafe { super::slice_mut(p_list, all.len() as CK_ULONG) }?;
        for (d, s) in dst.iter_mut().zip(all) {
            *d = CK_INTERFACE { pInterfaceName: s.pInterfaceName, pFunctionList: s.pFunctionList, flags: s.flags };
        }
        *count = all.len() as CK_ULONG;
        Ok(())
    })
}

/// §5.4 C_GetInterface: by name ("PKCS 11" or NULL), version (or NULL for the newest) and
/// required flags. No match is CKR_ARGUMENTS_BAD.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetInterface(
    p_name: *mut CK_UTF8CHAR,
    p_version: *mut CK_VERSION,
    pp_interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard(|| {
        // SAFETY: caller passes NULL or valid pointers.
        let dst = unsafe { out(pp_interface) }?;
        let name_ok = if p_name.is_null() {
            true
        } else {
            // SAFETY: a non-NULL name is a NUL-terminated string (§5.4).
            let name = unsafe { std::ffi::CStr::from_ptr(p_name.cast()) };
            name.to_bytes_with_nul() == INTERFACE_NAME
        };
        // SAFETY: NULL or a valid CK_VERSION.
        let version = unsafe { p_version.as_ref() }.map(|v| (v.major, v.minor));
        let found = INTERFACES.0.iter().find(|i| {
            // SAFETY: every pFunctionList in INTERFACES starts with a CK_VERSION.
            let v = unsafe { &*i.pFunctionList.cast::<CK_VERSION>() };
            name_ok && version.is_none_or(|w| w == (v.major, v.minor)) && i.flags & flags == flags
        });
        let found = found.ok_or(Error::ArgumentsBad)?;
        *dst = std::ptr::from_ref(found).cast_mut();
        Ok(())
    })
}

/// §5.5 C_WaitForSlotEvent: tokens are not removable, so no slot event ever happens: with
/// CKF_DONT_BLOCK the answer is CKR_NO_EVENT; waiting (which would never end) is not
/// supported.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_WaitForSlotEvent(flags: CK_FLAGS, _slot: *mut CK_SLOT_ID, _reserved: *mut c_void) -> CK_RV {
    entry(|_| Err(if flags & CKF_DONT_BLOCK != 0 { Error::NoEvent } else { Error::FunctionNotSupported }))
}

/// §5.20 C_GetFunctionStatus: legacy, always CKR_FUNCTION_NOT_PARALLEL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionStatus(h_session: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| {
        m.session_info(h_session)?;
        Err(Error::FunctionNotParallel)
    })
}

/// §5.20 C_CancelFunction: legacy, always CKR_FUNCTION_NOT_PARALLEL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_CancelFunction(h_session: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| {
        m.session_info(h_session)?;
        Err(Error::FunctionNotParallel)
    })
}
