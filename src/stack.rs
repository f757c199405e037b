//! Room on the caller's stack for the calls that need much of it. Applications call the
//! module from their own threads, and not every thread has glibc's 8 MiB: a musl thread has
//! 128 KiB in all, and programs size their workers' stacks themselves. A call that needs more
//! than such a thread has left would run into its guard page and kill the process.

/// Runs `f` with at least [`DEEP`] bytes of stack: where the calling thread has less left,
/// on a fresh stack of [`FRESH`] bytes made for the call (and unmapped after it), otherwise
/// where it is (the check reads the stack pointer against the thread's limit, found once per
/// thread). Its users:
/// - AWS-LC's ML-DSA and ML-KEM, which keep their polynomial vectors on the stack (ML-DSA-87
///   signing about 110 KiB, its key generation about 80 KiB, ML-KEM-1024 about 25 KiB);
/// - C_Initialize, which reads the configuration and makes the module (whose session table is
///   built on the stack and moved: about 75 KiB in a release build, over 200 KiB in a debug
///   one).
pub fn deep<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(DEEP, FRESH, f)
}

/// The stack [`deep`] makes sure of.
pub const DEEP: usize = 512 * 1024;

/// The stack [`deep`] gives a call made with less.
pub const FRESH: usize = 2 * 1024 * 1024;
