//! `ModelRegistry`: every lifecycle operation as one audited, revision-guarded commit.

use std::sync::Arc;

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::semver::VersionReq;
use lifecycle_domain::AuditReplay;
use lifecycle_domain::{
    Actor, AuditEvent, AuditEventKind, CanaryWeight, Displaced, ModelDeprecationInfo, ModelId,
    ModelStatus, ModelVersion, Severity, Succession, Version,
};
use lifecycle_store::{AuditQuery, Clock, Commit, Lease, ModelState, Store, StoreError};

use crate::router::{Routed, Router};
use crate::RegistryError;

/// How many times an operation re-reads and retries after a concurrent change.
const RETRIES: usize = 8;

/// The model registry: registers versions and moves them through their
/// lifecycle, each operation one atomic commit with its audit entries, and
/// routes traffic from an in-memory snapshot refreshed on every commit.
///
/// Cheap to clone; clones share the store, the clock and the router.
/// [`ModelRegistry::acting_as`] gives a handle that records another actor.
#[derive(Clone)]
pub struct ModelRegistry {
    shared: Arc<Shared>,
    actor: Actor,
    /// The lease this handle's commits are fenced by, if any.
    lease: Option<Lease>,
    /// The revision the model must be at for this handle's changes, if any.
    expected: Option<u64>,
}

struct Shared {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    succession: Succession,
    router: Router,
}

/// The version commits write and the audit events describing them.
#[derive(Default)]
struct Plan {
    versions: Vec<ModelVersion>,
    events: Vec<AuditEvent>,
}

impl Plan {
    /// One version written, one event describing it.
    fn one(version: ModelVersion, event: AuditEvent) -> Self {
        Self {
            versions: vec![version],
            events: vec![event],
        }
    }
}

/// An operator's override of a deployment the policy refused: why, and
/// what was refused. Recorded on the activation's own audit entry (in the
/// same commit), at warning severity, so the override is never silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Why the operator overrode the policy, in their words.
    pub reason: String,
    /// The policy's reason for refusing.
    pub refused: String,
}

/// What a deployment gate says of a planned activation, judged on the
/// model as the commit finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Go ahead: the decision's entry is written in the activation's
    /// commit, with the override when one was needed.
    Allow {
        /// The audit entry of the decision; `None` for an ungated move.
        decision: Option<AuditEvent>,
        /// The override of a refusal, if this is one.
        forced: Option<Override>,
    },
    /// Refused: the decision's entry is written alone; nothing moves.
    Refuse {
        /// The audit entry of the decision.
        decision: AuditEvent,
    },
}

/// Which version a deployment makes active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// This version.
    Version(&'a Version),
    /// The model's canary.
    Canary,
}

/// A version picked by [`ModelRegistry::resolve`].
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The highest usable version matching the requirement.
    pub version: Arc<ModelVersion>,
    /// Set when that version is deprecated, so the warning reaches the caller.
    pub deprecation: Option<DeprecationNotice>,
}

/// A warning that the version a caller got is being phased out.
#[derive(Debug, Clone, PartialEq)]
pub struct DeprecationNotice {
    /// Whole days until end of life (negative once past).
    pub days_until_eol: i64,
    /// The version to move to, when known.
    pub replacement: Option<Version>,
    /// Why it was deprecated.
    pub reason: String,
}

impl ModelRegistry {
    /// A registry over `store`, loading every model's serving versions into
    /// the router. `actor` is recorded on operations unless
    /// [`Self::acting_as`] says otherwise.
    pub async fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        succession: Succession,
        actor: Actor,
    ) -> Result<Self, RegistryError> {
        let states = store.all_models().await?;
        let registry = Self::new(store, clock, succession, actor);
        registry.install(&states);
        Ok(registry)
    }

    /// A registry over `store` whose router starts empty: the caller
    /// installs the models it reads ([`Self::install`]), all at once or
    /// each when first needed.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        succession: Succession,
        actor: Actor,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                succession,
                router: Router::default(),
            }),
            actor,
            lease: None,
            expected: None,
        }
    }

    /// Installs states the caller read (from [`Store::all_models`] or
    /// [`Store::model`]) in the router; a model it holds at a newer
    /// revision keeps it, so the router never goes backwards.
    pub fn install(&self, states: &[(ModelId, ModelState)]) {
        self.shared.router.update_all(states);
    }

    /// [`Self::install`] for one model, without copying the router's table
    /// unless the model is new to it.
    pub fn install_one(&self, model_id: &ModelId, state: &ModelState) {
        self.shared.router.update(model_id, state);
    }

    /// The revision of a model the router holds, if it holds it (a model
    /// with nothing to serve or resolve is not held).
    pub fn routed_revision(&self, model_id: &str) -> Option<u64> {
        self.shared.router.revision(model_id)
    }

    /// A handle on the same registry that records `actor` as the author of
    /// what it does.
    pub fn acting_as(&self, actor: Actor) -> Self {
        Self {
            actor,
            ..self.clone()
        }
    }

    /// A handle on the same registry whose changes are made only while the
    /// model is at `revision` (what an HTTP `If-Match` asks): on any other,
    /// they fail with [`RegistryError::RevisionMismatch`], changing nothing,
    /// and are not retried. The check and the change are one commit: the
    /// commit is guarded by the revision it checked.
    pub fn expecting(&self, revision: u64) -> Self {
        Self {
            expected: Some(revision),
            ..self.clone()
        }
    }

    /// Refuses `state` when this handle expects another revision.
    fn check_expected(&self, model_id: &ModelId, state: &ModelState) -> Result<(), RegistryError> {
        match self.expected {
            Some(expected) if expected != state.revision => Err(RegistryError::RevisionMismatch {
                model_id: model_id.clone(),
                expected,
                current: state.revision,
            }),
            _ => Ok(()),
        }
    }

    /// A handle on the same registry whose commits are made as the holder
    /// of `lease` ([`Commit::fenced`]): once the lease lapses or changes
    /// hands they fail with [`StoreError::LeaseLost`], writing nothing.
    pub fn holding(&self, lease: Lease) -> Self {
        Self {
            lease: Some(lease),
            ..self.clone()
        }
    }

    /// The commit as this handle makes it: fenced when it holds a lease.
    fn fence(&self, commit: Commit) -> Commit {
        match &self.lease {
            Some(lease) => commit.fenced(lease, self.shared.clock.now()),
            None => commit,
        }
    }

    /// The actor this handle records.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Registers a new, inactive version; stamps its creation time, names
    /// it `<model> <version>` if it has no display name, and fixes its
    /// provider model name (the model id if none is given).
    pub async fn register(&self, mut version: ModelVersion) -> Result<ModelVersion, RegistryError> {
        if version.display_name.is_empty() {
            version.display_name = format!("{} {}", version.model_id, version.version);
        }
        // Fixed here: what the version calls never changes afterwards.
        if version.serving.provider_model.is_none() {
            version.serving.provider_model = Some(version.model_id.to_string());
        }
        version.validate()?;
        if version.status() != ModelStatus::Inactive {
            return Err(RegistryError::NotInactive {
                model_id: version.model_id.clone(),
                version: version.version.clone(),
                status: version.status(),
            });
        }
        let model_id = version.model_id.clone();
        let number = version.version.clone();
        self.change(&model_id, &number, |state, now, actor| {
            if state.version(&version.version).is_some() {
                return Err(RegistryError::VersionAlreadyExists {
                    model_id: version.model_id.clone(),
                    version: version.version.clone(),
                });
            }
            let mut record = version.clone();
            record.created_at = now;
            record.updated_at = now;

            let event = event(AuditEventKind::ModelRegistered, actor, &record, now)
                .with_detail("provider", &record.provider)
                .with_detail("providerModel", record.provider_model());
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Deploys a version for testing.
    pub async fn deploy_to_testing(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        self.change_version(
            model_id,
            version,
            AuditEventKind::DeployedToTesting,
            |record, now| Ok(record.deploy_to_testing(now)?),
        )
        .await
    }

    /// Starts a canary taking `weight` of the model's traffic.
    pub async fn start_canary(
        &self,
        model_id: &ModelId,
        version: &Version,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, RegistryError> {
        self.change(model_id, version, |state, now, actor| {
            if let Some(running) = canary(state).filter(|c| &c.version != version) {
                return Err(RegistryError::CanaryRunning {
                    model_id: model_id.clone(),
                    version: running.version.clone(),
                });
            }
            let mut record = find(state, model_id, version)?.clone();
            record.start_canary(weight, now)?;
            if state.active().is_none() {
                return Err(RegistryError::CanaryWithoutActive {
                    model_id: model_id.clone(),
                    version: version.clone(),
                });
            }
            let event = event(AuditEventKind::CanaryStarted, actor, &record, now)
                .with_weight(weight.percent());
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Changes the traffic share of the model's canary.
    pub async fn set_canary_weight(
        &self,
        model_id: &ModelId,
        weight: CanaryWeight,
    ) -> Result<ModelVersion, RegistryError> {
        self.change_canary(model_id, |record, now, actor| {
            let previous = record.canary_weight().map_or(0, |w| w.percent());
            record.set_canary_weight(weight, now)?;
            let event = event(AuditEventKind::CanaryWeightChanged, actor, record, now)
                .with_detail("previousWeight", previous)
                .with_weight(weight.percent());
            Ok(event)
        })
        .await
    }

    /// Stops the model's canary; it goes back to inactive.
    pub async fn abort_canary(&self, model_id: &ModelId) -> Result<ModelVersion, RegistryError> {
        self.abort_canary_because(model_id, None).await
    }

    /// Stops the model's canary, recording why in the audit entry.
    pub async fn abort_canary_because(
        &self,
        model_id: &ModelId,
        reason: Option<&str>,
    ) -> Result<ModelVersion, RegistryError> {
        self.change_canary(model_id, |record, now, actor| {
            record.deactivate(now)?;
            let aborted = event(AuditEventKind::CanaryAborted, actor, record, now);
            Ok(match reason {
                Some(reason) => aborted.with_reason(reason),
                None => aborted,
            })
        })
        .await
    }

    /// Makes the model's canary its active version; the previous active one
    /// is replaced as [`Self::activate`] describes. Ungated: the facade's
    /// `promote_canary` asks the policy through [`Self::deploy`].
    pub async fn promote_canary(&self, model_id: &ModelId) -> Result<ModelVersion, RegistryError> {
        self.ungated(model_id, Target::Canary).await
    }

    /// Makes a version the one serving the model's traffic. The previous
    /// active version is deprecated (with the default grace period and this
    /// version as its replacement) or deactivated, as the [`Succession`]
    /// the registry was given says — in the same commit. Ungated: the facade's
    /// `activate_model` asks the policy through [`Self::deploy`].
    pub async fn activate(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        self.ungated(model_id, Target::Version(version)).await
    }

    async fn ungated(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
    ) -> Result<ModelVersion, RegistryError> {
        let version = self.target_version(model_id, target).await?;
        self.change(model_id, &version, |state, now, actor| {
            let (record, kind) = target_record(state, model_id, target, &version)?;
            self.take_over(state, record, kind, now, actor, None)
        })
        .await
    }

    /// The version `target` names as the model is now.
    async fn target_version(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
    ) -> Result<Version, RegistryError> {
        match target {
            Target::Version(version) => Ok(version.clone()),
            Target::Canary => {
                let state = self.shared.store.model(model_id).await?;
                Ok(canary(&state)
                    .ok_or_else(|| RegistryError::NoCanary {
                        model_id: model_id.clone(),
                    })?
                    .version
                    .clone())
            }
        }
    }

    /// Makes `target` active if `gate` allows it, in one commit: `gate` is
    /// asked with the model's state and the target's record as read for
    /// that commit (again after a concurrent change), and its decision's
    /// audit entry lands with the activation — or alone, when it refuses.
    /// Returns the version as written (`None` when refused) and what the
    /// gate returned beside its verdict on the attempt that committed.
    pub async fn deploy<T, G>(
        &self,
        model_id: &ModelId,
        target: Target<'_>,
        gate: G,
    ) -> Result<(Option<ModelVersion>, T), RegistryError>
    where
        G: Fn(&ModelState, &ModelVersion, DateTime<Utc>) -> (Gate, T),
    {
        let version = self.target_version(model_id, target).await?;
        let mut attempt = 0;
        loop {
            let state = self.shared.store.model(model_id).await?;
            self.check_expected(model_id, &state)?;
            let now = self.shared.clock.now();
            let (record, kind) = target_record(&state, model_id, target, &version)?;
            let (verdict, said) = gate(&state, record, now);
            let (decision, forced) = match verdict {
                Gate::Refuse { decision } => {
                    let alone = self.fence(Commit::audit_only().audit(decision));
                    self.shared.store.commit(alone).await?;
                    return Ok((None, said));
                }
                Gate::Allow { decision, forced } => (decision, forced),
            };
            let mut planned =
                self.take_over(&state, record, kind, now, &self.actor, forced.as_ref())?;
            planned.events.splice(0..0, decision);
            match self
                .commit_planned(model_id, &state, planned, &version)
                .await
            {
                Err(RegistryError::Store(StoreError::Conflict { .. })) if attempt < RETRIES => {
                    attempt += 1
                }
                written => return Ok((Some(written?), said)),
            }
        }
    }

    /// Takes a version out of service without deprecating it. The active
    /// version cannot be while a canary runs
    /// ([`RegistryError::CanaryNeedsActive`]): promote or abort it first.
    pub async fn deactivate(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        self.change(model_id, version, |state, now, actor| {
            let mut record = find(state, model_id, version)?.clone();
            keeps_the_active_beside_a_canary(state, &record)?;
            record.deactivate(now)?;
            let event = event(AuditEventKind::ModelDeactivated, actor, &record, now);
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Deprecates a version: why, what replaces it (another version of the
    /// same model, neither retired nor deprecated), and the grace
    /// period before its end of life (the [`Succession`]'s default when `None`).
    pub async fn deprecate(
        &self,
        model_id: &ModelId,
        version: &Version,
        reason: &str,
        replacement: Option<&Version>,
        grace_period_days: Option<u32>,
    ) -> Result<ModelVersion, RegistryError> {
        self.change(model_id, version, |state, now, actor| {
            if let Some(replacement) = replacement {
                check_replacement(state, model_id, version, replacement)?;
            }
            let mut record = find(state, model_id, version)?.clone();
            keeps_the_active_beside_a_canary(state, &record)?;
            let grace =
                grace_period_days.unwrap_or(self.shared.succession.default_grace_period_days);
            let info = ModelDeprecationInfo::new(reason, replacement.cloned(), grace, now)?;
            record.deprecate(info, now)?;
            let event = deprecation_event(actor, &record, now);
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Retires a version for good.
    pub async fn retire(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        self.change_version(
            model_id,
            version,
            AuditEventKind::ModelRetired,
            |record, now| Ok(record.retire(now)?),
        )
        .await
    }

    /// Rolls the model back to `target`: a return, in place of the active
    /// version, to a version that served as active before (its record, or
    /// for records of earlier builds its audit history, says so) and is
    /// neither retired nor the running canary. Anything else is
    /// [`RegistryError::InvalidRollbackTarget`] saying what to do
    /// (activating a version that never served goes through the policy, as
    /// does promoting a canary). `target` becomes active; the version that
    /// was active is marked rolled back: deprecated with reason
    /// `rolled back to <target>: <reason>`, `target` as its replacement and
    /// the [`Succession`]'s default grace period. One commit, audited as a rollback
    /// naming both versions.
    pub async fn rollback(
        &self,
        model_id: &ModelId,
        target: &Version,
        reason: &str,
    ) -> Result<ModelVersion, RegistryError> {
        // Having served is permanent, so reading it before the commit is
        // safe. The record says so; the audit log is read only for a record
        // that does not (never active, or written by an earlier build).
        let stored = self.shared.store.version(model_id, target).await?;
        let served = match stored.and_then(|r| r.last_active_at()) {
            Some(_) => true,
            None => {
                let history = self
                    .shared
                    .store
                    .audit(&AuditQuery::all().model(model_id.clone()))
                    .await?;
                AuditReplay::of(&history)
                    .version(model_id, target)
                    .is_some_and(|r| r.served)
            }
        };
        self.change(model_id, target, |state, now, actor| {
            let mut record = find(state, model_id, target)?.clone();
            let refuse = |reason: String| RegistryError::InvalidRollbackTarget {
                model_id: model_id.clone(),
                version: target.clone(),
                status: record.status(),
                reason,
            };
            match record.status() {
                ModelStatus::Retired => {
                    return Err(refuse("retired versions never serve again".into()))
                }
                ModelStatus::Active => return Err(refuse("it is already active".into())),
                ModelStatus::Canary => {
                    return Err(refuse(
                        "it is the running canary; promote it (`lifecycle canary promote`), which the policy judges".into(),
                    ))
                }
                _ => {}
            }
            if state.active().is_none() {
                return Err(refuse(
                    "nothing is active to roll back from; activate a version instead (`lifecycle activate`), which the policy judges".into(),
                ));
            }
            if !served {
                return Err(refuse(
                    "it never served as the active version, so this would be a first deployment; activate it instead (`lifecycle activate`), which the policy judges".into(),
                ));
            }
            record.activate(now)?;
            let mut plan = Plan::default();
            let mut rolled_back = event(AuditEventKind::ModelRolledBack, actor, &record, now)
                .with_reason(reason);
            if let Some(previous) = state.active() {
                let mut previous = previous.clone();
                let why = format!("rolled back to {target}: {reason}");
                let grace = self.shared.succession.default_grace_period_days;
                previous.deprecate(
                    ModelDeprecationInfo::new(why, Some(target.clone()), grace, now)?,
                    now,
                )?;
                rolled_back = rolled_back.with_detail("previous", &previous.version);
                plan.events.push(deprecation_event(actor, &previous, now));
                plan.versions.push(previous);
            }
            plan.events.push(rolled_back);
            plan.versions.push(record);
            Ok(plan)
        })
        .await
    }

    /// Routes one request of `model_id` by its key (a user id, a session id):
    /// the canary for its weight's share of keys, the active version for the
    /// rest. No store access and no allocation.
    pub fn route(&self, model_id: &str, request_key: &[u8]) -> Option<Routed> {
        self.shared.router.route(model_id, request_key)
    }

    /// The highest usable (active, canary or deprecated) version matching a
    /// SemVer requirement such as `^2.1`, with a deprecation notice when it
    /// is deprecated.
    pub fn resolve(&self, model_id: &str, requirement: &str) -> Result<Resolved, RegistryError> {
        let no_match = || RegistryError::NoMatchingVersion {
            model_id: model_id.to_string(),
            requirement: requirement.to_string(),
        };
        let parsed = VersionReq::parse(requirement).map_err(|e| {
            lifecycle_domain::DomainError::field(
                "requirement",
                format!("{requirement:?} is not a SemVer requirement ({e}); write e.g. ^2.1 or >=1.2, <2"),
            )
        })?;
        let snapshot = self.shared.router.snapshot(model_id).ok_or_else(no_match)?;
        let version = snapshot
            .usable
            .iter()
            .find(|v| v.version.matches(&parsed))
            .ok_or_else(no_match)?
            .clone();
        let now = self.shared.clock.now();
        let deprecation = version
            .deprecation()
            .filter(|_| version.is_deprecated())
            .map(|d| DeprecationNotice {
                days_until_eol: d.days_until_eol(now),
                replacement: d.replacement_version.clone(),
                reason: d.reason.clone(),
            });
        Ok(Resolved {
            version,
            deprecation,
        })
    }

    /// One version.
    pub async fn get(
        &self,
        model_id: &ModelId,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        let state = self.shared.store.model(model_id).await?;
        find(&state, model_id, version).cloned()
    }

    /// Every version of a model, lowest first; empty for an unknown model.
    pub async fn versions(&self, model_id: &ModelId) -> Result<Vec<ModelVersion>, RegistryError> {
        Ok(self.shared.store.model(model_id).await?.versions)
    }

    /// The model's active version, if any.
    pub async fn active(&self, model_id: &ModelId) -> Result<Option<ModelVersion>, RegistryError> {
        Ok(self.shared.store.model(model_id).await?.active().cloned())
    }

    /// Every registered model.
    pub async fn models(&self) -> Result<Vec<ModelId>, RegistryError> {
        Ok(self.shared.store.models().await?)
    }

    /// Makes `record` active in place of the current active version
    /// (deprecated or deactivated by policy).
    fn take_over(
        &self,
        state: &ModelState,
        record: &ModelVersion,
        kind: AuditEventKind,
        now: DateTime<Utc>,
        actor: &Actor,
        forced: Option<&Override>,
    ) -> Result<Plan, RegistryError> {
        let mut record = record.clone();
        record.activate(now)?;
        let mut plan = Plan::default();
        let mut taken = event(kind, actor, &record, now);
        if let Some(forced) = forced {
            taken.message = format!(
                "{}, overriding the policy ({}) because: {}",
                taken.message, forced.refused, forced.reason
            );
            taken = taken
                .with_severity(Severity::Warning)
                .with_detail("override", &forced.reason)
                .with_detail("refused", &forced.refused);
        }
        if let Some(previous) = state.active() {
            let mut previous = previous.clone();
            taken = taken.with_detail("previous", &previous.version);
            let rules = self.shared.succession;
            if rules.displaced == Displaced::Deprecated {
                let why = format!("superseded by {}", record.version);
                let info = ModelDeprecationInfo::new(
                    why,
                    Some(record.version.clone()),
                    rules.default_grace_period_days,
                    now,
                )?;
                previous.deprecate(info, now)?;
                plan.events.push(deprecation_event(actor, &previous, now));
            } else {
                previous.deactivate(now)?;
                plan.events.push(event(
                    AuditEventKind::ModelDeactivated,
                    actor,
                    &previous,
                    now,
                ));
            }
            plan.versions.push(previous);
        }
        // The chain tells the moves in an order that holds at every step:
        // the previous version leaves before this one takes over.
        plan.events.push(taken);
        plan.versions.push(record);
        Ok(plan)
    }

    /// Applies `edit` to one version in one commit, audited as `kind`.
    async fn change_version<F>(
        &self,
        model_id: &ModelId,
        version: &Version,
        kind: AuditEventKind,
        edit: F,
    ) -> Result<ModelVersion, RegistryError>
    where
        F: Fn(&mut ModelVersion, DateTime<Utc>) -> Result<(), RegistryError>,
    {
        self.change(model_id, version, |state, now, actor| {
            let mut record = find(state, model_id, version)?.clone();
            edit(&mut record, now)?;
            let event = event(kind, actor, &record, now);
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Applies `edit` to the model's canary in one commit.
    async fn change_canary<F>(
        &self,
        model_id: &ModelId,
        edit: F,
    ) -> Result<ModelVersion, RegistryError>
    where
        F: Fn(&mut ModelVersion, DateTime<Utc>, &Actor) -> Result<AuditEvent, RegistryError>,
    {
        let state = self.shared.store.model(model_id).await?;
        let version = canary(&state)
            .ok_or_else(|| RegistryError::NoCanary {
                model_id: model_id.clone(),
            })?
            .version
            .clone();
        self.change(model_id, &version, |state, now, actor| {
            let mut record = canary(state)
                .filter(|c| c.version == version)
                .ok_or_else(|| RegistryError::NoCanary {
                    model_id: model_id.clone(),
                })?
                .clone();
            let event = edit(&mut record, now, actor)?;
            Ok(Plan::one(record, event))
        })
        .await
    }

    /// Reads the model, plans the change, commits it guarded by the revision
    /// read, and on a concurrent change starts over (at most `RETRIES`
    /// times). Refreshes the router and returns `version` as written.
    async fn change<F>(
        &self,
        model_id: &ModelId,
        version: &Version,
        plan: F,
    ) -> Result<ModelVersion, RegistryError>
    where
        F: Fn(&ModelState, DateTime<Utc>, &Actor) -> Result<Plan, RegistryError>,
    {
        let store = &self.shared.store;
        let mut attempt = 0;
        loop {
            let state = store.model(model_id).await?;
            self.check_expected(model_id, &state)?;
            let now = self.shared.clock.now();
            let planned = plan(&state, now, &self.actor)?;
            if planned.versions.is_empty() && planned.events.is_empty() {
                return find(&state, model_id, version).cloned();
            }
            match self
                .commit_planned(model_id, &state, planned, version)
                .await
            {
                Err(RegistryError::Store(StoreError::Conflict { .. })) if attempt < RETRIES => {
                    attempt += 1
                }
                written => return written,
            }
        }
    }

    /// Commits `planned` guarded by `state`'s revision and refreshes the
    /// router; `version` as written, or the store's conflict when another
    /// commit came first.
    async fn commit_planned(
        &self,
        model_id: &ModelId,
        state: &ModelState,
        planned: Plan,
        version: &Version,
    ) -> Result<ModelVersion, RegistryError> {
        let after = state.apply(model_id, &planned.versions)?;
        let mut commit = Commit::for_model(model_id.clone(), state.revision);
        commit.versions = planned.versions;
        commit.audit = planned.events;
        self.shared.store.commit(self.fence(commit)).await?;
        self.shared.router.update(model_id, &after);
        find(&after, model_id, version).cloned()
    }
}

/// The version of a model, or the error naming what is registered.
fn find<'a>(
    state: &'a ModelState,
    model_id: &ModelId,
    version: &Version,
) -> Result<&'a ModelVersion, RegistryError> {
    if state.versions.is_empty() {
        return Err(RegistryError::UnknownModel {
            model_id: model_id.clone(),
        });
    }
    state
        .version(version)
        .ok_or_else(|| RegistryError::UnknownVersion {
            model_id: model_id.clone(),
            version: version.clone(),
            known: state
                .versions
                .iter()
                .map(|v| v.version.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn canary(state: &ModelState) -> Option<&ModelVersion> {
    state
        .versions
        .iter()
        .find(|v| v.status() == ModelStatus::Canary)
}

/// An audit event about `record` after the change, naming its new status.
/// Refuses to take the active version out of service while a canary runs:
/// the router would send the canary every request while it claims a share.
fn keeps_the_active_beside_a_canary(
    state: &ModelState,
    record: &ModelVersion,
) -> Result<(), RegistryError> {
    match canary(state) {
        Some(running) if record.status() == ModelStatus::Active => {
            Err(RegistryError::CanaryNeedsActive {
                model_id: record.model_id.clone(),
                canary: running.version.clone(),
                weight: running.canary_weight().map_or(0, |w| w.percent()),
            })
        }
        _ => Ok(()),
    }
}

/// Checks that `replacement` is a version users can move to: another
/// registered version of the model that is neither retired nor deprecated
/// itself (a version being deployed, inactive or in testing, may be named).
fn check_replacement(
    state: &ModelState,
    model_id: &ModelId,
    version: &Version,
    replacement: &Version,
) -> Result<(), RegistryError> {
    let refuse = |reason: String| RegistryError::InvalidReplacement {
        model_id: model_id.clone(),
        replacement: replacement.clone(),
        reason,
    };
    if replacement == version {
        return Err(refuse("a version cannot replace itself".into()));
    }
    let target = find(state, model_id, replacement)?;
    match target.status() {
        ModelStatus::Retired | ModelStatus::Deprecated => Err(refuse(format!(
            "it is {} itself; name a version users can stay on",
            target.status()
        ))),
        _ => Ok(()),
    }
}

fn event(
    kind: AuditEventKind,
    actor: &Actor,
    record: &ModelVersion,
    now: DateTime<Utc>,
) -> AuditEvent {
    let message = format!(
        "{} {}: {kind}, now {}",
        record.model_id,
        record.version,
        record.status()
    );
    AuditEvent::new(kind, actor.clone(), message, now)
        .for_version(record.model_id.clone(), record.version.clone())
        .with_status(record.status())
}

fn deprecation_event(actor: &Actor, record: &ModelVersion, now: DateTime<Utc>) -> AuditEvent {
    let mut e = event(AuditEventKind::ModelDeprecated, actor, record, now);
    if let Some(d) = record.deprecation() {
        e = e
            .with_reason(&d.reason)
            .with_detail("endOfLife", d.end_of_life.to_rfc3339());
        if let Some(replacement) = &d.replacement_version {
            e = e.with_replacement(replacement);
        }
    }
    e
}

/// The record `target` names in `state` (the canary must still be
/// `version`), and the kind of entry its activation is.
fn target_record<'a>(
    state: &'a ModelState,
    model_id: &ModelId,
    target: Target<'_>,
    version: &Version,
) -> Result<(&'a ModelVersion, AuditEventKind), RegistryError> {
    match target {
        Target::Version(version) => Ok((
            find(state, model_id, version)?,
            AuditEventKind::ModelActivated,
        )),
        Target::Canary => canary(state)
            .filter(|c| &c.version == version)
            .map(|record| (record, AuditEventKind::CanaryPromoted))
            .ok_or_else(|| RegistryError::NoCanary {
                model_id: model_id.clone(),
            }),
    }
}
