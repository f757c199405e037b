//! Link flags for liboxihsm.so:
//! - `-z nodelete` keeps the library mapped after dlclose, because it registers a
//!   pthread_atfork handler that must stay callable for the life of the process.
//! - `-Bsymbolic-functions` binds the library's own references to its exported C_* functions
//!   (the function tables C_GetFunctionList and C_GetInterface hand out) to its own
//!   definitions. Without it the dynamic linker resolves them in the process's global scope
//!   first, so another PKCS#11 module there (linked into the program, loaded with
//!   RTLD_GLOBAL or LD_PRELOAD) would fill oxihsm's tables with its functions.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-Bsymbolic-functions");
    println!("cargo:rerun-if-changed=build.rs");
}
