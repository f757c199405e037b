//! Output files that replace what was there only once they are complete: written to
//! `<path>.oxihsm-partial`, synced, renamed over `path`, and the rename synced. A command
//! that fails or is killed half way leaves any earlier file at `path` as it was (a partial
//! file is removed on failure; a killed process may leave one behind, never at `path`). Also
//! the directory sync that makes a new or renamed file stay, which `audit archive` uses too.

use crate::Result;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct Output {
    tmp: PathBuf,
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
}

impl Output {
    /// A new output for `path`, created with permission bits `mode` (before the umask).
    pub fn create(path: &Path, mode: u32) -> Result<Output> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".oxihsm-partial");
        let tmp = PathBuf::from(tmp);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        Ok(Output { tmp, path: path.to_path_buf(), w: std::io::BufWriter::new(f) })
    }

    pub fn write(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(|e| format!("{}: {e}", self.tmp.display()))
    }

    /// Puts the complete file in place.
    pub fn finish(mut self) -> Result<()> {
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        self.w.flush().map_err(fail)?;
        self.w.get_ref().sync_all().map_err(fail)?;
        std::fs::rename(&self.tmp, &self.path).map_err(fail)?;
        // The rename itself is durable once the directory is synced.
        sync_dir_of(&self.path)
    }
}

/// Syncs the directory that holds `path`, so that a file created or renamed there stays.
pub fn sync_dir_of(path: &Path) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| format!("{}: {e}", dir.display()))
}

impl Drop for Output {
    fn drop(&mut self) {
        // After a successful rename there is nothing left to remove.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
