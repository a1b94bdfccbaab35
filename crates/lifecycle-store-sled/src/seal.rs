//! Opening a store that may be damaged without changing it.
//!
//! sled 0.34 has no read-only open: its recovery zeroes the log from the
//! first bad record to the end, intact later records included, before our
//! checks can refuse the store. So a store is opened in place only when its
//! files are exactly as a clean close left them: on close, once sled has
//! let go of its files, the size, modification and change times and inode
//! of each file are written to a seal. When the files no longer match it (a
//! crash, a killed process, an edit, a copy from elsewhere), open first
//! checks a copy in the temporary directory and opens the store itself only
//! if the copy passes; a store that fails is left byte for byte as it was.
//!
//! The change time cannot be set by a user, so any write through the file
//! system breaks the seal. Damage that bypasses it (a disk's own decay) is
//! still found by sled's checksums, but after its recovery has run.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

/// The seal's name inside the store directory.
pub const FILE_NAME: &str = "closed-cleanly";
const TEMPORARY_NAME: &str = "closed-cleanly.new";
/// sled's log, which it locks while the store is open.
const LOG_NAME: &str = "db";

/// Whether the store at `dir` must be checked on a copy before opening: it
/// has a log and its files differ from the seal (or there is none).
pub fn needs_trial(dir: &Path) -> bool {
    if !dir.join(LOG_NAME).exists() {
        return false;
    }
    let sealed = fs::read_to_string(dir.join(FILE_NAME)).ok();
    sealed.is_none() || sealed != fingerprint(dir).ok().map(|(text, _)| text)
}

/// Writes the seal for `dir`, once sled has released its files (it finishes
/// writing on its own threads after the last handle is dropped). Best
/// effort: without a seal the next open only takes longer.
pub fn write(dir: &Path, wait: Duration) {
    let Ok(Some(_lock)) = lock_log(dir, wait) else {
        return;
    };
    let Ok((text, newest)) = fingerprint(dir) else {
        return;
    };
    let temporary = dir.join(TEMPORARY_NAME);
    if write_after(&temporary, &text, newest).is_err()
        || fs::rename(&temporary, dir.join(FILE_NAME)).is_err()
    {
        let _ = fs::remove_file(&temporary);
    }
}

/// Writes `text` to `path` at a change time later than `newest`. File times
/// advance in clock ticks (4 ms here), so a write in the tick of the last
/// one sealed would go unseen: the seal waits for the next tick.
fn write_after(path: &Path, text: &str, newest: (i64, i64)) -> io::Result<()> {
    for _ in 0..100 {
        fs::write(path, text)?;
        let meta = fs::metadata(path)?;
        if (meta.ctime(), meta.ctime_nsec()) > newest {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(io::Error::other("the file clock did not advance"))
}

/// Takes sled's lock on the log, waiting up to `wait` while another handle
/// (or process) still holds it. `None` when it stays held.
pub fn lock_log(dir: &Path, wait: Duration) -> io::Result<Option<File>> {
    let log = File::open(dir.join(LOG_NAME))?;
    let mut waited = Duration::ZERO;
    loop {
        match log.try_lock() {
            Ok(()) => return Ok(Some(log)),
            Err(fs::TryLockError::WouldBlock) if waited < wait => {
                std::thread::sleep(RETRY);
                waited += RETRY;
            }
            Err(fs::TryLockError::WouldBlock) => return Ok(None),
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

const RETRY: Duration = Duration::from_millis(5);

/// Copies every file of the store at `dir` into a new directory under the
/// system's temporary directory (a random name, readable by the owner
/// only: it holds the store's data), removed when the returned guard drops.
pub fn copy_to_temporary(dir: &Path) -> io::Result<TempDir> {
    let copy = tempfile::Builder::new()
        .prefix("lifecycle-open-check-")
        .tempdir()?;
    copy_files(dir, copy.path())?;
    Ok(copy)
}

fn copy_files(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(&target)?;
            copy_files(&entry.path(), &target)?;
        } else if entry.file_name() != FILE_NAME {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// One line per file below `dir` (the seal excepted), sorted by path, and
/// the newest change time among them.
fn fingerprint(dir: &Path) -> io::Result<(String, (i64, i64))> {
    let mut lines = Vec::new();
    let mut newest = (i64::MIN, 0);
    collect(dir, Path::new(""), &mut lines, &mut newest)?;
    lines.sort();
    Ok((lines.concat(), newest))
}

fn collect(
    dir: &Path,
    relative: &Path,
    lines: &mut Vec<String>,
    newest: &mut (i64, i64),
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == FILE_NAME || name == TEMPORARY_NAME {
            continue;
        }
        let meta = entry.metadata()?;
        let path = relative.join(&name);
        if meta.is_dir() {
            collect(&entry.path(), &path, lines, newest)?;
        } else {
            *newest = (*newest).max((meta.ctime(), meta.ctime_nsec()));
            lines.push(format!(
                "{} {} {}.{} {}.{} {}\n",
                path.display(),
                meta.size(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
                meta.ino()
            ));
        }
    }
    Ok(())
}
