//! Link flags for liboxihsm.so: `-z nodelete` keeps the library mapped after dlclose, because
//! it registers a pthread_atfork handler that must stay callable for the life of the process.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rerun-if-changed=build.rs");
}
