//! Backup files (`lifecycle restore`): restored whole with a verifying chain, or refused leaving the store empty.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use lifecycle::store::{MemoryStore, StoreImage};
use lifecycle::*;

fuzz_target!(|data: &[u8]| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    runtime.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let Ok(manager) = ModelLifecycleManager::builder()
            .store(store.clone())
            .build()
            .await
        else {
            return;
        };
        match manager.restore_backup(data).await {
            Ok(_) => assert!(manager
                .audit_log()
                .verify()
                .await
                .is_ok_and(|v| v.is_intact())),
            Err(_) => assert!(StoreImage::read(&*store)
                .await
                .is_ok_and(|image| image == StoreImage::default())),
        }
    });
});
