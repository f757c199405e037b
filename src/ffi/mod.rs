//! The C ABI: the only place that touches C pointers (DESIGN §2).
//!
//! Every exported `C_*` goes through `entry` (or `guard` for the few that need no
//! initialised module): panics are caught, the initialisation and fork state is checked,
//! arguments are decoded into owned Rust values, and the engine's [`Error`] becomes a CK_RV.
//! The engine never sees a raw pointer, a CK_ATTRIBUTE or a CK_MECHANISM.
//!
//! The safety contract of every exported function is the PKCS#11 specification's: pointers
//! are NULL or valid for the lengths the caller passes.
#![allow(non_snake_case, clippy::missing_safety_doc)]

/// Template decoding; public for the fuzz targets (fuzz/).
#[doc(hidden)]
pub mod attributes;
pub(crate) mod clock;
mod crypt;
mod digest;
mod dual;
mod general;
mod keys;
/// Mechanism decoding; public for the fuzz targets (fuzz/).
#[doc(hidden)]
pub mod mechanism;
mod message;
mod message_sign;
mod object;
mod session;
/// A word of memory shared between processes (the store's change marker).
pub(crate) mod shared;
mod sign;
mod slot;
mod tables;
mod unsupported;

use crate::error::{Error, Result};
use crate::module::Module;
use arc_swap::ArcSwapOption;
use cryptoki_sys::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

pub use tables::{FUNCTION_LIST_2_40, FUNCTION_LIST_3_0, FUNCTION_LIST_3_2};

/// The process-wide module, set by C_Initialize and cleared by C_Finalize.
static MODULE: ArcSwapOption<Module> = ArcSwapOption::const_empty();
/// Set in a forked child (pthread_atfork): the inherited module must not be used.
static FORKED: AtomicBool = AtomicBool::new(false);
/// Serialises C_Initialize and C_Finalize; a spin flag so that a fork cannot leave it held.
static INIT_BUSY: AtomicBool = AtomicBool::new(false);

/// The configured log level (softhsm2.conf `log.level`), as its order: 0 ERROR ... 3 DEBUG.
static LOG_LEVEL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);

pub(crate) fn set_log_level(l: crate::config::LogLevel) {
    LOG_LEVEL.store(l as u8, Ordering::Relaxed);
}

/// Writes an error line (never a secret) to standard error.
pub(crate) fn log(msg: &str) {
    eprintln!("oxihsm: {msg}");
}

/// Writes a warning line, unless the log level is ERROR.
pub(crate) fn warn(msg: &str) {
    if LOG_LEVEL.load(Ordering::Relaxed) >= crate::config::LogLevel::Warning as u8 {
        eprintln!("oxihsm: warning: {msg}");
    }
}

/// Maps an engine error to its CK_RV, logging those that are not the caller's fault.
fn rv_of(e: &Error) -> CK_RV {
    if matches!(
        e,
        Error::Device(_) | Error::DeviceMemory(_) | Error::Corrupt(_) | Error::Internal(_) | Error::Config(_)
    ) {
        log(&e.to_string());
    }
    e.rv()
}

/// Runs `f` with panics caught, for functions that need no initialised module.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> CK_RV {
    catch_unwind(AssertUnwindSafe(f)).map_or(CKR_GENERAL_ERROR, rv)
}

/// Runs `f` against the initialised module, with panics caught.
///
/// Every step passes on the call's CK_RV (one register), never its `Result`: an `Error`
/// carries a `String`, so a `Result<()>` is three words in memory, and moving one that was
/// just stored word by word reloads it with wider loads that stall on store forwarding, a
/// few nanoseconds on each call. Always inlined into the C_* function: called, it gets its
/// closure's captures by pointer and copies them with wider loads than the caller stored them
/// with, the same stall (the compiler's choice to inline it or not moved with unrelated
/// changes).
#[inline(always)]
pub(crate) fn entry(f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    let run = || {
        if FORKED.load(Ordering::Acquire) {
            return Error::CryptokiNotInitialized.rv();
        }
        // This thread's cached reference to the module: checking that it is still current is
        // one plain load, with no shared reference count or arc_swap debt slot touched (two
        // locked instructions fewer per call). A nested call, or one while the thread's
        // locals are being torn down, takes a guard instead.
        let mut f = Some(f);
        let cached = CACHE.try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            let f = f.take()?;
            Some(match c.load().as_deref() {
                Some(m) => rv(f(m)),
                None => Error::CryptokiNotInitialized.rv(),
            })
        });
        if let Ok(Some(rv)) = cached {
            return rv;
        }
        let Some(f) = f else { return rv_of(&Error::Internal("module entry".into())) };
        // A guard, not an Arc clone: no shared reference count to bounce between threads.
        let m = MODULE.load();
        match m.as_deref() {
            Some(m) => rv(f(m)),
            None => Error::CryptokiNotInitialized.rv(),
        }
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(CKR_GENERAL_ERROR)
}

/// The CK_RV of a call's result.
#[inline(always)]
fn rv(r: Result<()>) -> CK_RV {
    match r {
        Ok(()) => CKR_OK,
        Err(e) => rv_of(&e),
    }
}

type ModuleCache = arc_swap::cache::Cache<&'static ArcSwapOption<Module>, Option<std::sync::Arc<Module>>>;

thread_local! {
    /// Each thread's cached reference to the module (see [`entry`]). A module a thread has
    /// cached stays allocated until that thread's next call or its exit; C_Finalize ends
    /// its sessions and logins first ([`Module::shutdown`]), so only an empty shell waits.
    static CACHE: std::cell::RefCell<ModuleCache> = std::cell::RefCell::new(arc_swap::cache::Cache::new(&MODULE));
}

/// Lets this thread's cached module go (after C_Finalize, so that it is freed at once when
/// no other thread holds it).
fn forget_cached() {
    let _ = CACHE.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.load();
        }
    });
}

/// As [`entry`], for a call the audit trail records (DESIGN §8): names the call for the
/// engine's records, and records a failure on the session `h` (a wrong PIN is recorded where
/// it is checked).
pub(crate) fn audited(function: &'static str, h: CK_SESSION_HANDLE, f: impl FnOnce(&Module) -> Result<()>) -> CK_RV {
    let _call = crate::module::enter_call(function);
    entry(|m| {
        let r = f(m);
        if let Err(e) = &r
            && !matches!(e, Error::PinIncorrect | Error::PinLocked | Error::BufferTooSmall)
        {
            m.audit_failure(h, e.rv());
        }
        r
    })
}

extern "C" fn after_fork_in_child() {
    FORKED.store(true, Ordering::Release);
    INIT_BUSY.store(false, Ordering::Release);
}

fn register_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only stores to two atomics, which is
        // async-signal-safe as a fork child handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
}

struct InitLock;

impl InitLock {
    fn take() -> InitLock {
        while INIT_BUSY.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::thread::yield_now();
        }
        InitLock
    }
}

impl Drop for InitLock {
    fn drop(&mut self) {
        INIT_BUSY.store(false, Ordering::Release);
    }
}

/// In a forked child, forgets the parent's module without running its destructors (its
/// locks may have been held by threads that do not exist here), after closing its store
/// connection when that is safe (Module::release_store_after_fork).
fn forget_inherited() {
    if FORKED.swap(false, Ordering::AcqRel) {
        let inherited = MODULE.swap(None);
        if let Some(m) = &inherited
            && !m.release_store_after_fork()
        {
            warn("forked child: the parent's store connection was in use at the fork and is left open");
        }
        std::mem::forget(inherited);
    }
}

// ---- pointer helpers: the only readers of C memory ----

/// No buffer of a process ends above this address: Linux gives user space at most 2^56 bytes
/// of address space on x86_64 (5-level paging) and less on aarch64; elsewhere a slice may
/// reach isize::MAX.
const USER_SPACE_END: usize =
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) { 1 << 57 } else { isize::MAX as usize };

/// Whether `n` elements of `T` at `p` could be a caller's buffer at all: a length that would
/// run past the end of the address space (a hostile or corrupt CK_ULONG, near 2^63 say) is
/// refused before a slice is formed or anything is copied out of it.
fn plausible<T>(p: *const T, n: usize) -> bool {
    n.checked_mul(size_of::<T>())
        .and_then(|bytes| (p as usize).checked_add(bytes))
        .is_some_and(|end| end <= USER_SPACE_END && end <= isize::MAX as usize)
}

/// The room the caller gives for output at `buf`: `None` for a size query (`buf` NULL), else
/// `len` bytes, refused with CKR_ARGUMENTS_BAD when no buffer could be that long
/// ([`plausible`]), whether or not the output is then written straight into it.
pub(crate) fn capacity(buf: *const CK_BYTE, len: CK_ULONG) -> Result<Option<usize>> {
    if buf.is_null() {
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| Error::ArgumentsBad)?;
    if plausible(buf, n) { Ok(Some(n)) } else { Err(Error::ArgumentsBad) }
}

/// A slice of `n` elements at `p`; NULL is allowed when `n` is 0.
///
/// # Safety
/// `p` is NULL or valid for reads of `n` elements for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, n: CK_ULONG) -> Result<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let n = usize::try_from(n).map_err(|_| Error::ArgumentsBad)?;
    if !plausible(p, n) {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: `p` is non-NULL and, by the caller's contract, valid for `n` elements; the
    // buffer ends inside the address space and its size fits in isize.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A mutable slice of `n` elements at `p`, which must not be NULL unless `n` is 0.
///
/// # Safety
/// `p` is NULL or valid for writes of `n` elements for `'a`.
pub(crate) unsafe fn slice_mut<'a, T>(p: *mut T, n: CK_ULONG) -> Result<&'a mut [T]> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let n = usize::try_from(n).map_err(|_| Error::ArgumentsBad)?;
    if !plausible(p.cast_const(), n) {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: as in `slice`, for writes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// The value behind an output pointer; NULL is CKR_ARGUMENTS_BAD.
///
/// # Safety
/// `p` is NULL or valid for writes of one `T` for `'a`.
pub(crate) unsafe fn out<'a, T>(p: *mut T) -> Result<&'a mut T> {
    // SAFETY: by the caller's contract, non-NULL `p` is valid and properly aligned.
    unsafe { p.as_mut() }.ok_or(Error::ArgumentsBad)
}

/// The output convention of PKCS#11 §5.2 for a byte string: with `buf` NULL, report the
/// length `needed`; with a short buffer, report it and fail with CKR_BUFFER_TOO_SMALL
/// (the operation stays active); otherwise call `produce` and copy its result.
///
/// # Safety
/// `len` is NULL or valid; `buf` is NULL or valid for `*len` bytes.
pub(crate) unsafe fn produce(
    buf: *mut CK_BYTE,
    len: *mut CK_ULONG,
    needed: usize,
    produce: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<()> {
    // SAFETY: caller's contract.
    let len = unsafe { out(len) }?;
    if buf.is_null() {
        *len = needed as CK_ULONG;
        return Ok(());
    }
    if (*len as usize) < needed {
        *len = needed as CK_ULONG;
        return Err(Error::BufferTooSmall);
    }
    let data = produce()?;
    // SAFETY: `buf` is valid for `*len` >= needed >= data.len() bytes (produce never
    // returns more than it announced).
    let dst = unsafe { slice_mut(buf, data.len() as CK_ULONG) }?;
    dst.copy_from_slice(&data);
    *len = data.len() as CK_ULONG;
    Ok(())
}

/// Copies `s` into a blank-padded fixed-size field.
pub(crate) fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut a = [b' '; N];
    let mut n = s.len().min(N);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    a[..n].copy_from_slice(&s.as_bytes()[..n]);
    a
}

/// The output convention for arrays (slot lists, mechanism lists): with `p` NULL report the
/// count; with a short array report it and fail with CKR_BUFFER_TOO_SMALL; else copy.
///
/// # Safety
/// `count` is NULL or valid; `p` is NULL or valid for `*count` elements.
pub(crate) unsafe fn produce_array<T: Copy>(p: *mut T, count: *mut CK_ULONG, items: &[T]) -> Result<()> {
    // SAFETY: caller's contract.
    let count = unsafe { out(count) }?;
    if p.is_null() {
        *count = items.len() as CK_ULONG;
        return Ok(());
    }
    if (*count as usize) < items.len() {
        *count = items.len() as CK_ULONG;
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: the caller's array holds *count >= items.len() elements.
    unsafe { slice_mut(p, items.len() as CK_ULONG) }?.copy_from_slice(items);
    *count = items.len() as CK_ULONG;
    Ok(())
}

/// Writes an engine [`Output`](crate::mechanism::ops::Output) by the conventions of §5.2.
///
/// # Safety
/// `buf` is NULL or valid for `*len` bytes (the capacity the engine was told).
pub(crate) unsafe fn write_output(
    buf: *mut CK_BYTE,
    len: &mut CK_ULONG,
    o: crate::mechanism::ops::Output,
) -> Result<()> {
    use crate::mechanism::ops::Output;
    match o {
        Output::Length(n) => {
            *len = n as CK_ULONG;
            Ok(())
        }
        Output::TooSmall(n) => {
            *len = n as CK_ULONG;
            Err(Error::BufferTooSmall)
        }
        Output::Data(d) => {
            // SAFETY: the engine produced Data only because `*len` >= d.len().
            unsafe { slice_mut(buf, d.len() as CK_ULONG) }?.copy_from_slice(&d);
            *len = d.len() as CK_ULONG;
            Ok(())
        }
        Output::Written(n) => {
            *len = n as CK_ULONG;
            Ok(())
        }
    }
}

/// Whether an error ends the active operation (§5.2: all but a short buffer, and those
/// that find no operation to end or refuse a second init while one runs).
pub(crate) fn ends_operation(e: &Error) -> bool {
    !matches!(
        e,
        Error::BufferTooSmall | Error::OperationNotInitialized | Error::OperationActive | Error::SessionHandleInvalid
    )
}

#[cfg(test)]
mod tests {
    use super::padded;

    /// Fixed-size text fields (token and slot info) are blank-padded, and a value too long
    /// for one is cut at a character boundary, never inside a UTF-8 sequence.
    #[test]
    fn padded_fields_cut_at_a_character_boundary() {
        assert_eq!(&padded::<6>("abc"), b"abc   ");
        assert_eq!(&padded::<3>("abcdef"), b"abc");
        assert_eq!(&padded::<4>("abc\u{e9}"), b"abc ", "the two-byte \u{e9} does not fit");
        assert_eq!(&padded::<5>("abc\u{e9}"), "abc\u{e9}".as_bytes());
        assert_eq!(&padded::<3>("\u{20ac}x"), "\u{20ac}".as_bytes());
        assert_eq!(&padded::<2>("\u{20ac}"), b"  ");
    }
}
