//! The durable embedded store of lifecycle, on sled 0.34.
//!
//! [`SledStore::open`] is the one call a user makes; the store then implements
//! the storage port ([`lifecycle_store::Store`]) and passes the same
//! conformance suite as the in-memory adapter.
//!
//! Design:
//! - Each model's versions and revision are one record (`models` tree), so a
//!   commit reads and writes one key per model; sled transactions cannot scan,
//!   and a model has few versions.
//! - A commit is one sled transaction over the model record, the audit
//!   entries, their three indexes (by model, by time, by severity) and the
//!   chain head; then a flush, shared between concurrent commits (group
//!   commit), before `commit` returns.
//! - Keys sort as the queries need (big-endian sequence numbers, sign-flipped
//!   timestamps); values are JSON, and a format marker guards the layout.
//! - Opening reads the marker and two counters only: no scan, whatever the
//!   store's size.
//! - sled recovers a truncated or damaged log by silently stopping at the
//!   first bad record; a commit watermark file beside it turns that silent
//!   loss of acknowledged commits into a [`lifecycle_store::StoreError::Corrupted`]
//!   error on open (see `watermark.rs`).
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which opens this store for you.

mod audit_index;
mod durable;
mod keys;
mod open;
mod store;
mod watermark;

pub use open::FORMAT;
pub use store::SledStore;
