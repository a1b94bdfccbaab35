//! Building a `ModelLifecycleManager`: which store, which clock, which rules, who acts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lifecycle_domain::{Actor, EvaluationConfig, PolicyConfig};
use lifecycle_store::{Clock, MemoryStore, Store, SystemClock};
use lifecycle_store_postgres::PostgresStore;
use lifecycle_store_sled::SledStore;

use crate::{LifecycleError, Loading, ModelLifecycleManager};

/// Where the manager keeps its state.
enum Backend {
    Sled(PathBuf),
    Postgres(String),
    Memory,
    Store(Arc<dyn Store>),
}

/// Configures a [`ModelLifecycleManager`]. The defaults: the durable sled
/// store in `./lifecycle-data`, the system clock, the default evaluation
/// and policy settings, and the actor `lifecycle`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use lifecycle::ModelLifecycleManager;
/// let manager = ModelLifecycleManager::builder().memory().build().await?;
/// assert_eq!(manager.store_kind(), "memory");
/// # Ok::<(), lifecycle::LifecycleError>(())
/// # }).unwrap();
/// ```
pub struct Builder {
    backend: Backend,
    clock: Arc<dyn Clock>,
    evaluation: EvaluationConfig,
    policy: PolicyConfig,
    actor: Option<Actor>,
    alert_check: Option<Duration>,
    change_poll: Option<Duration>,
    loading: Loading,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            backend: Backend::Sled(PathBuf::from("lifecycle-data")),
            clock: Arc::new(SystemClock),
            evaluation: EvaluationConfig::default(),
            policy: PolicyConfig::default(),
            actor: None,
            alert_check: Some(Duration::from_secs(1)),
            change_poll: Some(Duration::from_secs(1)),
            loading: Loading::AtStart,
        }
    }
}

impl Builder {
    /// Keeps state in the sled store in directory `path` (the default, in `./lifecycle-data`).
    pub fn sled(self, path: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Sled(path.into()),
            ..self
        }
    }

    /// Keeps state in the PostgreSQL database at `url`
    /// (`postgres://user:password@host:5432/database`): for many processes
    /// and machines on one state. The schema is created or upgraded when
    /// the manager is built.
    pub fn postgres(self, url: impl Into<String>) -> Self {
        Self {
            backend: Backend::Postgres(url.into()),
            ..self
        }
    }

    /// Keeps state in memory only: for tests and throwaway runs.
    pub fn memory(self) -> Self {
        Self {
            backend: Backend::Memory,
            ..self
        }
    }

    /// Keeps state in any store adapter.
    pub fn store(self, store: Arc<dyn Store>) -> Self {
        Self {
            backend: Backend::Store(store),
            ..self
        }
    }

    /// Reads time from `clock` (a `ManualClock` in tests and simulations).
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Judges versions by these thresholds.
    pub fn evaluation_config(self, evaluation: EvaluationConfig) -> Self {
        Self { evaluation, ..self }
    }

    /// Applies this lifecycle policy.
    pub fn policy_config(self, policy: PolicyConfig) -> Self {
        Self { policy, ..self }
    }

    /// Records `actor` as the author of changes, unless a handle from
    /// [`ModelLifecycleManager::acting_as`] names another.
    pub fn actor(self, actor: Actor) -> Self {
        Self {
            actor: Some(actor),
            ..self
        }
    }

    /// How often the background task evaluates every version and raises
    /// alerts (default every second); `None` leaves it to the caller
    /// (`ModelLifecycleManager::check_alerts`), as tests with a manual
    /// clock do.
    pub fn alert_check_interval(self, every: Option<Duration>) -> Self {
        Self {
            alert_check: every,
            ..self
        }
    }

    /// How often to read the store's change feed, so that what other
    /// managers on the same store commit (registrations, promotions,
    /// retirements) is routed and recorded here too (default every second;
    /// `None`: never, for a manager alone on its store).
    pub fn change_poll_interval(self, every: Option<Duration>) -> Self {
        Self {
            change_poll: every,
            ..self
        }
    }

    /// When to read the store's models into memory: all at start (the
    /// default, for a manager that lives as long as its application), or
    /// each when first used, for a short-lived process on a large
    /// catalogue (see [`Loading`]).
    pub fn loading(self, loading: Loading) -> Self {
        Self { loading, ..self }
    }

    /// Opens the store and wires the services. On a tokio runtime it also
    /// starts the background tasks: metrics checkpointer and publisher,
    /// alert checker and auditor, and automatic rollback when the policy
    /// asks for it.
    pub async fn build(self) -> Result<ModelLifecycleManager, LifecycleError> {
        let store: Arc<dyn Store> = match self.backend {
            Backend::Sled(path) => Arc::new(SledStore::open(path)?),
            Backend::Postgres(url) => Arc::new(PostgresStore::connect(&url).await?),
            Backend::Memory => Arc::new(MemoryStore::new()),
            Backend::Store(store) => store,
        };
        let actor = match self.actor {
            Some(actor) => actor,
            None => Actor::new("lifecycle")?,
        };
        ModelLifecycleManager::start(crate::manager::Setup {
            store,
            clock: self.clock,
            evaluation: self.evaluation,
            policy: self.policy,
            actor,
            alert_check: self.alert_check,
            change_poll: self.change_poll,
            loading: self.loading,
        })
        .await
    }
}
