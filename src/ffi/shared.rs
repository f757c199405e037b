//! A 64-bit word shared between processes through a mapping of a file (the store's change
//! marker, `store::changes`): a load or a store is one atomic memory access, no system call.
//! The C side here is the operating system's: `mmap` and `munmap`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The first eight bytes of a file, mapped shared.
#[derive(Debug)]
pub struct SharedWord {
    word: NonNull<AtomicU64>,
    writable: bool,
}

// SAFETY: the mapping belongs to this value alone and stays valid until it is dropped; every
// access to it is atomic, from any thread.
unsafe impl Send for SharedWord {}
// SAFETY: as above: `load` and `store` are atomic operations on the mapped word.
unsafe impl Sync for SharedWord {}

impl SharedWord {
    /// Maps the first eight bytes of `file`, which must be at least that long; writable
    /// when `writable` (and the file was opened for writing).
    pub fn map(file: &File, writable: bool) -> std::io::Result<SharedWord> {
        if file.metadata()?.len() < 8 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "shorter than 8 bytes"));
        }
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        // SAFETY: a new shared mapping of eight bytes of an open file descriptor at offset 0;
        // nothing else in this process is at the address the kernel picks. The mapping keeps
        // the file alive after the descriptor is closed.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), 8, prot, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let word = NonNull::new(p.cast::<AtomicU64>()).ok_or_else(std::io::Error::last_os_error)?;
        Ok(SharedWord { word, writable })
    }

    fn atomic(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned (so aligned for a u64), eight bytes of it lie
        // within the file (checked when mapped), and it lives as long as `self`. Another
        // process writing it only ever does so with the same atomic 8-byte stores.
        unsafe { self.word.as_ref() }
    }

    /// The word's current value.
    pub fn load(&self) -> u64 {
        self.atomic().load(Ordering::Acquire)
    }

    /// Sets the word; false when the mapping is read-only.
    pub fn store(&self, v: u64) -> bool {
        if self.writable {
            self.atomic().store(v, Ordering::Release);
        }
        self.writable
    }
}

impl Drop for SharedWord {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of eight bytes, unmapped once; no reference to
        // it outlives `self`.
        unsafe { libc::munmap(self.word.as_ptr().cast(), 8) };
    }
}

#[cfg(test)]
mod tests {
    use super::SharedWord;

    /// How many mappings of `path` the process has.
    fn mappings_of(path: &std::path::Path) -> usize {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().filter(|l| l.ends_with(path.to_str().unwrap())).count()
    }

    #[test]
    fn a_word_is_shared_and_unmapped_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marker");
        std::fs::write(&path, 7u64.to_ne_bytes()).unwrap();
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let (a, b) = (SharedWord::map(&file, true).unwrap(), SharedWord::map(&file, false).unwrap());
        assert_eq!((a.load(), b.load()), (7, 7));
        assert!(a.store(9) && !b.store(10));
        assert_eq!(b.load(), 9, "one word, two mappings");
        assert_eq!(mappings_of(&path), 2);
        drop((a, b));
        assert_eq!(mappings_of(&path), 0, "dropping unmaps");
        assert_eq!(std::fs::read(&path).unwrap(), 9u64.to_ne_bytes());
        // A file shorter than the word is refused (touching the mapping past its end would
        // be SIGBUS); a longer one is mapped.
        std::fs::write(&path, [1u8; 7]).unwrap();
        assert!(SharedWord::map(&std::fs::File::open(&path).unwrap(), false).is_err());
        std::fs::write(&path, [1u8; 9]).unwrap();
        assert_eq!(
            SharedWord::map(&std::fs::File::open(&path).unwrap(), false).unwrap().load(),
            u64::from_ne_bytes([1; 8])
        );
    }
}
