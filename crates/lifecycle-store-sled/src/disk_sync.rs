//! What sled 0.34's flush leaves undone for power-loss durability.
//!
//! On Linux, `Db::flush` writes each IO buffer and calls `sync_file_range`,
//! which neither flushes the drive's write cache nor persists the file's
//! size; values too large for a log segment go to files under `blobs/` that
//! sled never syncs at all. After each flush this adds what is missing: an
//! `fdatasync` of the log file, and an `fsync` of every new blob file and of
//! the `blobs/` directory.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The files a flush must also sync.
#[derive(Debug)]
pub struct DiskSync {
    log: File,
    blobs: PathBuf,
    synced_blobs: Mutex<HashSet<PathBuf>>,
}

impl DiskSync {
    /// Opens sled's log file in `dir`, and syncs the directory itself so that
    /// the files sled created there are durable too.
    pub fn open(dir: &Path) -> io::Result<Self> {
        File::open(dir)?.sync_all()?;
        Ok(Self {
            log: File::open(dir.join("db"))?,
            blobs: dir.join("blobs"),
            synced_blobs: Mutex::new(HashSet::new()),
        })
    }

    /// Makes what sled flushed durable. Call right after `Db::flush`.
    pub fn sync(&self) -> io::Result<()> {
        self.log.sync_data()?;
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Blobs are rare (values over a quarter of a segment), so the listing
        // is short; sled deletes blobs it no longer needs, even meanwhile.
        let present: HashSet<PathBuf> = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(e),
        };
        let mut new_blobs = false;
        for path in present.difference(&synced) {
            match File::open(path).and_then(|f| f.sync_all()) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
            new_blobs = true;
        }
        *synced = present;
        if new_blobs {
            File::open(&self.blobs)?.sync_all()?;
        }
        Ok(())
    }
}
