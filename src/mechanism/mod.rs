//! The mechanism registry (DESIGN §1): every mechanism oxihsm implements is one entry, added
//! by its family's file. C_GetMechanismList, C_GetMechanismInfo and every CKF_* check read
//! this table; nothing else in the code switches on mechanism numbers.

pub mod digest;

use cryptoki_sys::*;
use std::sync::LazyLock;

/// The shape of a mechanism's parameter, decoded at the ABI boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamShape {
    /// No parameter: pParameter NULL and ulParameterLen 0.
    None,
}

/// A decoded mechanism parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Params {
    None,
}

/// A mechanism as the caller gave it, decoded.
#[derive(Clone, Debug)]
pub struct Mechanism {
    pub ty: CK_MECHANISM_TYPE,
    pub params: Params,
}

/// What a registry entry implements.
#[derive(Clone, Copy)]
pub enum Implementation {
    Digest(&'static aws_lc_rs::digest::Algorithm),
}

/// One registry entry.
#[derive(Clone, Copy)]
pub struct Entry {
    pub ty: CK_MECHANISM_TYPE,
    pub info: CK_MECHANISM_INFO,
    pub params: ParamShape,
    pub implementation: Implementation,
}

/// Collects the entries of every family.
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    pub fn add(&mut self, e: Entry) {
        debug_assert!(
            self.entries.iter().all(|x| x.ty != e.ty),
            "mechanism 0x{:x} registered twice",
            e.ty
        );
        self.entries.push(e);
    }
}

static REGISTRY: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    let mut r = Registry {
        entries: Vec::new(),
    };
    digest::register(&mut r);
    r.entries.sort_by_key(|e| e.ty);
    r.entries
});

/// Every registered mechanism, sorted by type.
pub fn registry() -> &'static [Entry] {
    &REGISTRY
}

/// The entry for `ty`.
pub fn lookup(ty: CK_MECHANISM_TYPE) -> Option<&'static Entry> {
    let r = registry();
    r.binary_search_by_key(&ty, |e| e.ty).ok().map(|i| &r[i])
}
