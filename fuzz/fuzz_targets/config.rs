//! Configuration parsing: oxihsm TOML and softhsm2.conf text. Any input gives a
//! configuration or an error naming the file; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxihsm::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/fuzz/oxihsm.toml");
    match Config::from_toml_str(text, path) {
        Ok(c) => assert!(c.max_pin_failures >= 1 && c.pin_kdf.iterations >= 1),
        Err(e) => assert!(e.to_string().contains("/fuzz/oxihsm.toml"), "{e}"),
    }
    let path = Path::new("/fuzz/softhsm2.conf");
    match Config::from_softhsm_str(text, path) {
        Ok(c) => assert!(!c.token_dir.as_os_str().is_empty()),
        Err(e) => assert!(e.to_string().contains("/fuzz/softhsm2.conf"), "{e}"),
    }
});
