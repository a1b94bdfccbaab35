//! Audit events and the tamper-evident hash chain that seals them into the log.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Actor, DomainError, ModelId, ModelStatus, Version};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditEventKind {
    /// A version was registered.
    ModelRegistered,
    /// A version was deployed for testing.
    DeployedToTesting,
    /// A version became active.
    ModelActivated,
    /// A version was taken out of service.
    ModelDeactivated,
    /// A canary started.
    CanaryStarted,
    /// A canary's traffic share changed.
    CanaryWeightChanged,
    /// A canary became the active version.
    CanaryPromoted,
    /// A canary was stopped.
    CanaryAborted,
    /// A version was deprecated.
    ModelDeprecated,
    /// A version was retired.
    ModelRetired,
    /// Traffic went back to an earlier version.
    ModelRolledBack,
    /// New performance figures were published.
    MetricsUpdated,
    /// A version broke a threshold.
    ThresholdViolated,
    /// Configuration changed.
    ConfigurationChanged,
    /// Policy changed.
    PolicyChanged,
    /// A deployment was approved or rejected.
    DeploymentDecision,
    /// Something failed.
    Error,
}

impl AuditEventKind {
    /// Every kind.
    pub const ALL: [AuditEventKind; 17] = [
        Self::ModelRegistered,
        Self::DeployedToTesting,
        Self::ModelActivated,
        Self::ModelDeactivated,
        Self::CanaryStarted,
        Self::CanaryWeightChanged,
        Self::CanaryPromoted,
        Self::CanaryAborted,
        Self::ModelDeprecated,
        Self::ModelRetired,
        Self::ModelRolledBack,
        Self::MetricsUpdated,
        Self::ThresholdViolated,
        Self::ConfigurationChanged,
        Self::PolicyChanged,
        Self::DeploymentDecision,
        Self::Error,
    ];

    /// The kind's name, as in JSON. Part of the hashed content: never rename.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelRegistered => "modelRegistered",
            Self::DeployedToTesting => "deployedToTesting",
            Self::ModelActivated => "modelActivated",
            Self::ModelDeactivated => "modelDeactivated",
            Self::CanaryStarted => "canaryStarted",
            Self::CanaryWeightChanged => "canaryWeightChanged",
            Self::CanaryPromoted => "canaryPromoted",
            Self::CanaryAborted => "canaryAborted",
            Self::ModelDeprecated => "modelDeprecated",
            Self::ModelRetired => "modelRetired",
            Self::ModelRolledBack => "modelRolledBack",
            Self::MetricsUpdated => "metricsUpdated",
            Self::ThresholdViolated => "thresholdViolated",
            Self::ConfigurationChanged => "configurationChanged",
            Self::PolicyChanged => "policyChanged",
            Self::DeploymentDecision => "deploymentDecision",
            Self::Error => "error",
        }
    }

    /// The severity an event of this kind has unless the caller says otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::ModelDeprecated | Self::ModelRolledBack | Self::ThresholdViolated => {
                Severity::Warning
            }
            Self::Error => Severity::Error,
            _ => Severity::Info,
        }
    }
}

impl fmt::Display for AuditEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much an event matters, from `Info` up to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Routine.
    Info,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [Self::Info, Self::Warning, Self::Error, Self::Critical];

    /// The severity's name, as in JSON. Part of the hashed content: never rename.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened, ready to be appended to the audit log.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use lifecycle_domain::*;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let event = AuditEvent::new(AuditEventKind::ModelActivated, Actor::new("alice")?, "activated 2.0.0", now)
///     .for_version(ModelId::new("gpt-4-turbo")?, Version::parse("2.0.0")?)
///     .with_detail("previous", "1.0.0");
/// let first = event.seal(1, AuditHash::GENESIS);
/// assert!(first.verify_hash());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditEventKind,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// The model concerned, if any.
    #[serde(default)]
    pub model_id: Option<ModelId>,
    /// The version concerned, if any.
    #[serde(default)]
    pub version: Option<Version>,
    /// Who did it.
    pub actor: Actor,
    /// How much it matters.
    pub severity: Severity,
    /// One sentence for people.
    pub message: String,
    /// Named values (previous version, weight, reason, observed, limit...).
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

/// The detail keys other parts of the system read back, written and read
/// only through [`AuditEvent`]'s typed methods (`with_status`/`status`...).
/// Entries keep them as text, as every entry already stored does, so the
/// hash chain of an existing log is unchanged.
pub mod detail {
    /// The status the version was left in.
    pub const STATUS: &str = "status";
    /// The canary's share of traffic, in percent.
    pub const WEIGHT: &str = "weight";
    /// The version that replaces a deprecated one.
    pub const REPLACEMENT: &str = "replacement";
    /// Why a change was made.
    pub const REASON: &str = "reason";
    /// Whether a deployment decision approved the version.
    pub const APPROVED: &str = "approved";
}

impl AuditEvent {
    /// An event of `kind` with its default severity.
    pub fn new(
        kind: AuditEventKind,
        actor: Actor,
        message: impl Into<String>,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            kind,
            timestamp,
            model_id: None,
            version: None,
            actor,
            severity: kind.default_severity(),
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    /// About a whole model.
    pub fn for_model(self, model_id: ModelId) -> Self {
        Self {
            model_id: Some(model_id),
            ..self
        }
    }

    /// About one version of a model.
    pub fn for_version(self, model_id: ModelId, version: Version) -> Self {
        Self {
            model_id: Some(model_id),
            version: Some(version),
            ..self
        }
    }

    /// With another severity.
    pub fn with_severity(self, severity: Severity) -> Self {
        Self { severity, ..self }
    }

    /// With a named value.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.details.insert(key.into(), value.to_string());
        self
    }

    /// With the status the version was left in: what replaying the log
    /// (`active_at`, status checks, automatic rollback) reads.
    pub fn with_status(self, status: ModelStatus) -> Self {
        self.with_detail(detail::STATUS, status)
    }

    /// The status the entry left its version in, if it records one.
    pub fn status(&self) -> Option<ModelStatus> {
        self.details.get(detail::STATUS)?.parse().ok()
    }

    /// With the canary's share of traffic, in percent.
    pub fn with_weight(self, percent: u8) -> Self {
        self.with_detail(detail::WEIGHT, percent)
    }

    /// The canary's share of traffic the entry set, in percent.
    pub fn weight(&self) -> Option<u8> {
        self.details.get(detail::WEIGHT)?.parse().ok()
    }

    /// With the version that replaces this one.
    pub fn with_replacement(self, replacement: &Version) -> Self {
        self.with_detail(detail::REPLACEMENT, replacement)
    }

    /// The version the entry names as this one's replacement.
    pub fn replacement(&self) -> Option<Version> {
        Version::parse(self.details.get(detail::REPLACEMENT)?).ok()
    }

    /// With why the change was made.
    pub fn with_reason(self, reason: &str) -> Self {
        self.with_detail(detail::REASON, reason)
    }

    /// Why the change was made, when the entry says.
    pub fn reason(&self) -> Option<&str> {
        self.details.get(detail::REASON).map(String::as_str)
    }

    /// With whether a deployment decision approved the version.
    pub fn with_approval(self, approved: bool) -> Self {
        self.with_detail(detail::APPROVED, approved)
    }

    /// Whether the deployment decision approved the version.
    pub fn approved(&self) -> Option<bool> {
        self.details.get(detail::APPROVED)?.parse().ok()
    }

    /// Checks that a version comes with its model and the message is not blank.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.version.is_some() && self.model_id.is_none() {
            return Err(DomainError::field(
                "audit.modelId",
                "an entry about a version must name its model",
            ));
        }
        if self.message.trim().is_empty() {
            return Err(DomainError::field("audit.message", "must not be blank"));
        }
        Ok(())
    }

    /// Seals the event as entry `sequence`, linked to the entry before it.
    pub fn seal(self, sequence: u64, prev_hash: AuditHash) -> AuditLogEntry {
        let hash = entry_hash(sequence, &self, &prev_hash);
        AuditLogEntry {
            sequence,
            event: self,
            prev_hash,
            hash,
        }
    }
}

/// An event sealed into the log: numbered, linked to the previous entry by hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogEntry {
    /// Position in the log, from 1, without gaps.
    pub sequence: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The hash of the entry before ([`AuditHash::GENESIS`] for the first).
    pub prev_hash: AuditHash,
    /// The hash of this entry's content and `prev_hash`.
    pub hash: AuditHash,
}

impl AuditLogEntry {
    /// Whether `hash` matches the entry's content and `prev_hash`.
    pub fn verify_hash(&self) -> bool {
        entry_hash(self.sequence, &self.event, &self.prev_hash) == self.hash
    }

    /// The chain head this entry makes.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            sequence: self.sequence,
            hash: self.hash,
        }
    }
}

/// A SHA-256 hash in the audit chain, written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditHash(pub [u8; 32]);

impl AuditHash {
    /// What the first entry links to.
    pub const GENESIS: AuditHash = AuditHash([0; 32]);
}

impl fmt::Display for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 64];
        hex::encode_to_slice(self.0, &mut digits).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditHash({self})")
    }
}

impl TryFrom<String> for AuditHash {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let refuse = || DomainError::field("hash", format!("{text:?} is not 64 hex digits"));
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(|_| refuse())?;
        Ok(Self(bytes))
    }
}

impl From<AuditHash> for String {
    fn from(hash: AuditHash) -> String {
        hash.to_string()
    }
}

/// The last entry of a log: its sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// Sequence number of the last entry.
    pub sequence: u64,
    /// Hash of the last entry.
    pub hash: AuditHash,
}

impl ChainHead {
    /// The sequence number and previous hash of the entry after `head`.
    pub fn next(head: Option<ChainHead>) -> (u64, AuditHash) {
        match head {
            Some(h) => (h.sequence + 1, h.hash),
            None => (1, AuditHash::GENESIS),
        }
    }
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at sequence {sequence}: {problem}")]
pub struct ChainError {
    /// The first entry that does not verify.
    pub sequence: u64,
    /// What is wrong with it.
    pub problem: ChainProblem,
}

/// What is wrong with an entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainProblem {
    /// Its content does not hash to its recorded hash: it was altered.
    #[error("content was altered: it hashes to {computed}, but {recorded} is recorded")]
    ContentAltered {
        /// The hash of the content as found.
        computed: AuditHash,
        /// The hash recorded in the entry.
        recorded: AuditHash,
    },
    /// It does not link to the entry before it.
    #[error("link broken: previous hash should be {expected}, but is {found}")]
    LinkBroken {
        /// The hash of the entry before.
        expected: AuditHash,
        /// The previous hash recorded in the entry.
        found: AuditHash,
    },
    /// Its sequence number does not follow the entry before it.
    #[error("expected sequence {expected}: entries are missing or out of order")]
    SequenceGap {
        /// The sequence number that should be here.
        expected: u64,
    },
}

/// Verifies consecutive entries: each hashes to its recorded hash, links to
/// the one before and is numbered one after it. `anchor` is the head before
/// the first entry (`None` for the start of the log). Returns the head after
/// the last entry.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditLogEntry>,
    anchor: Option<ChainHead>,
) -> Result<Option<ChainHead>, ChainError> {
    let mut head = anchor;
    for entry in entries {
        let (expected_sequence, expected_prev) = ChainHead::next(head);
        let fail = |problem| ChainError {
            sequence: entry.sequence,
            problem,
        };
        if entry.sequence != expected_sequence {
            return Err(fail(ChainProblem::SequenceGap {
                expected: expected_sequence,
            }));
        }
        if entry.prev_hash != expected_prev {
            return Err(fail(ChainProblem::LinkBroken {
                expected: expected_prev,
                found: entry.prev_hash,
            }));
        }
        let computed = entry_hash(entry.sequence, &entry.event, &entry.prev_hash);
        if computed != entry.hash {
            return Err(fail(ChainProblem::ContentAltered {
                computed,
                recorded: entry.hash,
            }));
        }
        head = Some(entry.head());
    }
    Ok(head)
}

/// The one function that hashes an entry: SHA-256 over an unambiguous
/// encoding (every text length-prefixed) of the sequence, every field of the
/// event and the previous hash.
fn entry_hash(sequence: u64, event: &AuditEvent, prev_hash: &AuditHash) -> AuditHash {
    let mut h = Sha256::new();
    let mut text = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    text("lifecycle-audit-v1");
    text(&sequence.to_string());
    text(&event.timestamp.timestamp().to_string());
    text(&event.timestamp.timestamp_subsec_nanos().to_string());
    text(event.kind.as_str());
    text(event.model_id.as_ref().map_or("\u{0}none", |m| m.as_str()));
    text(
        &event
            .version
            .as_ref()
            .map_or("\u{0}none".into(), |v| v.to_string()),
    );
    text(event.actor.as_str());
    text(event.severity.as_str());
    text(&event.message);
    text(&event.details.len().to_string());
    for (key, value) in &event.details {
        text(key);
        text(value);
    }
    h.update(prev_hash.0);
    AuditHash(h.finalize().into())
}
