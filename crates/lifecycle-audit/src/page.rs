//! Reading a large log a page at a time, by cursor: what a server hands out
//! and what a caller walks, without holding the whole log in memory.

use lifecycle_domain::AuditLogEntry;
use lifecycle_store::AuditQuery;
use serde::Serialize;

use crate::{AuditError, ModelAuditLog};

/// One page of a query's entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// At most the page size of entries, in the query's order.
    pub entries: Vec<AuditLogEntry>,
    /// Where the next page starts: `None` on the last page. Pass it back as
    /// `after` to read on; it stays valid as entries are appended (the next
    /// page of a newest-first query never shows entries newer than its
    /// first page).
    pub next: Option<u64>,
}

impl ModelAuditLog {
    /// The `size` entries of `query` after the cursor `after` (`None`: from
    /// the start), in the query's order, and the cursor of the next page.
    /// The cursor is a sequence number: the last one this page returned.
    /// The query's own limit, if any, is ignored: the page size bounds it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use lifecycle_audit::ModelAuditLog;
    /// # use lifecycle_store::{AuditQuery, MemoryStore};
    /// # async fn walk(log: ModelAuditLog) -> Result<(), lifecycle_audit::AuditError> {
    /// let mut after = None;
    /// loop {
    ///     let page = log.page(&AuditQuery::all(), after, 500).await?;
    ///     for entry in &page.entries { /* ... */ }
    ///     match page.next { Some(next) => after = Some(next), None => break }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn page(
        &self,
        query: &AuditQuery,
        after: Option<u64>,
        size: usize,
    ) -> Result<AuditPage, AuditError> {
        let size = size.max(1);
        let bounds = query.sequence_bounds();
        let (mut from, mut to) = (*bounds.start(), *bounds.end());
        match (after, query.newest_first) {
            (Some(cursor), false) => from = from.max(cursor.saturating_add(1)),
            (Some(cursor), true) => to = to.min(cursor.saturating_sub(1)),
            (None, _) => {}
        }
        if from > to {
            return Ok(AuditPage {
                entries: Vec::new(),
                next: None,
            });
        }
        let narrowed = query
            .clone()
            .sequences(from..=to)
            .limit(size.saturating_add(1));
        let mut entries = self.query(&narrowed).await?;
        let more = entries.len() > size;
        entries.truncate(size);
        let next = more.then(|| entries.last().map(|e| e.sequence)).flatten();
        Ok(AuditPage { entries, next })
    }
}
