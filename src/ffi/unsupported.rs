//! The functions oxihsm does not implement: 3.2's asynchronous calls (every operation
//! completes before its call returns, so there is never one to complete, identify or join).
//! Each returns CKR_FUNCTION_NOT_SUPPORTED; when a function gets an implementation it moves
//! to the module of its function group.

use cryptoki_sys::*;

macro_rules! not_supported {
    ($($name:ident($($arg:ty),*);)*) => {$(
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($(_: $arg),*) -> CK_RV {
            CKR_FUNCTION_NOT_SUPPORTED
        }
    )*};
}

not_supported! {
    C_AsyncComplete(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, *mut CK_ASYNC_DATA);
    C_AsyncGetID(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, *mut CK_ULONG);
    C_AsyncJoin(CK_SESSION_HANDLE, *mut CK_UTF8CHAR, CK_ULONG, *mut CK_BYTE, CK_ULONG);
}
