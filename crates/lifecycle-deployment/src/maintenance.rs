//! Maintenance: retirement at end of life, on one manager at a time.

use lifecycle_domain::chrono::{DateTime, Duration, Utc};
use lifecycle_domain::{Actor, ModelId, ModelVersion, Version};
use lifecycle_policy::DeprecationWarning;
use lifecycle_registry::{ModelRegistry, RegistryError};
use lifecycle_store::{Lease, StoreError};

use crate::{DeploymentError, Deployments};

/// The lease that lets one manager at a time retire versions.
const MAINTENANCE_LEASE: &str = "maintenance";

/// How long a maintenance run may hold its lease: far longer than a run
/// takes, and the time another manager waits if the holder dies mid-run.
const MAINTENANCE_LEASE_SECS: i64 = 300;

/// How often maintenance retries retiring a version whose model other
/// managers keep committing to, before it reports the conflict.
const RETIRE_ATTEMPTS: u32 = 10;

/// What a maintenance run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceReport {
    /// Versions retired because their end of life had come.
    pub retired: Vec<RetiredVersion>,
    /// Deprecation warnings as of the run, most urgent first.
    pub warnings: Vec<DeprecationWarning>,
    /// The manager that held the maintenance lease when this one asked for
    /// it: retirements are left to it (they run on one manager at a time).
    pub left_to: Option<String>,
}

/// A version a maintenance run retired.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetiredVersion {
    /// The model.
    pub model_id: ModelId,
    /// The version, now retired.
    pub version: Version,
}

impl Deployments {
    /// Every deprecated version's warning, most urgent first.
    pub async fn deprecation_warnings(&self) -> Result<Vec<DeprecationWarning>, DeploymentError> {
        let versions = self.all_versions().await?;
        Ok(self
            .policy
            .deprecation_warnings(&versions, self.clock.now()))
    }

    /// Retires every version past its end of life (when the policy's
    /// automatic retirement is on), one audited commit each, as
    /// `system:maintenance`, fenced by the maintenance lease that `holder`
    /// takes for the run: while another manager holds it, retirements are
    /// left to that one. Returns what it retired and the warnings left.
    pub async fn run_maintenance(
        &self,
        holder: &str,
    ) -> Result<MaintenanceReport, DeploymentError> {
        let now = self.clock.now();
        let mut retired = Vec::new();
        let mut left_to = None;
        if self.policy.policy().settings().enable_automatic_retirement {
            let ttl = Duration::seconds(MAINTENANCE_LEASE_SECS);
            match self
                .store
                .acquire_lease(MAINTENANCE_LEASE, holder, ttl, now)
                .await?
            {
                Some(lease) => {
                    let run = self.retire_due(lease.clone(), now).await;
                    self.store.release_lease(&lease).await?;
                    retired = run?;
                }
                None => {
                    let holder = self.store.lease(MAINTENANCE_LEASE).await?.map(|l| l.holder);
                    tracing::info!(holder = ?holder, "maintenance is running on another manager");
                    left_to = holder;
                }
            }
        }
        let versions = self.all_versions().await?;
        Ok(MaintenanceReport {
            retired,
            warnings: self.policy.deprecation_warnings(&versions, now),
            left_to,
        })
    }

    /// Retires every version past its end of life, each commit fenced by
    /// the maintenance lease.
    async fn retire_due(
        &self,
        lease: Lease,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetiredVersion>, DeploymentError> {
        let versions = self.all_versions().await?;
        let maintenance = self
            .registry
            .acting_as(Actor::system("maintenance")?)
            .holding(lease);
        let mut retired = Vec::new();
        for due in self.policy.retirement_due(&versions, now) {
            if !self.retire_if_still_due(&maintenance, due, now).await? {
                continue;
            }
            tracing::info!(model = %due.model_id, version = %due.version,
                "retired at end of life");
            retired.push(RetiredVersion {
                model_id: due.model_id.clone(),
                version: due.version.clone(),
            });
        }
        Ok(retired)
    }

    /// Retires `due` unless a move committed since maintenance read it took
    /// it out of its end of life (reactivated, rolled back to, retired
    /// already): other managers keep moving versions while maintenance
    /// runs. A lost race on the revision is retried on a fresh read.
    async fn retire_if_still_due(
        &self,
        maintenance: &ModelRegistry,
        due: &ModelVersion,
        now: DateTime<Utc>,
    ) -> Result<bool, DeploymentError> {
        let mut attempts = 0;
        loop {
            let Err(error) = maintenance.retire(&due.model_id, &due.version).await else {
                return Ok(true);
            };
            attempts += 1;
            let current = self.registry.get(&due.model_id, &due.version).await?;
            let still_due = !self
                .policy
                .retirement_due(std::slice::from_ref(&current), now)
                .is_empty();
            if !still_due {
                tracing::info!(model = %due.model_id, version = %due.version,
                    status = %current.status(), "moved since maintenance read it: left alone");
                return Ok(false);
            }
            let lost_race = matches!(error, RegistryError::Store(StoreError::Conflict { .. }));
            if !lost_race || attempts == RETIRE_ATTEMPTS {
                return Err(error.into());
            }
        }
    }
}
