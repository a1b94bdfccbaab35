//! Opening a store: the directory, the process lock, the format marker, and
//! telling a damaged or foreign directory from a store.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

use lifecycle_store::StoreError;

/// The format this build writes and reads. Bump on any change to keys or records.
/// 2: metrics records may carry `latencyQuantiles` and `failuresByKind`, and
/// checkpoint states are strings. 3: version records may carry `serving`.
pub const FORMAT: u32 = 3;
/// Older formats this build reads; opening one marks it as `FORMAT`, so an
/// older build then refuses it with a clear message instead of failing on a
/// field it does not know.
const READS: std::ops::RangeInclusive<u32> = 1..=FORMAT;
const FORMAT_PREFIX: &str = "lifecycle-store-sled/";
pub const FORMAT_KEY: &[u8] = b"format";

/// Checks the path and opens sled there, creating the directory (owner-only)
/// if it does not exist.
pub fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let unusable = |reason: String| StoreError::Unusable {
        location: at(path),
        reason,
    };
    match fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => {
            return Err(StoreError::NotAStore {
                location: at(path),
                reason: "it is a file, not a directory; give a directory path".into(),
            })
        }
        Ok(meta) => {
            // Checked by hand: as root, writes to a read-only directory succeed.
            if meta.permissions().mode() & 0o200 == 0 {
                return Err(unusable(
                    "the directory is read-only; make it writable (chmod u+w) or choose another"
                        .into(),
                ));
            }
            check_contents(path)?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| unusable(format!("cannot create the directory: {e}")))?,
        Err(e) => return Err(unusable(e.to_string())),
    }
    let config = sled::Config::new()
        .path(path)
        .mode(sled::Mode::HighThroughput);
    // sled finishes writing on its own threads after a store is dropped and
    // holds the file lock until then: a store being closed (by this process
    // or another) is waited for, up to LOCK_WAIT, before it counts as in use.
    let mut waited = Duration::ZERO;
    loop {
        // sled 0.34 can panic instead of returning an error on some damaged files.
        let opened = match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Ok(db)) => Ok(db),
            Ok(Err(e)) => Err(open_error(path, e)),
            Err(panic) => Err(StoreError::Corrupted {
                location: at(path),
                detail: format!("sled panicked while recovering: {}", panic_text(&*panic)),
            }),
        };
        match opened {
            Err(StoreError::InUse { .. }) if waited < LOCK_WAIT => {
                std::thread::sleep(LOCK_RETRY);
                waited += LOCK_RETRY;
            }
            other => return other,
        }
    }
}

/// How long `open` waits for a store that is being closed.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);
const LOCK_RETRY: Duration = Duration::from_millis(25);

/// A directory that holds files but no sled database is someone else's.
fn check_contents(path: &Path) -> Result<(), StoreError> {
    let entries: Vec<String> = fs::read_dir(path)
        .map_err(|e| StoreError::Unusable {
            location: at(path),
            reason: format!("cannot list the directory: {e}"),
        })?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let is_sled = entries.iter().any(|n| n == "conf" || n == "db");
    if !entries.is_empty() && !is_sled {
        return Err(StoreError::NotAStore {
            location: at(path),
            reason: format!(
                "it holds other files ({}); choose a new or empty directory",
                entries.join(", ")
            ),
        });
    }
    Ok(())
}

/// Checks the format marker; writes it into a new, empty database.
pub fn check_format(path: &Path, db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let marker = meta.get(FORMAT_KEY).map_err(|e| open_error(path, e))?;
    let Some(marker) = marker else {
        let empty = db
            .tree_names()
            .iter()
            .all(|name| db.open_tree(name).is_ok_and(|t| t.is_empty()));
        if !empty {
            return Err(StoreError::NotAStore {
                location: at(path),
                reason: "it is a sled database without a lifecycle format marker".into(),
            });
        }
        let marker = format!("{FORMAT_PREFIX}{FORMAT}");
        meta.insert(FORMAT_KEY, marker.as_bytes())
            .and_then(|_| db.flush())
            .map_err(|e| open_error(path, e))?;
        return Ok(());
    };
    let text = String::from_utf8_lossy(&marker).into_owned();
    let found: Option<u32> = text
        .strip_prefix(FORMAT_PREFIX)
        .and_then(|n| n.parse().ok());
    match found {
        Some(FORMAT) => Ok(()),
        Some(older) if READS.contains(&older) => {
            let marker = format!("{FORMAT_PREFIX}{FORMAT}");
            meta.insert(FORMAT_KEY, marker.as_bytes())
                .and_then(|_| db.flush())
                .map_err(|e| open_error(path, e))?;
            Ok(())
        }
        Some(_) => Err(StoreError::UnsupportedFormat {
            location: at(path),
            found: text,
            supported: format!("{FORMAT_PREFIX}{FORMAT}"),
        }),
        None => Err(StoreError::Corrupted {
            location: at(path),
            detail: format!("the format marker reads {text:?}"),
        }),
    }
}

/// Translates sled's errors at the boundary, naming the path.
/// What a user is told when the disk is full.
const DISK_FULL: &str = "the disk is full (no space left on device); free space and run the command again — what was acknowledged before is kept";

pub fn open_error(path: &Path, error: sled::Error) -> StoreError {
    let location = at(path);
    match error {
        sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
            StoreError::InUse { location }
        }
        sled::Error::Io(e) if e.kind() == ErrorKind::PermissionDenied => StoreError::Unusable {
            location,
            reason: format!("permission denied ({e}); check the directory's owner and mode"),
        },
        sled::Error::Io(e) if e.kind() == ErrorKind::StorageFull || disk_full(&e.to_string()) => {
            StoreError::Unusable {
                location,
                reason: DISK_FULL.into(),
            }
        }
        sled::Error::Io(e) => StoreError::Unusable {
            location,
            reason: e.to_string(),
        },
        sled::Error::Corruption { at, .. } => StoreError::Corrupted {
            location,
            detail: match at {
                Some(at) => format!("sled found damaged data in its log at {at:?}"),
                None => "sled found damaged data in its log".into(),
            },
        },
        // sled reports some I/O failures as text (a bug report carrying the
        // error's debug form): a full disk is still a full disk.
        other if disk_full(&other.to_string()) => StoreError::Unusable {
            location,
            reason: DISK_FULL.into(),
        },
        other => StoreError::Corrupted {
            location,
            detail: other.to_string(),
        },
    }
}

fn disk_full(text: &str) -> bool {
    text.contains("StorageFull") || text.contains("os error 28") || text.contains("No space left")
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "no message".into())
}

/// The same error, naming `to` where it named a path below `from` (an error
/// found on a copy of the store names the store).
pub fn rebase(error: StoreError, from: &Path, to: &Path) -> StoreError {
    let (from, to) = (at(from), at(to));
    let moved = |location: String| match location.strip_prefix(&from) {
        Some(rest) if rest.is_empty() || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            format!("{to}{rest}")
        }
        _ => location,
    };
    match error {
        StoreError::InUse { location } => StoreError::InUse {
            location: moved(location),
        },
        StoreError::Corrupted { location, detail } => StoreError::Corrupted {
            location: moved(location),
            detail,
        },
        StoreError::UnsupportedFormat {
            location,
            found,
            supported,
        } => StoreError::UnsupportedFormat {
            location: moved(location),
            found,
            supported,
        },
        StoreError::NotAStore { location, reason } => StoreError::NotAStore {
            location: moved(location),
            reason,
        },
        StoreError::Unusable { location, reason } => StoreError::Unusable {
            location: moved(location),
            reason,
        },
        other => other,
    }
}

/// How errors name a store's directory.
pub fn at(path: &Path) -> String {
    path.display().to_string()
}
