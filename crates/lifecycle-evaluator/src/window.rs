//! The rolling window: recent requests only, built from mergeable sub-windows.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::InferenceResult;
use serde::{Deserialize, Serialize};

use crate::reservoir::{Reservoir, Sampled};
use crate::stats::{VersionStats, EXACT_LIMIT};

/// Sub-windows per window: the window moves forward a tenth at a time.
const SLOTS: usize = 10;

/// The last `length` of requests, as `SLOTS` sub-windows in a ring, and
/// everything before them: when the ring comes round to a sub-window, its
/// statistics move into `closed` and it starts empty. So each request is
/// recorded once, and the lifetime is `closed` plus the ring.
///
/// Serialized whole into metrics checkpoints, so that a restarted process
/// judges the same window (sub-windows are numbered by time, not by process).
/// Only the sub-windows that hold something are written (a checkpoint of a
/// version seen for a minute is a tenth of the size); reading puts each back
/// in its place in the ring, which its number gives.
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "StoredWindow")]
pub struct Window {
    slot_ms: i64,
    #[serde(serialize_with = "occupied")]
    slots: Vec<Slot>,
    /// Boxed: cold, and kept off the cache lines the hot path touches.
    closed: Box<VersionStats>,
    /// The time span [start, end) in ms of the sub-window last recorded
    /// into, and its place in the ring: most calls need no division.
    #[serde(skip)]
    current: (i64, i64, usize),
    /// Requests recorded since a checkpoint was last asked for.
    #[serde(skip)]
    since_checkpoint: u64,
}

/// One sub-window: its number since the epoch, its statistics and a sample
/// of its requests.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Slot {
    number: i64,
    stats: VersionStats,
    sample: Reservoir,
}

impl Slot {
    /// Records one (already validated) result; `per_token` is the price of
    /// a prompt and a completion token (for the sample's approximate cost),
    /// `None` when the price is unknown.
    pub fn record(&mut self, result: &InferenceResult, per_token: Option<(f64, f64)>) {
        self.stats.record(result);
        let cost = per_token.map(|(input, output)| {
            (f64::from(result.input_tokens) * input + f64::from(result.output_tokens) * output)
                as f32
        });
        self.sample.offer(Sampled {
            latency_ms: result.success.then_some(result.latency_ms as f32),
            confidence: result.confidence.map(|c| c as f32),
            cost,
            output_tokens: result.output_tokens,
        });
    }
}

/// A window as a checkpoint holds it: the occupied sub-windows only (all of
/// them, empty ones too, in checkpoints written before).
#[derive(Deserialize)]
struct StoredWindow {
    slot_ms: i64,
    slots: Vec<Slot>,
    closed: Box<VersionStats>,
}

fn occupied<S: serde::Serializer>(slots: &[Slot], to: S) -> Result<S::Ok, S::Error> {
    to.collect_seq(slots.iter().filter(|s| s.number != i64::MIN))
}

impl From<StoredWindow> for Window {
    fn from(stored: StoredWindow) -> Self {
        let mut window = Window {
            slot_ms: stored.slot_ms.max(1),
            slots: Vec::new(),
            closed: stored.closed,
            current: (0, 0, 0),
            since_checkpoint: 0,
        };
        let mut slots = stored.slots;
        slots.retain(|s| s.number != i64::MIN);
        // Oldest first: of two sub-windows in one place, the older is closed.
        slots.sort_by_key(|s| s.number);
        for slot in slots {
            window.ring();
            let place = &mut window.slots[slot.number.rem_euclid(SLOTS as i64) as usize];
            let old = std::mem::replace(place, slot);
            window.closed.merge(&old.stats);
        }
        window
    }
}

impl Window {
    /// A window of `length_secs` seconds (at least one).
    pub fn new(length_secs: u64) -> Self {
        let length_ms = (length_secs.max(1) * 1000) as i64;
        Self {
            slot_ms: (length_ms / SLOTS as i64).max(1),
            // Made on first use: a catalogue of versions that record
            // nothing costs no rings.
            slots: Vec::new(),
            closed: Box::default(),
            current: (0, 0, 0),
            since_checkpoint: 0,
        }
    }

    /// Counts one request; true once every `interval` requests, when a
    /// checkpoint is due.
    pub fn checkpoint_due(&mut self, interval: u64) -> bool {
        self.since_checkpoint += 1;
        if self.since_checkpoint >= interval {
            self.since_checkpoint = 0;
            return true;
        }
        false
    }

    /// Adds another window's requests to this one: sub-windows of the same
    /// time merge, the older of two in one place of the ring is closed, and
    /// a window of another length is re-bucketed: each of its sub-windows
    /// goes, whole, into the sub-window of this length that holds its last
    /// moment (counts stay exact; times move by less than one of its
    /// sub-windows).
    pub fn merge(&mut self, other: &Window) {
        self.closed.merge(&other.closed);
        if other.slots.is_empty() {
            return;
        }
        self.ring();
        if other.slot_ms != self.slot_ms {
            let mut slots: Vec<&Slot> = other
                .slots
                .iter()
                .filter(|s| s.number != i64::MIN)
                .collect();
            slots.sort_by_key(|s| s.number);
            for old in slots {
                let last_ms = old
                    .number
                    .saturating_mul(other.slot_ms)
                    .saturating_add(other.slot_ms - 1);
                let number = last_ms.div_euclid(self.slot_ms);
                let index = number.rem_euclid(SLOTS as i64) as usize;
                if self.slots[index].number > number {
                    self.closed.merge(&old.stats);
                    continue;
                }
                let slot = self.current(last_ms);
                slot.stats.merge(&old.stats);
                slot.sample.merge(&old.sample);
            }
            self.current = (0, 0, 0);
            return;
        }
        for (mine, theirs) in self.slots.iter_mut().zip(&other.slots) {
            if theirs.number == mine.number {
                mine.stats.merge(&theirs.stats);
                mine.sample.merge(&theirs.sample);
            } else if theirs.number > mine.number {
                let old = std::mem::replace(mine, theirs.clone());
                self.closed.merge(&old.stats);
            } else {
                self.closed.merge(&theirs.stats);
            }
        }
        // The cached span may name a slot just replaced.
        self.current = (0, 0, 0);
    }

    /// Records one (already validated) result that happened at `at_ms`:
    /// into its sub-window when that is within the window ending at the
    /// newest result recorded (this one included) and not overtaken by a
    /// newer sub-window in its place, else into the lifetime only.
    pub fn record(&mut self, at_ms: i64, result: &InferenceResult, per_token: Option<(f64, f64)>) {
        let (start, end, index) = self.current;
        if (start..end).contains(&at_ms) {
            self.slots[index].record(result, per_token);
            return;
        }
        let number = at_ms.div_euclid(self.slot_ms);
        let newest = self.newest_slot().map_or(number, |n| n.max(number));
        let in_window = number > newest - SLOTS as i64;
        let overtaken = self
            .slots
            .get(number.rem_euclid(SLOTS as i64) as usize)
            .is_some_and(|slot| slot.number > number);
        if in_window && !overtaken {
            self.current(at_ms).record(result, per_token);
        } else {
            self.closed.record(result);
        }
    }

    /// The statistics of the sub-window the time `at_ms` (milliseconds since
    /// the epoch) falls in; an older sub-window there is closed first.
    pub fn current(&mut self, at_ms: i64) -> &mut Slot {
        let (start, end, index) = self.current;
        if (start..end).contains(&at_ms) {
            return &mut self.slots[index];
        }
        let number = at_ms.div_euclid(self.slot_ms);
        let index = number.rem_euclid(SLOTS as i64) as usize;
        self.current = (number * self.slot_ms, (number + 1) * self.slot_ms, index);
        self.ring();
        let slot = &mut self.slots[index];
        if slot.number != number {
            let old = std::mem::take(slot);
            slot.number = number;
            if old.stats.samples() > 0 {
                self.closed.merge(&old.stats);
            }
        }
        slot
    }

    /// The ring of sub-windows, made on first use (and after reading a
    /// checkpoint of a window that never recorded).
    fn ring(&mut self) {
        if self.slots.len() != SLOTS {
            self.slots = vec![
                Slot {
                    number: i64::MIN,
                    ..Slot::default()
                };
                SLOTS
            ];
        }
    }

    /// The number of the newest sub-window holding anything.
    fn newest_slot(&self) -> Option<i64> {
        self.slots
            .iter()
            .map(|s| s.number)
            .filter(|&n| n != i64::MIN)
            .max()
    }

    /// The last moment (ms since the epoch) of the newest sub-window that
    /// holds anything: where the window of this version's results ends.
    pub fn newest_ms(&self) -> Option<i64> {
        self.newest_slot().map(|n| {
            n.saturating_mul(self.slot_ms)
                .saturating_add(self.slot_ms - 1)
        })
    }

    /// The sub-windows within the window ending at `at`.
    fn in_window(&self, at: DateTime<Utc>) -> impl Iterator<Item = &Slot> {
        let newest = at.timestamp_millis().div_euclid(self.slot_ms);
        self.slots
            .iter()
            .filter(move |s| s.number > newest - SLOTS as i64 && s.number <= newest)
    }

    /// The request samples of the sub-windows within the window ending at `at`.
    pub fn samples(&self, at: DateTime<Utc>) -> Vec<Reservoir> {
        self.in_window(at).map(|s| s.sample.clone()).collect()
    }

    /// The statistics of the window ending at `at`.
    pub fn total(&self, at: DateTime<Utc>) -> VersionStats {
        let mut total = VersionStats::default();
        for slot in self.in_window(at) {
            total.merge(&slot.stats);
        }
        total
    }

    /// Forgets the sub-windows' exact latencies when together they hold
    /// more than [`EXACT_LIMIT`] (no span they make up can be exact then), so
    /// that a checkpoint stays small: at most the limit's worth of them.
    /// After a restart such a window is judged by its sketches until its
    /// sub-windows have turned over.
    pub fn drop_useless_exact(&mut self) {
        let kept: usize = self.slots.iter().map(|s| s.stats.exact_len()).sum();
        if kept > EXACT_LIMIT {
            self.slots.iter_mut().for_each(|s| s.stats.forget_exact());
        }
    }

    /// How many requests it ever recorded.
    pub fn recorded(&self) -> u64 {
        self.closed.samples() + self.slots.iter().map(|s| s.stats.samples()).sum::<u64>()
    }

    /// Everything ever recorded.
    pub fn lifetime(&self) -> VersionStats {
        let mut total = VersionStats::clone(&self.closed);
        for slot in &self.slots {
            total.merge(&slot.stats);
        }
        total
    }
}
