//! Leases: which one of many managers on a store does the work that must
//! run once (alert checks, automatic rollback, maintenance), with fencing so
//! that a holder whose lease lapsed cannot commit as the holder.

use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A named lease, held by one holder until it expires. `token` grows by
/// one each time the lease changes hands (never on a renewal), so a commit
/// fenced by an old token is refused once someone else took the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// What it is for (`maintenance`, `alerts`).
    pub name: String,
    /// Who holds it: a manager's id, unique per process.
    pub holder: String,
    /// The fencing token.
    pub token: u64,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// What [`crate::Store::acquire_lease`] grants, given the lease as the
    /// store holds it: the same holder renews (same token); anyone takes a
    /// lease that lapsed or was released (next token); `None` while another
    /// holder's lease runs.
    pub fn grant(
        current: Option<&Lease>,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Option<Lease> {
        let expires_at = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let token = match current {
            Some(held) if held.holder == holder && held.expires_at > now => held.token,
            Some(held) if held.expires_at > now => return None,
            Some(held) => held.token.saturating_add(1),
            None => 1,
        };
        Some(Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            token,
            expires_at,
        })
    }

    /// The lease as released: lapsed at once, its token kept so that the
    /// next holder's is higher.
    pub fn released(&self) -> Lease {
        Lease {
            expires_at: DateTime::<Utc>::MIN_UTC,
            ..self.clone()
        }
    }

    /// Whether `self` is still the lease the store holds (`current`).
    pub fn is_current(&self, current: Option<&Lease>) -> bool {
        current.is_some_and(|held| held.holder == self.holder && held.token == self.token)
    }
}

/// A commit made as a lease's holder: it lands only if the lease is still
/// theirs (same token) and had not lapsed at `at`, the commit's own time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    /// The lease the writer holds.
    pub lease: Lease,
    /// When the writer commits (its clock).
    pub at: DateTime<Utc>,
}

impl Fence {
    /// Checks the fence against the lease as the store holds it; MUST be
    /// called by adapters inside the commit's atomic step.
    pub fn check(&self, current: Option<&Lease>) -> Result<(), StoreError> {
        let live = current.is_some_and(|held| held.expires_at > self.at);
        if self.lease.is_current(current) && live {
            return Ok(());
        }
        Err(StoreError::LeaseLost {
            name: self.lease.name.clone(),
            holder: self.lease.holder.clone(),
            token: self.lease.token,
        })
    }
}

/// The lease a holder holds now, shared between the task that takes and
/// renews it and the tasks that commit as its holder: a commit made through
/// [`HeldLease::fence`] lands only while the lease is still this holder's.
#[derive(Debug, Clone, Default)]
pub struct HeldLease(std::sync::Arc<std::sync::Mutex<Option<Lease>>>);

impl HeldLease {
    /// Records the lease as taken or renewed (`Some`), or as not held (`None`).
    pub fn set(&self, lease: Option<Lease>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = lease;
    }

    /// The lease as last taken or renewed, if held.
    pub fn get(&self) -> Option<Lease> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `commit` fenced by the lease, when one is held; unchanged otherwise
    /// (work done by hand, with no schedule taking the lease).
    pub fn fence(&self, commit: crate::Commit, at: DateTime<Utc>) -> crate::Commit {
        match self.get() {
            Some(lease) => commit.fenced(&lease, at),
            None => commit,
        }
    }
}
