//! The audit log of lifecycle: queries over the hash-chained log, which
//! version was active at any past moment, compliance reports, streamed
//! export, and chain verification.
//!
//! [`ModelAuditLog`] reads through the storage port. Every walk over many
//! entries goes page by page (1,000 entries at a time, by sequence number),
//! so exporting or verifying a log of millions of entries holds one page in
//! memory.
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which exposes this log as `audit_log()`.

mod active;
mod error;
mod export;
mod log;
mod page;
mod report;
mod signed;

pub use active::ActiveAt;
/// The ed25519 key types signed checkpoints use.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use error::AuditError;
pub use export::{ExportFormat, ExportSummary, PruneSummary};
pub use log::{ModelAuditLog, VerifyReport};
pub use page::AuditPage;
pub use report::{ChainStatus, ComplianceReport, ModelActivity};
pub use signed::{signing_key, verifying_key, ExtendsCheckpoint, SignedCheckpoint};
