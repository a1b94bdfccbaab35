//! The model registry of lifecycle: registration, lifecycle transitions,
//! rollback, version requirements, and the traffic router.
//!
//! [`ModelRegistry`] is a service over the storage port: every operation
//! reads the model, plans the change with the domain's transition rules,
//! and commits the changed versions with the audit events describing them
//! in one revision-guarded commit, retrying a bounded number of times when
//! another writer got there first. After each commit it refreshes the
//! [`Router`]'s in-memory snapshot, so routing never touches the store.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use lifecycle_domain::*;
//! use lifecycle_registry::{Lane, ModelRegistry};
//! use lifecycle_store::{MemoryStore, SystemClock, Clock};
//!
//! let clock = Arc::new(SystemClock);
//! let registry = ModelRegistry::open(
//!     Arc::new(MemoryStore::new()), clock.clone(), Succession::default(), Actor::new("alice")?,
//! ).await?;
//! let model = ModelId::new("gpt-4-turbo")?;
//! for n in [1, 2] {
//!     let record = ModelVersion::new(model.clone(), Version::new(n, 0, 0), "openai",
//!         ModelCapabilities::new(128_000, 4_096), ModelCostInfo::usd(dec!(0.01), dec!(0.03)), clock.now());
//!     registry.register(record).await?;
//! }
//! registry.activate(&model, &Version::new(1, 0, 0)).await?;
//! registry.start_canary(&model, &Version::new(2, 0, 0), CanaryWeight::new(5)?).await?;
//! let routed = registry.route("gpt-4-turbo", b"user-42").expect("an active version");
//! assert!(matches!(routed.lane, Lane::Active | Lane::Canary));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which wires the registry to a store and a clock.

mod error;
mod registry;
mod router;

pub use error::RegistryError;
pub use registry::{DeprecationNotice, Gate, ModelRegistry, Override, Resolved, Target};
pub use router::{bucket, Lane, Routed, Router};
