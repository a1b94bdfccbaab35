//! The durable embedded store of lifecycle, on sled 0.34.
//!
//! [`SledStore::open`] is the one call a user makes; the store then implements
//! the storage port ([`lifecycle_store::Store`]) and passes the same
//! conformance suite as the in-memory adapter.
//!
//! Design (the figures behind it are in `docs/storage.md`):
//! - Each model's versions and revision are one record (`models` tree), so a
//!   commit reads and writes one key per model; a model has few versions.
//! - A commit is serialized by a writer lock, recorded as one journal value
//!   listing its puts (one key, so atomic), then applied as plain puts to the
//!   model record, the audit entries, their three indexes (by model, by time,
//!   by severity), the chain head and a commit counter. sled recovers a
//!   prefix of writes, so on open an interrupted commit is either absent or
//!   completed from its journal. (sled's multi-tree transactions were 1.9x
//!   slower per durable commit and serialized concurrent writers.)
//! - `commit` returns after a flush shared by concurrent commits (group
//!   commit), plus what sled's flush leaves undone for power loss: it uses
//!   `sync_file_range`, so the log file is also `fdatasync`ed (`disk_sync.rs`).
//! - sled recovers a damaged or truncated log by silently stopping at the
//!   first bad record; a commit watermark file beside it turns that silent
//!   loss of acknowledged commits into a [`lifecycle_store::StoreError::Corrupted`]
//!   error on open (`watermark.rs`).
//! - Keys sort as the queries need (big-endian sequence numbers, sign-flipped
//!   timestamps); values are JSON, and a format marker guards the layout.
//! - Opening reads the marker, two counters and the journal: no scan,
//!   whatever the store's size. A store not closed cleanly is first opened
//!   on a copy, so a damaged one is refused with its files untouched
//!   (`seal.rs`).
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which opens this store for you.

mod audit_index;
mod disk_sync;
mod durable;
mod journal;
mod keys;
mod open;
mod seal;
mod store;
mod watermark;

pub use open::FORMAT;
pub use store::SledStore;

/// docs/storage.md's examples, compiled as doc tests.
#[doc = include_str!("../../../docs/storage.md")]
#[cfg(doctest)]
pub struct StorageDocDoctests;
