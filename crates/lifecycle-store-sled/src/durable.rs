//! Group commit: concurrent writers share one flush instead of each paying for its own.

use std::sync::atomic::{AtomicU64, Ordering};

use lifecycle_store::StoreError;

/// Counts applied writes and completed flushes. A writer takes a ticket after
/// its write is applied and returns once a flush that started after that has
/// finished. One flush runs at a time; whoever holds the flusher flushes for
/// every write applied so far, so writers that queued behind it usually find
/// their ticket already covered.
#[derive(Debug, Default)]
pub struct GroupFlush {
    applied: AtomicU64,
    flushed: AtomicU64,
    flusher: tokio::sync::Mutex<()>,
}

impl GroupFlush {
    /// Makes the writes applied so far durable, by `flush` (which blocks)
    /// unless a flush that started after them already covered them.
    pub async fn durable<F>(&self, flush: F) -> Result<(), StoreError>
    where
        F: FnOnce() -> Result<(), StoreError> + Send + 'static,
    {
        let ticket = self.applied.fetch_add(1, Ordering::AcqRel) + 1;
        if self.flushed.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let _flusher = self.flusher.lock().await;
        if self.flushed.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let covered = self.applied.load(Ordering::Acquire);
        run_blocking(flush).await?;
        self.flushed.fetch_max(covered, Ordering::AcqRel);
        Ok(())
    }
}

/// Runs a blocking `job` without stalling other tasks: in place on a
/// multi-threaded runtime (cheapest: no hand-off to another thread), on the
/// blocking pool otherwise.
async fn run_blocking<F>(job: F) -> Result<(), StoreError>
where
    F: FnOnce() -> Result<(), StoreError> + Send + 'static,
{
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        return tokio::task::block_in_place(job);
    }
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        Err(join) => Err(StoreError::backend_from(
            format!("the flush task failed: {join}"),
            join,
        )),
    }
}
