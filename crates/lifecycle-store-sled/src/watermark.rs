//! The acknowledged-commits watermark: a small file beside sled's that lets
//! open tell a complete store from one that lost acknowledged commits.
//!
//! sled recovers a damaged or truncated log by stopping at the first bad
//! record, silently. Every commit increments a counter inside its sled
//! transaction; after each flush the counter's flushed value is written here.
//! On open, a sled counter below the watermark means acknowledged commits are
//! gone, and the store refuses to open instead of serving a silent rollback.
//! The file is written after sled's flush, so it is never ahead of sled's
//! durable state; a write is one small positioned write, no extra fsync.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use lifecycle_store::StoreError;

use crate::open::at;

/// The file's name inside the store directory.
pub const FILE_NAME: &str = "acknowledged-commits";
/// Fixed width, so every write overwrites the whole value in place.
const WIDTH: usize = 20;

/// The open watermark file.
#[derive(Debug)]
pub struct Watermark {
    file: File,
    path: PathBuf,
}

impl Watermark {
    /// Opens (or creates) the file in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::Unusable {
                location: at(&path),
                reason: format!("cannot open the commit watermark: {e}"),
            })?;
        Ok(Self { file, path })
    }

    /// Checks the recorded value against the `committed` count sled holds,
    /// then records that count.
    pub fn check(&self, dir: &Path, committed: u64) -> Result<(), StoreError> {
        match self.read(dir)? {
            Some(acknowledged) if acknowledged > committed => Err(StoreError::Corrupted {
                location: at(dir),
                detail: format!(
                    "{acknowledged} commits were acknowledged but the data holds only {committed}: \
                     files were truncated or damaged"
                ),
            }),
            _ => self.record(committed),
        }
    }

    /// The recorded value; `None` for a new, empty file.
    fn read(&self, dir: &Path) -> Result<Option<u64>, StoreError> {
        let mut text = String::new();
        (&self.file)
            .read_to_string(&mut text)
            .map_err(|e| StoreError::Unusable {
                location: at(&self.path),
                reason: format!("cannot read the commit watermark: {e}"),
            })?;
        if text.is_empty() {
            return Ok(None);
        }
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupted {
                location: at(dir),
                detail: format!("{FILE_NAME} holds {text:?}, not a number"),
            })
    }

    /// Records that `committed` commits are durable.
    pub fn record(&self, committed: u64) -> Result<(), StoreError> {
        let text = format!("{committed:0WIDTH$}\n");
        self.file
            .write_all_at(text.as_bytes(), 0)
            .map_err(|e| StoreError::Unusable {
                location: at(&self.path),
                reason: format!("cannot write the commit watermark: {e}"),
            })
    }
}
