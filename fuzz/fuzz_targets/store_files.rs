//! Store files read back from disk: arbitrary bytes as a sled store's files open as a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("lifecycle-fuzz-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let (conf, db) = data.split_at(data.len().min(64));
    let _ = std::fs::write(dir.join("conf"), conf);
    let _ = std::fs::write(dir.join("db"), db);
    drop(lifecycle::store_sled::SledStore::open(&dir));
    let _ = std::fs::remove_dir_all(&dir);
});
