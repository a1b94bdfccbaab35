//! `PostgresStore`: the storage port on PostgreSQL, for many processes and
//! machines on one durable, shared state — replicas of an application that
//! embeds the library, several `lifecycle` CLIs, several servers.
//!
//! Every rule of the port holds across processes: a commit (its version
//! records, the model's revision and its sealed audit entries) is one
//! transaction; audit sequence numbers are gapless and hash-linked across
//! every writer; "one active and one canary per model" is also a constraint
//! of the database; leases fence across processes; and a commit wakes every
//! other process's change feed through `NOTIFY` (with polling as the
//! backstop, and a resync after the listening connection is lost).
//!
//! ```no_run
//! # async fn example() -> Result<(), lifecycle_store::StoreError> {
//! use lifecycle_store_postgres::PostgresStore;
//! let store = PostgresStore::connect("postgres://lifecycle@db.internal/lifecycle").await?;
//! # Ok(()) }
//! ```
//!
//! The schema is created and upgraded by embedded, versioned migrations on
//! `connect` (under an advisory lock, so replicas starting together do not
//! race); [`PostgresStore::migrate`] applies them ahead for operators who do.
//! docs/storage.md has the design; docs/operations.md how to run it.

mod audit;
mod commit;
mod feed;
mod leases;
mod metrics;
mod rows;
mod schema;
mod seal;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use store::{without_credentials, PostgresStore};
