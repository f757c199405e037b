//! oxihsm: a PKCS#11 software token.
//!
//! The crate builds `liboxihsm.so` (the C ABI in [`ffi`]) and the engine behind it: the
//! [`module::Module`] with its tokens and sessions ([`token`]), objects and their policy
//! ([`object`]), the mechanism registry ([`mechanism`]), the crypto backend ([`crypto`]),
//! the encrypted store ([`store`]) and configuration ([`config`]). See `DESIGN.md`.
//!
//! `unsafe` is denied everywhere except in `ffi/` (C pointers, and the one shared file
//! mapping in `ffi::shared`) and `crypto/` (the aws-lc-sys calls and memory locking).
#![deny(unsafe_code)]
// CK_ULONG is u64 on this ABI but u32 on others: the casts between it and u64 stay.
#![allow(clippy::unnecessary_cast)]

#[cfg(not(any(feature = "non-fips", feature = "fips")))]
compile_error!("oxihsm needs an AWS-LC: the default features, or `--no-default-features --features fips`");

pub mod config;
#[allow(unsafe_code)]
pub mod crypto;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod hex;
pub mod mechanism;
pub mod migrate;
pub mod module;
pub mod object;
pub mod secret;
pub mod spread;
pub mod stack;
pub mod store;
pub mod token;

pub use error::{Error, Result};
pub use module::Module;
