//! Secret byte strings.

use zeroize::{Zeroize, Zeroizing};

/// A byte string zeroized when dropped (attribute values, buffered operation input).
///
/// Not `Zeroizing<Vec<u8>>`: that also wipes a never-allocated vector, through zero-length
/// memsets of its dangling pointer, and glibc 2.36's AVX-512 memset turns each into a masked
/// store to an unmapped page, which costs a fault-suppression assist. An object has several
/// empty attributes (a tenth of making and destroying a key went there), and most operations
/// an input buffer that single-part calls leave empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(Vec<u8>);

impl Bytes {
    pub fn new(v: Vec<u8>) -> Bytes {
        Bytes(v)
    }

    /// Hands the bytes over unwiped: for output the caller asked for (a signature, a MAC).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Bytes {
    /// Zeroes the bytes and the spare capacity, and empties the vector (keeping its
    /// allocation). A vector that never allocated has nothing to zero.
    pub fn wipe(&mut self) {
        if self.0.capacity() != 0 {
            self.0.zeroize();
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// A secret handed in as a mechanism parameter (a PBKDF2 password): zeroized when dropped,
/// and its Debug output shows only its length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hidden(pub Bytes);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hidden({} bytes)", self.0.len())
    }
}

impl From<Zeroizing<Vec<u8>>> for Bytes {
    fn from(mut z: Zeroizing<Vec<u8>>) -> Bytes {
        // The moved-out vector is wiped by the Bytes; the empty one left behind has nothing
        // to wipe.
        Bytes(std::mem::take(&mut *z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_zeroes_and_keeps_the_allocation() {
        let mut b = Bytes::new(Vec::with_capacity(16));
        b.extend_from_slice(b"secret");
        let (p, cap) = (b.as_ptr(), b.capacity());
        b.wipe();
        assert!(b.is_empty());
        assert_eq!((b.as_ptr(), b.capacity()), (p, cap));
        let mut e = Bytes::default();
        e.wipe();
        assert_eq!(e.capacity(), 0);
        assert_eq!(&*Bytes::from(Zeroizing::new(b"x".to_vec())), b"x");
    }
}
