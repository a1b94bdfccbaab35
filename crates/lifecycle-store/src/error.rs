//! The port's error contract: what every adapter returns, and when.

use lifecycle_domain::{DomainError, ModelId, ModelStatus, Version};

/// Why a store operation failed. Adapters translate their library's errors
/// into these, so callers never match on a backend's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The commit expected another revision of the model: someone else
    /// changed it since it was read. Nothing was written.
    #[error("model {model_id} changed concurrently: expected revision {expected}, found {actual}; read it again and retry")]
    Conflict {
        /// The model.
        model_id: ModelId,
        /// The revision the commit expected.
        expected: u64,
        /// The revision in the store.
        actual: u64,
    },

    /// The commit is malformed (a record or event fails validation, names
    /// another model, or changes nothing). Nothing was written.
    #[error("invalid commit: {reason}")]
    InvalidCommit {
        /// What is wrong with it.
        reason: String,
    },

    /// A record read from or given to the store breaks a domain rule.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The commit would leave a model with two active or two canary versions.
    /// Nothing was written.
    #[error("model {model_id} would have {} {status} versions ({}); at most one is allowed, so change the current one in the same commit", versions.len(), list(versions))]
    TwoInStatus {
        /// The model.
        model_id: ModelId,
        /// `active` or `canary`.
        status: ModelStatus,
        /// The versions that would share it.
        versions: Vec<Version>,
    },

    /// A batch of results with this id was recorded already.
    #[error("batch {batch_id} was recorded already; nothing from it was recorded again")]
    BatchRecorded {
        /// The batch's id.
        batch_id: String,
    },

    /// The version is not registered.
    #[error("model {model_id} has no version {version}; register it first")]
    UnknownVersion {
        /// The model.
        model_id: ModelId,
        /// The version.
        version: Version,
    },

    /// Another process has the store open.
    #[error("store at {location} is in use by another process (or already open in this one); stop that process or use another data directory")]
    InUse {
        /// Where the store is: its directory, or its database (named without
        /// credentials).
        location: String,
    },

    /// The store's files are damaged.
    #[error("store at {location} is corrupted: {detail}; restore it from a backup")]
    Corrupted {
        /// Where the store is: its directory, or its database (named without
        /// credentials).
        location: String,
        /// What was found damaged.
        detail: String,
    },

    /// The store was written in a format this build does not read.
    #[error("store at {location} has format {found}, but this build of lifecycle reads format {supported}; use a newer lifecycle")]
    UnsupportedFormat {
        /// Where the store is: its directory, or its database (named without
        /// credentials).
        location: String,
        /// The format found.
        found: String,
        /// The format this build reads.
        supported: String,
    },

    /// The path holds something other than a lifecycle store.
    #[error("{location} is not a lifecycle store: {reason}")]
    NotAStore {
        /// Where the store is: its directory, or its database (named without
        /// credentials).
        location: String,
        /// What is there instead.
        reason: String,
    },

    /// The path cannot be used: permissions, a read-only directory, a full disk.
    #[error("cannot use {location}: {reason}")]
    Unusable {
        /// Where the store is: its directory, or its database (named without
        /// credentials).
        location: String,
        /// Why, and what to do.
        reason: String,
    },

    /// An import was refused: the store already holds data. Nothing was written.
    #[error("the store is not empty ({what}); import into a new, empty store")]
    NotEmpty {
        /// What it holds.
        what: String,
    },

    /// An image to import is inconsistent. Nothing was written.
    #[error("the data to import is inconsistent: {reason}")]
    InvalidImage {
        /// What is wrong with it.
        reason: String,
    },

    /// A commit fenced by a lease ([`crate::Commit::fenced`]) whose holder
    /// no longer holds it: it lapsed, or another holder took it. Nothing
    /// was written.
    #[error("the lease {name:?} is no longer held by {holder} (token {token}): it lapsed or another manager took it; nothing was written")]
    LeaseLost {
        /// The lease.
        name: String,
        /// The holder the commit was made as.
        holder: String,
        /// The token the commit carried.
        token: u64,
    },

    /// The store was closed by its owner (a disposed lifecycle manager).
    #[error("the store was closed: the lifecycle manager using it was disposed; build a new one")]
    Closed,

    /// The storage backend failed; the message names the operation and
    /// cause, and `source` keeps the backend's own error when there is one.
    #[error("storage failed: {message}")]
    Backend {
        /// What failed, in words.
        message: String,
        /// The backend's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// A backend failure told in words, with no error of its own to keep.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A backend failure caused by the backend's own `source` error.
    pub fn backend_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Whether the same operation may succeed if tried again after reading
    /// the state afresh: a concurrent commit came first ([`Self::Conflict`]),
    /// the store is held by another process for now ([`Self::InUse`]), or the
    /// backend failed in passing ([`Self::Backend`]: a lost connection, an
    /// I/O error). Everything else fails the same way every time.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Conflict { .. } | Self::InUse { .. } | Self::Backend { .. }
        )
    }
}

fn list(versions: &[Version]) -> String {
    let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
    names.join(", ")
}
