//! `ModelAuditLog`: queries and chain verification over the store's audit log.

use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{
    verify_chain, Actor, AuditEventKind, AuditLogEntry, AuditReplay, ChainError, ChainHead,
    ModelId, Severity,
};
use lifecycle_store::{AuditQuery, Store};
use serde::Serialize;

use crate::AuditError;

/// Entries read at a time by walks over many entries.
pub(crate) const PAGE: usize = 1_000;

/// The audit log, read through the storage port. Cheap to clone.
#[derive(Clone)]
pub struct ModelAuditLog {
    pub(crate) store: Arc<dyn Store>,
    /// The last entry [`ModelAuditLog::verify_new_entries`] checked: where
    /// its next call starts. Shared by clones.
    verified: Arc<Mutex<Option<ChainHead>>>,
}

/// The outcome of [`ModelAuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Entries whose hash and link were checked.
    pub entries_checked: u64,
    /// The last entry that verified.
    pub verified_head: Option<ChainHead>,
    /// The first broken link: its sequence number and what differs.
    #[serde(serialize_with = "display")]
    pub broken: Option<ChainError>,
    /// The first way the stored state differs from what the entries
    /// describe (a status, a canary weight, a version no entry registered,
    /// or one the entries name that is missing), when the chain verified.
    pub state_mismatch: Option<String>,
}

fn display<S: serde::Serializer>(e: &Option<ChainError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl VerifyReport {
    /// Whether the whole chain verified and the state is what it describes.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none() && self.state_mismatch.is_none()
    }
}

impl ModelAuditLog {
    /// The log of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            verified: Arc::default(),
        }
    }

    /// The chain's last entry (`None` when the log is empty): its sequence
    /// number grows with every change any process commits, so it tells a
    /// reader whether anything changed since it last looked.
    pub async fn head(&self) -> Result<Option<ChainHead>, AuditError> {
        Ok(self.store.audit_head().await?)
    }

    /// Entries matching any query, in sequence order.
    pub async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditLogEntry>, AuditError> {
        Ok(self.store.audit(query).await?)
    }

    /// Everything recorded about a model, oldest first.
    pub async fn history(&self, model_id: &ModelId) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::all().model(model_id.clone())).await
    }

    /// The `n` most recent entries, newest first.
    pub async fn recent(&self, n: usize) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::recent(n)).await
    }

    /// Every critical entry, oldest first.
    pub async fn critical_entries(&self) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::all().min_severity(Severity::Critical))
            .await
    }

    /// Entries in `[start, end)`, in sequence order.
    pub async fn between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::all().between(start, end)).await
    }

    /// Entries of one kind, oldest first.
    pub async fn by_kind(&self, kind: AuditEventKind) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::all().kind(kind)).await
    }

    /// Entries by one actor, oldest first.
    pub async fn by_actor(&self, actor: &Actor) -> Result<Vec<AuditLogEntry>, AuditError> {
        self.query(&AuditQuery::all().actor(actor.clone())).await
    }

    /// Walks the whole chain — from the first entry, or from the pruning
    /// checkpoint when old entries were pruned — and reports the first
    /// broken link, if any.
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        let checkpoint = self.store.audit_checkpoint().await?;
        let mut report = VerifyReport {
            entries_checked: 0,
            verified_head: checkpoint.map(|c| c.head),
            broken: None,
            state_mismatch: None,
        };
        let mut replay = AuditReplay::default();
        let first = checkpoint.map_or(1, |c| c.head.sequence + 1);
        let mut pages = self.pages(first..=u64::MAX);
        while let Some(page) = pages.next(&*self.store).await? {
            match verify_chain(&page, report.verified_head) {
                Ok(head) => {
                    report.entries_checked += page.len() as u64;
                    report.verified_head = head;
                    page.iter().for_each(|entry| replay.apply(entry));
                }
                Err(broken) => {
                    report.entries_checked += page
                        .iter()
                        .take_while(|e| e.sequence < broken.sequence)
                        .count() as u64;
                    report.broken = Some(broken);
                    return Ok(report);
                }
            }
        }
        report.state_mismatch = state_mismatch(&*self.store, &replay, checkpoint.is_some()).await?;
        Ok(report)
    }

    /// Checks the chain's links and hashes from where the last check left
    /// off — this log's, or any earlier process's, as the store keeps it
    /// ([`Store::verified_head`]); the whole chain when none did — so that
    /// `status` and a server's health pay for each entry once, even across
    /// processes. The entry it left off at is read again and must be
    /// unchanged. That point is kept in the store it vouches for: an entry
    /// altered before it is found by [`Self::verify`], not here. `Ok(false)`
    /// on a broken link. It does not replay the state against the entries:
    /// [`Self::verify`] does, and re-hashes everything.
    pub async fn verify_new_entries(&self) -> Result<bool, AuditError> {
        let cached = *self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        // A new process resumes where the last verification left off.
        let cached = match cached {
            Some(head) => Some(head),
            None => self.store.verified_head().await?,
        };
        let pruned_to = self.store.audit_checkpoint().await?.map(|c| c.head);
        let mut head = match cached {
            // Pruned past it since: start again from the pruning checkpoint.
            Some(head) if pruned_to.is_some_and(|p| p.sequence >= head.sequence) => pruned_to,
            Some(head) => {
                let query = AuditQuery::all().sequences(head.sequence..=head.sequence);
                let again = self.store.audit(&query).await?;
                if again.first().map(AuditLogEntry::head) != Some(head) {
                    *self.verified.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    return Ok(false);
                }
                Some(head)
            }
            None => pruned_to,
        };
        let first = head.map_or(1, |h| h.sequence + 1);
        let mut pages = self.pages(first..=u64::MAX);
        while let Some(page) = pages.next(&*self.store).await? {
            match verify_chain(&page, head) {
                Ok(next) => head = next,
                Err(_) => return Ok(false),
            }
        }
        *self.verified.lock().unwrap_or_else(PoisonError::into_inner) = head;
        if let Some(head) = head.filter(|h| cached != Some(*h)) {
            self.store.set_verified_head(head).await?;
        }
        Ok(true)
    }

    /// Pages of entries with sequence numbers in `range`, in order.
    pub(crate) fn pages(&self, range: RangeInclusive<u64>) -> Pages {
        Pages { rest: Some(range) }
    }
}

/// How the stored records differ from what the replayed entries say, if
/// they do (see [`AuditReplay::first_mismatch`]).
async fn state_mismatch(
    store: &dyn Store,
    replay: &AuditReplay,
    pruned: bool,
) -> Result<Option<String>, AuditError> {
    let records: Vec<_> = store
        .all_models()
        .await?
        .into_iter()
        .flat_map(|(_, state)| state.versions)
        .collect();
    Ok(replay.first_mismatch(&records, pruned))
}

/// A cursor over entries by sequence number, [`PAGE`] at a time.
pub(crate) struct Pages {
    /// The sequence numbers still to read; `None` once exhausted.
    rest: Option<RangeInclusive<u64>>,
}

impl Pages {
    /// The next page; `None` when the range is exhausted.
    pub async fn next(
        &mut self,
        store: &dyn Store,
    ) -> Result<Option<Vec<AuditLogEntry>>, AuditError> {
        let Some(rest) = self.rest.take() else {
            return Ok(None);
        };
        let query = AuditQuery::all().sequences(rest.clone()).limit(PAGE);
        let page = store.audit(&query).await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.rest = last
            .sequence
            .checked_add(1)
            .filter(|next| next <= rest.end())
            .map(|next| next..=*rest.end());
        Ok(Some(page))
    }
}
