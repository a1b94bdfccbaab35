//! Compliance reports: what happened in a time range, and whether the record of it is intact.

use std::collections::BTreeMap;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{verify_chain, AuditEventKind, AuditLogEntry, ChainHead, ModelId, Severity};
use lifecycle_store::AuditQuery;
use serde::Serialize;

use crate::export::check_range;
use crate::{AuditError, ModelAuditLog};

/// What happened in `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceReport {
    /// Start of the range (inclusive).
    pub start: DateTime<Utc>,
    /// End of the range (exclusive).
    pub end: DateTime<Utc>,
    /// Entries in the range.
    pub total_entries: u64,
    /// Entries per kind.
    pub by_kind: BTreeMap<AuditEventKind, u64>,
    /// Entries per severity.
    pub by_severity: BTreeMap<Severity, u64>,
    /// Every critical entry.
    pub critical_events: Vec<AuditLogEntry>,
    /// Every entry of severity error.
    pub errors: Vec<AuditLogEntry>,
    /// Threshold violations, and deployment decisions that rejected a
    /// version (detail `approved` = `false`).
    pub policy_violations: Vec<AuditLogEntry>,
    /// Deployments forced past a refusal of the policy (detail `override`:
    /// who, why, and what was refused).
    pub policy_overrides: Vec<AuditLogEntry>,
    /// Deployments (activations, canary promotions) and rollbacks per model.
    pub models: BTreeMap<ModelId, ModelActivity>,
    /// Whether the hash chain verifies over the range.
    pub chain: ChainStatus,
}

/// Deployments and rollbacks of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelActivity {
    /// Activations and canary promotions.
    pub deployments: u64,
    /// Rollbacks.
    pub rollbacks: u64,
}

/// The chain over a report's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    /// Whether every entry from the first to the last of the range hashes
    /// correctly and links to the one before it (the first to the entry
    /// just before the range).
    pub verified: bool,
    /// Sequence numbers checked.
    pub first_sequence: Option<u64>,
    /// Sequence numbers checked.
    pub last_sequence: Option<u64>,
    /// The first broken link, in words.
    pub problem: Option<String>,
}

impl ModelAuditLog {
    /// Totals by kind and severity, critical events, errors, policy
    /// violations, deployments and rollbacks per model, and whether the hash
    /// chain verifies, for the entries with a timestamp in `[start, end)`.
    /// Reads page by page.
    pub async fn compliance_report(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<ComplianceReport, AuditError> {
        check_range(start, end)?;
        let mut report = ComplianceReport {
            start,
            end,
            total_entries: 0,
            by_kind: BTreeMap::new(),
            by_severity: BTreeMap::new(),
            critical_events: Vec::new(),
            errors: Vec::new(),
            policy_violations: Vec::new(),
            policy_overrides: Vec::new(),
            models: BTreeMap::new(),
            chain: ChainStatus {
                verified: true,
                first_sequence: None,
                last_sequence: None,
                problem: None,
            },
        };
        let Some(span) = self.store.audit_span(start, end).await? else {
            return Ok(report);
        };
        let mut anchor = self.anchor_before(*span.start()).await?;
        let mut pages = self.pages(span);
        while let Some(page) = pages.next(&*self.store).await? {
            if report.chain.verified {
                match verify_chain(&page, anchor) {
                    Ok(head) => anchor = head,
                    Err(e) => {
                        report.chain.verified = false;
                        report.chain.problem = Some(e.to_string());
                    }
                }
            }
            report.chain.first_sequence.get_or_insert(page[0].sequence);
            report.chain.last_sequence = page.last().map(|e| e.sequence);
            let inside = page
                .into_iter()
                .filter(|e| e.event.timestamp >= start && e.event.timestamp < end);
            for entry in inside {
                report.count(entry);
            }
        }
        Ok(report)
    }

    /// The head just before `sequence`, to verify a range's first link:
    /// that entry's, or the pruning checkpoint's when it was pruned.
    pub(crate) async fn anchor_before(
        &self,
        sequence: u64,
    ) -> Result<Option<ChainHead>, AuditError> {
        if sequence <= 1 {
            return Ok(None);
        }
        let before = sequence - 1;
        let entries = self
            .store
            .audit(&AuditQuery::all().sequences(before..=before))
            .await?;
        if let Some(entry) = entries.first() {
            return Ok(Some(entry.head()));
        }
        let checkpoint = self.store.audit_checkpoint().await?;
        Ok(checkpoint.map(|c| c.head).filter(|h| h.sequence == before))
    }
}

impl ComplianceReport {
    fn count(&mut self, entry: AuditLogEntry) {
        let event = &entry.event;
        self.total_entries += 1;
        *self.by_kind.entry(event.kind).or_default() += 1;
        *self.by_severity.entry(event.severity).or_default() += 1;
        if let Some(model_id) = &event.model_id {
            let activity = self.models.entry(model_id.clone()).or_default();
            match event.kind {
                AuditEventKind::ModelActivated | AuditEventKind::CanaryPromoted => {
                    activity.deployments += 1
                }
                AuditEventKind::ModelRolledBack => activity.rollbacks += 1,
                _ => {}
            }
        }
        let violation = event.kind == AuditEventKind::ThresholdViolated
            || (event.kind == AuditEventKind::DeploymentDecision
                && event.approved() == Some(false));
        match event.severity {
            Severity::Critical => self.critical_events.push(entry.clone()),
            Severity::Error => self.errors.push(entry.clone()),
            _ => {}
        }
        if event.details.contains_key("override") {
            self.policy_overrides.push(entry.clone());
        }
        if violation {
            self.policy_violations.push(entry);
        }
    }
}
