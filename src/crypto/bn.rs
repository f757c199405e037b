//! BIGNUMs (AWS-LC's) for the key modules: an owned BIGNUM, big-endian bytes out, and the
//! r || s form of (EC)DSA signatures.

use crate::error::{Error, Result};
#[cfg(feature = "fips")]
use aws_lc_fips_sys as sys;
#[cfg(not(feature = "fips"))]
use aws_lc_sys as sys;
use std::ptr::{NonNull, null_mut};
use zeroize::Zeroizing;

/// An owned BIGNUM, freed (and cleared) on drop.
pub(crate) struct Bn(pub(crate) NonNull<sys::BIGNUM>);

impl Bn {
    pub(crate) fn from_bytes(b: &[u8]) -> Result<Bn> {
        // SAFETY: `b` is valid for its length; a NULL `ret` asks for a new BIGNUM.
        let p = unsafe { sys::BN_bin2bn(b.as_ptr(), b.len(), null_mut()) };
        NonNull::new(p).map(Bn).ok_or(Error::HostMemory)
    }
    pub(crate) fn ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }
    /// Gives the BIGNUM up (to a function that takes ownership).
    pub(crate) fn into_raw(self) -> *mut sys::BIGNUM {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: owned BIGNUM, freed once; BN_clear_free wipes it first.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

/// Big-endian bytes of a BIGNUM (NULL gives None).
pub(crate) fn bn_bytes(bn: *const sys::BIGNUM) -> Option<Zeroizing<Vec<u8>>> {
    if bn.is_null() {
        return None;
    }
    // SAFETY: `bn` is a live BIGNUM owned by a key we hold.
    let n = unsafe { sys::BN_num_bytes(bn) } as usize;
    let mut v = Zeroizing::new(vec![0u8; n]);
    // SAFETY: `v` holds BN_num_bytes(bn) bytes.
    unsafe { sys::BN_bn2bin(bn, v.as_mut_ptr()) };
    Some(v)
}

/// r || s, each padded to `n` bytes.
///
/// # Safety
/// `r` and `s` are live BIGNUMs of at most `n` bytes.
pub(crate) unsafe fn rs_join(r: *const sys::BIGNUM, s: *const sys::BIGNUM, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; 2 * n];
    // SAFETY: the caller's promise; `out` holds n bytes for each.
    unsafe {
        sys::BN_bn2bin_padded(out.as_mut_ptr(), n, r);
        sys::BN_bn2bin_padded(out[n..].as_mut_ptr(), n, s);
    }
    out
}

/// The halves of an r || s signature of `2 * n` bytes (else CKR_SIGNATURE_LEN_RANGE).
pub(crate) fn rs_split(sig: &[u8], n: usize) -> Result<(Bn, Bn)> {
    if sig.len() != 2 * n {
        return Err(Error::SignatureLenRange);
    }
    Ok((Bn::from_bytes(&sig[..n])?, Bn::from_bytes(&sig[n..])?))
}
