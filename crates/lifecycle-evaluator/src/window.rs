//! The rolling window: recent requests only, built from mergeable sub-windows.

use lifecycle_domain::chrono::{DateTime, Utc};

use crate::stats::VersionStats;

/// Sub-windows per window: the window moves forward a tenth at a time.
const SLOTS: usize = 10;

/// The last `length` of requests, as `SLOTS` sub-windows in a ring, and
/// everything before them: when the ring comes round to a sub-window, its
/// statistics move into `closed` and it starts empty. So each request is
/// recorded once, and the lifetime is `closed` plus the ring.
#[derive(Clone)]
pub struct Window {
    slot_ms: i64,
    /// (sub-window number since the epoch, its statistics)
    slots: Vec<(i64, VersionStats)>,
    closed: VersionStats,
    /// The time span [start, end) in ms of the sub-window last recorded
    /// into, and its place in the ring: most calls need no division.
    current: (i64, i64, usize),
}

impl Window {
    /// A window of `length_secs` seconds (at least one).
    pub fn new(length_secs: u64) -> Self {
        let length_ms = (length_secs.max(1) * 1000) as i64;
        Self {
            slot_ms: (length_ms / SLOTS as i64).max(1),
            slots: vec![(i64::MIN, VersionStats::default()); SLOTS],
            closed: VersionStats::default(),
            current: (0, 0, 0),
        }
    }

    /// The statistics of the sub-window the time `at_ms` (milliseconds since
    /// the epoch) falls in; an older sub-window there is closed first.
    pub fn current(&mut self, at_ms: i64) -> &mut VersionStats {
        let (start, end, index) = self.current;
        if (start..end).contains(&at_ms) {
            return &mut self.slots[index].1;
        }
        let number = at_ms.div_euclid(self.slot_ms);
        let index = number.rem_euclid(SLOTS as i64) as usize;
        self.current = (number * self.slot_ms, (number + 1) * self.slot_ms, index);
        let slot = &mut self.slots[index];
        if slot.0 != number {
            let old = std::mem::take(&mut slot.1);
            slot.0 = number;
            if old.samples() > 0 {
                self.closed.merge(&old);
            }
        }
        &mut slot.1
    }

    /// The statistics of the window ending at `at`.
    pub fn total(&self, at: DateTime<Utc>) -> VersionStats {
        let newest = at.timestamp_millis().div_euclid(self.slot_ms);
        let mut total = VersionStats::default();
        for (number, stats) in &self.slots {
            if *number > newest - SLOTS as i64 && *number <= newest {
                total.merge(stats);
            }
        }
        total
    }

    /// Everything ever recorded.
    pub fn lifetime(&self) -> VersionStats {
        let mut total = self.closed.clone();
        for (_, stats) in &self.slots {
            total.merge(stats);
        }
        total
    }
}
