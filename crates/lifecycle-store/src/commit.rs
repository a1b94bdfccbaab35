//! What a commit carries, what it returns, and the checks every adapter applies to it.

use std::collections::BTreeSet;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    AuditEvent, AuditLogEntry, ChainHead, ModelId, ModelPerformanceMetrics, ModelStatus,
    ModelVersion, Version,
};
use serde::{Deserialize, Serialize};

use crate::{Fence, Lease, StoreError};

/// One atomic state change: version records of one model and the audit events
/// that describe them, applied together or not at all.
///
/// ```
/// # use lifecycle_store::Commit;
/// # fn demo(model: lifecycle_domain::ModelId, v: lifecycle_domain::ModelVersion, e: lifecycle_domain::AuditEvent) {
/// let commit = Commit::for_model(model, 3).put(v).audit(e);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The model the commit changes and the revision the writer read; `None`
    /// for an audit-only commit.
    pub guard: Option<RevisionGuard>,
    /// Records to insert or replace (by version precedence); all of the
    /// guarded model.
    pub versions: Vec<ModelVersion>,
    /// Events to seal into the audit log, in order.
    pub audit: Vec<AuditEvent>,
    /// The lease the writer commits as, if any: the commit lands only while
    /// it holds it ([`StoreError::LeaseLost`] otherwise).
    pub fence: Option<Fence>,
}

/// Optimistic concurrency: the commit applies only if the model is still at
/// the revision the writer read.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionGuard {
    /// The model.
    pub model_id: ModelId,
    /// The revision the writer read; 0 for a model with no versions yet. The
    /// commit fails with [`StoreError::Conflict`] if the store holds another.
    pub expected_revision: u64,
}

impl Commit {
    /// A commit that changes `model_id`, which the writer read at `expected_revision`.
    pub fn for_model(model_id: ModelId, expected_revision: u64) -> Self {
        Self {
            guard: Some(RevisionGuard {
                model_id,
                expected_revision,
            }),
            versions: Vec::new(),
            audit: Vec::new(),
            fence: None,
        }
    }

    /// A commit that only appends audit events.
    pub fn audit_only() -> Self {
        Self {
            guard: None,
            versions: Vec::new(),
            audit: Vec::new(),
            fence: None,
        }
    }

    /// Makes the commit as the holder of `lease`, at `at` (the writer's
    /// clock): it lands only if the lease is still theirs and live then.
    pub fn fenced(mut self, lease: &Lease, at: DateTime<Utc>) -> Self {
        self.fence = Some(Fence {
            lease: lease.clone(),
            at,
        });
        self
    }

    /// Adds a version record to write.
    pub fn put(mut self, version: ModelVersion) -> Self {
        self.versions.push(version);
        self
    }

    /// Adds an audit event.
    pub fn audit(mut self, event: AuditEvent) -> Self {
        self.audit.push(event);
        self
    }

    /// The checks that need no stored state: the commit changes something,
    /// every record and event is valid, records belong to the guarded model
    /// and none is given twice. Adapters call this before anything else.
    pub fn check(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| Err(StoreError::InvalidCommit { reason });
        if self.versions.is_empty() && self.audit.is_empty() {
            return invalid("it changes nothing: add a version record or an audit event".into());
        }
        let mut seen = BTreeSet::new();
        for v in &self.versions {
            let Some(guard) = &self.guard else {
                return invalid(format!(
                    "record {} {} has no revision guard: use Commit::for_model",
                    v.model_id, v.version
                ));
            };
            if v.model_id != guard.model_id {
                return invalid(format!(
                    "record {} {} belongs to another model than {}",
                    v.model_id, v.version, guard.model_id
                ));
            }
            if !seen.insert(&v.version) {
                return invalid(format!("version {} is given twice", v.version));
            }
            v.validate()?;
        }
        for event in &self.audit {
            event.validate()?;
        }
        Ok(())
    }
}

impl RevisionGuard {
    /// Checks the guarded model's stored state against the expected revision
    /// and computes its state after writing `records` (`None` when there are
    /// none). Returns the model's revision after the commit and that state.
    /// Adapters call this inside their atomic write.
    pub fn advance(
        &self,
        current: &ModelState,
        records: &[ModelVersion],
    ) -> Result<(u64, Option<ModelState>), StoreError> {
        if current.revision != self.expected_revision {
            return Err(StoreError::Conflict {
                model_id: self.model_id.clone(),
                expected: self.expected_revision,
                actual: current.revision,
            });
        }
        if records.is_empty() {
            return Ok((current.revision, None));
        }
        let next = current.apply(&self.model_id, records)?;
        Ok((next.revision, Some(next)))
    }
}

/// What a successful commit did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitReceipt {
    /// The guarded model's revision after the commit: one more than expected
    /// if versions were written, unchanged otherwise; `None` if audit-only.
    pub revision: Option<u64>,
    /// The audit entries as sealed, in order.
    pub entries: Vec<AuditLogEntry>,
}

/// What [`crate::Store::changes_since`] found: the models changed, each at
/// its revision as read, and the audit sequence read through (the `after`
/// of the next call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The last audit sequence covered.
    pub through: u64,
    /// Each model changed since, once, in id order, with its revision.
    pub models: Vec<(ModelId, u64)>,
}

/// A model as read in one consistent view: its revision and versions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelState {
    /// Incremented by every commit that changes the model; 0 when unknown.
    pub revision: u64,
    /// Its versions, lowest precedence first.
    #[serde(deserialize_with = "versions")]
    pub versions: Vec<ModelVersion>,
}

/// A model's versions, read into a vector grown from one: serde's own
/// starts at four, and most models of a large catalogue have one version
/// (5,000 models would hold 11 MiB of unused capacity).
fn versions<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ModelVersion>, D::Error> {
    struct Versions;
    impl<'de> serde::de::Visitor<'de> for Versions {
        type Value = Vec<ModelVersion>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of versions")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut versions = Vec::with_capacity(seq.size_hint().unwrap_or(1).clamp(1, 64));
            while let Some(version) = seq.next_element()? {
                versions.push(version);
            }
            Ok(versions)
        }
    }
    deserializer.deserialize_seq(Versions)
}

impl ModelState {
    /// The version of this model with the given number, if registered.
    pub fn version(&self, version: &Version) -> Option<&ModelVersion> {
        self.versions.iter().find(|v| &v.version == version)
    }

    /// The active version, if any.
    pub fn active(&self) -> Option<&ModelVersion> {
        self.versions
            .iter()
            .find(|v| v.status() == ModelStatus::Active)
    }

    /// The state after writing `records` (inserted, or replacing the record
    /// of the same version) one revision later, each stamped with that
    /// revision. Fails with [`StoreError::TwoInStatus`] if the result would
    /// have two active or two canary versions. Adapters call this inside
    /// their atomic write.
    pub fn apply(&self, model_id: &ModelId, records: &[ModelVersion]) -> Result<Self, StoreError> {
        let revision = self.revision + 1;
        let mut versions = self.versions.clone();
        for record in records {
            let mut record = record.clone();
            record.revision = revision;
            match versions.binary_search_by(|v| v.version.cmp(&record.version)) {
                Ok(at) => versions[at] = record,
                Err(at) => versions.insert(at, record),
            }
        }
        check_single_active(model_id, &versions)?;
        Ok(Self { revision, versions })
    }
}

/// What stays of pruned audit entries: the head of the last one removed, so
/// the chain of the entries kept still verifies from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditCheckpoint {
    /// Sequence number and hash of the last entry removed.
    pub head: ChainHead,
    /// Entries removed so far, in all prunes.
    pub pruned: u64,
}

/// A checkpoint of a version's metrics, saved outside the version records so
/// that frequent checkpoints never conflict with lifecycle commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// The model.
    pub model_id: ModelId,
    /// The version.
    pub version: Version,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// The published figures.
    pub metrics: ModelPerformanceMetrics,
    /// The evaluator's own encoding of its state (sketches, windows), opaque
    /// to the store, so lifetime metrics survive a restart.
    #[serde(default, with = "state_text")]
    pub state: Vec<u8>,
    /// Whose checkpoint this is: the replica (manager) that recorded what
    /// it holds, so that replicas never overwrite each other's statistics;
    /// readers merge every replica's. Empty for the merged part that a
    /// replica folds its checkpoint into when it stops (and for checkpoints
    /// of earlier builds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replica: String,
}

/// The state in JSON: as a string when it is UTF-8 text (the evaluator
/// writes JSON), which reads ~4x faster and takes ~3x less room than an
/// array of byte values; an array otherwise. Both are read, so stores and
/// backups written before keep working.
mod state_text {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(state: &[u8], to: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(state) {
            Ok(text) => to.serialize_str(text),
            Err(_) => to.collect_seq(state),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Vec<u8>, D::Error> {
        from.deserialize_any(State)
    }

    struct State;

    impl<'de> Visitor<'de> for State {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the evaluator's state, as a string or an array of bytes")
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<Vec<u8>, E> {
            Ok(text.as_bytes().to_vec())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(byte) = seq.next_element::<u8>()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}

impl MetricsSnapshot {
    /// `all` by the version each is of (one per replica): what readers of
    /// [`crate::Store::all_metrics`] merge.
    pub fn by_version(
        all: Vec<MetricsSnapshot>,
    ) -> std::collections::HashMap<(ModelId, Version), Vec<MetricsSnapshot>> {
        let mut by_version: std::collections::HashMap<_, Vec<MetricsSnapshot>> = Default::default();
        for snapshot in all {
            let key = (snapshot.model_id.clone(), snapshot.version.clone());
            by_version.entry(key).or_default().push(snapshot);
        }
        by_version
    }

    /// Checks what every adapter checks before saving: the metrics are
    /// valid and the version is registered in `state` (its model's state;
    /// `None` for an unknown model).
    pub fn check(&self, state: Option<&ModelState>) -> Result<(), StoreError> {
        self.metrics.validate()?;
        if state.is_some_and(|s| s.version(&self.version).is_some()) {
            return Ok(());
        }
        Err(StoreError::UnknownVersion {
            model_id: self.model_id.clone(),
            version: self.version.clone(),
        })
    }
}

/// Checks that `versions` (a model's records after a commit) hold at most one
/// active and at most one canary version.
pub(crate) fn check_single_active<'a>(
    model_id: &ModelId,
    versions: impl IntoIterator<Item = &'a ModelVersion>,
) -> Result<(), StoreError> {
    let (mut active, mut canary) = (Vec::new(), Vec::new());
    for v in versions {
        match v.status() {
            ModelStatus::Active => active.push(v.version.clone()),
            ModelStatus::Canary => canary.push(v.version.clone()),
            _ => {}
        }
    }
    for (status, versions) in [(ModelStatus::Active, active), (ModelStatus::Canary, canary)] {
        if versions.len() > 1 {
            return Err(StoreError::TwoInStatus {
                model_id: model_id.clone(),
                status,
                versions,
            });
        }
    }
    Ok(())
}

/// Seals `events` after `head`: consecutive sequence numbers, each linked to
/// the one before. Adapters call this inside their atomic write.
pub fn seal_events(events: Vec<AuditEvent>, head: Option<ChainHead>) -> Vec<AuditLogEntry> {
    let mut head = head;
    events
        .into_iter()
        .map(|event| {
            let (sequence, prev) = ChainHead::next(head);
            let entry = event.seal(sequence, prev);
            head = Some(entry.head());
            entry
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle_domain::chrono::TimeZone;

    #[test]
    fn a_checkpoint_state_is_written_as_text_and_read_in_either_form() {
        let snapshot = MetricsSnapshot {
            model_id: ModelId::new("m").unwrap(),
            version: Version::new(1, 0, 0),
            taken_at: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
            metrics: serde_json::from_str(
                r#"{"sampleCount":0,"successCount":0,"failureCount":0,"meanLatencyMs":null,
                "p50LatencyMs":null,"p95LatencyMs":null,"p99LatencyMs":null,"meanConfidence":null,
                "totalInputTokens":0,"totalOutputTokens":0,"updatedAt":"2026-07-01T00:00:00Z"}"#,
            )
            .unwrap(),
            state: br#"{"slots":[]}"#.to_vec(),
            replica: String::new(),
        };
        let text = serde_json::to_string(&snapshot).unwrap();
        assert!(text.contains(r#""state":"{\"slots\":[]}""#), "{text}");
        assert_eq!(
            serde_json::from_str::<MetricsSnapshot>(&text).unwrap(),
            snapshot
        );
        // As builds before format 2 wrote it: an array of byte values.
        let bytes: Vec<String> = snapshot.state.iter().map(u8::to_string).collect();
        let old = text.replace(r#""{\"slots\":[]}""#, &format!("[{}]", bytes.join(",")));
        assert_ne!(old, text);
        assert_eq!(
            serde_json::from_str::<MetricsSnapshot>(&old).unwrap(),
            snapshot
        );
        // Not UTF-8: still an array.
        let binary = MetricsSnapshot {
            state: vec![0xff, 0x00],
            ..snapshot
        };
        let text = serde_json::to_string(&binary).unwrap();
        assert!(text.contains(r#""state":[255,0]"#), "{text}");
        assert_eq!(
            serde_json::from_str::<MetricsSnapshot>(&text).unwrap(),
            binary
        );
    }
}
