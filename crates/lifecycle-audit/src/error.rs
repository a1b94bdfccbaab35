//! The audit service's errors.

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] lifecycle_store::StoreError),

    /// Writing an export failed (disk full, closed pipe...).
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),

    /// Encoding an entry failed.
    #[error("cannot encode an audit entry: {0}")]
    Encode(serde_json::Error),

    /// A time range whose end is not after its start.
    #[error(
        "the range ends ({end}) before it starts ({start}); give a start earlier than the end"
    )]
    EmptyRange {
        /// The start given.
        start: String,
        /// The end given.
        end: String,
    },
}
