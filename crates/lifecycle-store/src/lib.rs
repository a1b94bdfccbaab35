//! The storage port of lifecycle, its in-memory adapter, and the conformance
//! suite every adapter passes.
//!
//! Services depend on the [`Store`] and [`Clock`] traits, never on an
//! adapter. A state change is one [`Commit`]: the version records of one
//! model and the audit events describing them, guarded by the model's
//! revision (optimistic concurrency) and applied atomically; the store seals
//! the events into the hash-chained audit log inside that same write.
//!
//! [`MemoryStore`] is the reference adapter and the default test double;
//! `lifecycle-store-sled` is the durable one. Both run the same suite:
//!
//! # Conformance
//! With the `conformance` feature, `conformance_tests!` expands to one test
//! per case of the port's contract (see the adapters' `tests/`), and
//! `conformance::run_all` runs every case in one call, against fresh stores
//! from a factory:
//!
//! ```
//! # #[cfg(feature = "conformance")]
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use lifecycle_store::{conformance, MemoryStore, Store};
//! conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
//! # });
//! ```
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which picks an adapter for you.

mod clock;
mod commit;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod image;
mod lease;
mod memory;
mod query;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use commit::{
    seal_events, AuditCheckpoint, Changes, Commit, CommitReceipt, MetricsSnapshot, ModelState,
    RevisionGuard,
};
pub use error::StoreError;
pub use image::StoreImage;
pub use lease::{Fence, HeldLease, Lease};
pub use memory::MemoryStore;
pub use query::{run_query, time_span, AuditIndex, AuditQuery, Sequences};
#[cfg(feature = "mock")]
pub use store::MockStore;
pub use store::{CommitSignal, Store};
