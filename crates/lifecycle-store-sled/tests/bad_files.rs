//! Opening what is not a healthy store gives its own clear error, never a
//! panic and never a silent reset.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    dec, Actor, AuditEvent, AuditEventKind, Decimal, ModelCapabilities, ModelCostInfo, ModelId,
    ModelVersion, Version,
};
use lifecycle_store::{AuditQuery, Commit, Store, StoreError};
use lifecycle_store_sled::SledStore;

/// A path for one test's store, not created yet, in a temporary directory
/// removed when the test ends.
struct Scratch {
    store: PathBuf,
    _removed_on_drop: tempfile::TempDir,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.store
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.store
    }
}

fn scratch(name: &str) -> Scratch {
    let prefix = format!("lifecycle-bad-files-{name}-");
    let tmp = tempfile::Builder::new().prefix(&prefix).tempdir().unwrap();
    Scratch {
        store: tmp.path().join("store"),
        _removed_on_drop: tmp,
    }
}

/// A store at `dir` holding `models` models, one commit (with an audit entry) each.
async fn populated(dir: &Path, models: usize) {
    let store = SledStore::open(dir).unwrap();
    let now = DateTime::<Utc>::from(std::time::SystemTime::UNIX_EPOCH);
    for i in 0..models {
        let model = ModelId::new(format!("model-{i}")).unwrap();
        let record = ModelVersion::new(
            model.clone(),
            Version::new(1, 0, 0),
            "openai",
            ModelCapabilities::new(8_192, 1_024),
            ModelCostInfo::usd(dec!(0.01), dec!(0.02)),
            now,
        );
        let event = AuditEvent::new(
            AuditEventKind::ModelRegistered,
            Actor::new("test").unwrap(),
            "registered",
            now,
        )
        .for_version(model.clone(), Version::new(1, 0, 0));
        store
            .commit(Commit::for_model(model, 0).put(record).audit(event))
            .await
            .unwrap();
    }
}

/// Opens `dir`, expecting an error; returns it after checking that it names
/// the path and that every file below `dir` is byte for byte as it was.
fn open_error(dir: &Path) -> StoreError {
    let before = contents(dir);
    let err = match SledStore::open(dir) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(
        before == contents(dir),
        "a refused open changed the files of {}",
        dir.display()
    );
    err
}

/// Every file below `dir` (or `dir` itself, if it is a file) with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.exists() {
            files.insert(path.clone(), fs::read(&path).unwrap());
        }
    }
    files
}

#[tokio::test]
async fn a_new_directory_is_created_owner_only_and_reopens_with_its_data() {
    let root = scratch("new");
    let dir = root.join("nested");
    populated(&dir, 3).await;
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let store = SledStore::open(&dir).unwrap();
    assert_eq!(store.models().await.unwrap().len(), 3);
    assert_eq!(store.audit(&AuditQuery::all()).await.unwrap().len(), 3);
    assert!(store.size_on_disk().unwrap() > 0);
}

#[tokio::test]
async fn a_second_handle_is_refused_as_in_use() {
    let dir = scratch("in-use");
    populated(&dir, 1).await;
    let _first = SledStore::open(&dir).unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[tokio::test]
async fn garbage_files_are_reported_corrupted() {
    let dir = scratch("garbage");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("db"), vec![0xAB; 100_000]).unwrap();
    fs::write(dir.join("conf"), b"not a sled config").unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::Corrupted { .. }), "{err}");
}

#[tokio::test]
async fn a_truncated_store_is_reported_instead_of_silently_losing_commits() {
    let dir = scratch("truncated");
    populated(&dir, 200).await;
    let db = dir.join("db");
    let len = fs::metadata(&db).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::Corrupted { .. }), "{err}");
    assert!(
        err.to_string().contains("200 commits were acknowledged"),
        "{err}"
    );
}

#[tokio::test]
async fn damaged_bytes_are_reported_instead_of_silently_losing_commits() {
    let dir = scratch("flipped");
    populated(&dir, 200).await;
    let mut bytes = fs::read(dir.join("db")).unwrap();
    for b in bytes.iter_mut().skip(1000).step_by(97) {
        *b ^= 0x5A;
    }
    fs::write(dir.join("db"), bytes).unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::Corrupted { .. }), "{err}");
}

#[tokio::test]
async fn a_store_of_a_future_format_is_refused() {
    let dir = scratch("future");
    populated(&dir, 1).await;
    {
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", "lifecycle-store-sled/999")
            .unwrap();
        db.flush().unwrap();
    }
    let err = open_error(&dir);
    match &err {
        StoreError::UnsupportedFormat {
            found, supported, ..
        } => {
            assert_eq!(found, "lifecycle-store-sled/999");
            assert_eq!(
                supported,
                &format!("lifecycle-store-sled/{}", lifecycle_store_sled::FORMAT)
            );
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("use a newer lifecycle"), "{err}");
}

#[tokio::test]
async fn a_foreign_sled_database_is_not_a_store() {
    let dir = scratch("foreign-sled");
    {
        let db = sled::open(&dir).unwrap();
        db.insert("someone", "else's data").unwrap();
        db.flush().unwrap();
    }
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("without a lifecycle format marker"),
        "{err}"
    );
}

#[tokio::test]
async fn a_directory_of_other_files_is_not_a_store_and_is_left_alone() {
    let dir = scratch("other-files");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "nothing was written there");
}

#[tokio::test]
async fn a_file_path_is_not_a_store() {
    let dir = scratch("file");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("store");
    fs::write(&file, "x").unwrap();
    let err = open_error(&file);
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(
        err.to_string().contains("is a file, not a directory"),
        "{err}"
    );
}

#[tokio::test]
async fn a_read_only_directory_is_refused() {
    let dir = scratch("read-only");
    populated(&dir, 1).await;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
    let err = open_error(&dir);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[tokio::test]
async fn a_damaged_watermark_is_reported() {
    let dir = scratch("watermark");
    populated(&dir, 2).await;
    fs::write(dir.join("acknowledged-commits"), "garbage").unwrap();
    let err = open_error(&dir);
    assert!(matches!(err, StoreError::Corrupted { .. }), "{err}");
}

#[tokio::test]
async fn a_store_of_the_previous_format_opens_and_is_marked_current() {
    let dir = scratch("previous");
    populated(&dir, 3).await;
    {
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", "lifecycle-store-sled/1")
            .unwrap();
        db.flush().unwrap();
    }
    {
        let store = SledStore::open(&dir).unwrap();
        assert_eq!(store.models().await.unwrap().len(), 3);
    }
    let db = sled::open(&dir).unwrap();
    let marker = db
        .open_tree("meta")
        .unwrap()
        .get("format")
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&marker),
        format!("lifecycle-store-sled/{}", lifecycle_store_sled::FORMAT)
    );
}
