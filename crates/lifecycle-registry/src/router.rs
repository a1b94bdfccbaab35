//! The traffic router: an in-memory snapshot of each model's serving
//! versions, read without locks, allocation or store access.

use std::sync::Arc;

use arc_swap::ArcSwap;
use lifecycle_domain::{ModelId, ModelStatus, ModelVersion};
use lifecycle_store::ModelState;
use rustc_hash::FxHashMap;

/// Which lane of a model's traffic a request was routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The active version.
    Active,
    /// The canary, for its weight's share of request keys.
    Canary,
}

/// Where one request goes: a shared pointer to the version's record (no copy).
/// What to call is on it: `routed.version.provider_model()`, and the
/// endpoint, request parameters and prompt in `routed.version.serving`.
///
/// Only active versions and canaries are routed, and neither is ever
/// deprecated; a caller pinning a range with `resolve` gets a deprecation
/// notice instead.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The version that serves the request.
    pub version: Arc<ModelVersion>,
    /// Whether it is the active version or the canary.
    pub lane: Lane,
}

/// What the router knows of one model, as of one revision.
#[derive(Debug, Default)]
pub(crate) struct ModelSnapshot {
    pub revision: u64,
    pub active: Option<Arc<ModelVersion>>,
    /// The canary and its weight in percent.
    pub canary: Option<(Arc<ModelVersion>, u8)>,
    /// Active, canary and deprecated versions, highest first: what `resolve` picks from.
    pub usable: Vec<Arc<ModelVersion>>,
}

impl ModelSnapshot {
    pub fn of(state: &ModelState) -> Self {
        let mut snapshot = Self {
            revision: state.revision,
            ..Self::default()
        };
        for version in state.versions.iter().rev() {
            let shared = Arc::new(version.clone());
            match version.status() {
                ModelStatus::Active => snapshot.active = Some(shared.clone()),
                ModelStatus::Canary => {
                    let weight = version.canary_weight().map_or(0, |w| w.percent());
                    snapshot.canary = Some((shared.clone(), weight));
                }
                _ => {}
            }
            if version.is_usable() {
                snapshot.usable.push(shared);
            }
        }
        snapshot
    }
}

type Table = FxHashMap<ModelId, Arc<ArcSwap<ModelSnapshot>>>;

/// Routes request keys to versions. Sticky and deterministic: a key maps to
/// one of 10,000 buckets by a fixed hash, and a canary at weight w% serves
/// the keys whose bucket is below 100·w, so the same key gets the same
/// version while weights do not change, and raising a weight only moves
/// keys from the active version to the canary.
#[derive(Debug, Default)]
pub struct Router {
    table: ArcSwap<Table>,
}

impl Router {
    /// Routes `request_key` for `model_id`; `None` when the model has no
    /// active version and no canary.
    pub fn route(&self, model_id: &str, request_key: &[u8]) -> Option<Routed> {
        let table = self.table.load();
        let snapshot = table.get(model_id)?.load();
        if let Some((canary, weight)) = &snapshot.canary {
            if bucket(request_key) < u32::from(*weight) * 100 || snapshot.active.is_none() {
                return Some(Routed {
                    version: canary.clone(),
                    lane: Lane::Canary,
                });
            }
        }
        snapshot.active.as_ref().map(|active| Routed {
            version: active.clone(),
            lane: Lane::Active,
        })
    }

    /// The revision the router holds of a model, if it holds the model.
    pub(crate) fn revision(&self, model_id: &str) -> Option<u64> {
        Some(self.table.load().get(model_id)?.load().revision)
    }

    /// The snapshot of a model, if it has one.
    pub(crate) fn snapshot(&self, model_id: &str) -> Option<Arc<ModelSnapshot>> {
        Some(self.table.load().get(model_id)?.load_full())
    }

    /// Installs a model's state, unless the router already holds a newer revision.
    pub(crate) fn update(&self, model_id: &ModelId, state: &ModelState) {
        let fresh = Arc::new(ModelSnapshot::of(state));
        if !self.table.load().contains_key(model_id.as_str()) {
            // A model with nothing to serve or resolve routes as if absent:
            // registering a catalogue of inactive versions copies no table.
            if fresh.usable.is_empty() {
                return;
            }
            self.table.rcu(|table| {
                let mut table = Table::clone(table);
                table
                    .entry(model_id.clone())
                    .or_insert_with(|| Arc::new(ArcSwap::new(fresh.clone())));
                table
            });
        }
        // The slot may hold an older or a newer state than ours (concurrent writers).
        if let Some(slot) = self.table.load().get(model_id.as_str()) {
            install(slot, &fresh);
        }
    }

    /// Installs many models' states with one copy of the table: loading a
    /// catalogue costs time linear in its size.
    pub(crate) fn update_all(&self, states: &[(ModelId, ModelState)]) {
        let fresh: Vec<(&ModelId, Arc<ModelSnapshot>)> = states
            .iter()
            .map(|(id, state)| (id, Arc::new(ModelSnapshot::of(state))))
            .collect();
        self.table.rcu(|table| {
            let mut table = Table::clone(table);
            for (model_id, fresh) in &fresh {
                match table.get(model_id.as_str()) {
                    Some(slot) => install(slot, fresh),
                    None if fresh.usable.is_empty() => {}
                    None => {
                        table.insert((*model_id).clone(), Arc::new(ArcSwap::new(fresh.clone())));
                    }
                }
            }
            table
        });
    }
}

/// Puts `fresh` in `slot` unless the slot holds a newer revision (concurrent writers).
fn install(slot: &ArcSwap<ModelSnapshot>, fresh: &Arc<ModelSnapshot>) {
    slot.rcu(|current| {
        if current.revision > fresh.revision {
            current.clone()
        } else {
            fresh.clone()
        }
    });
}

/// The bucket (0..10,000) of a request key: FNV-1a, then a 64-bit finalizer
/// so that keys differing in one character spread evenly. Fixed forever:
/// changing it would move every sticky key.
pub fn bucket(key: &[u8]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    (hash % 10_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_fixed_values() {
        // Pinned: a change here moves every user to another version.
        let pinned: Vec<u32> = [&b"user-1"[..], b"user-2", b"a"]
            .iter()
            .map(|k| bucket(k))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 3] = [5477, 2635, 8315];
}
