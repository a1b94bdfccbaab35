//! The rolling window: recent requests only, built from mergeable sub-windows.

use lifecycle_domain::chrono::{DateTime, Utc};

use crate::stats::VersionStats;

/// Sub-windows per window: the window moves forward a tenth at a time.
const SLOTS: usize = 10;

/// The last `length` of requests, as `SLOTS` sub-windows in a ring; a
/// sub-window is cleared when the ring comes round to it again.
#[derive(Clone)]
pub struct Window {
    slot_ms: i64,
    /// (sub-window number since the epoch, its statistics)
    slots: Vec<(i64, VersionStats)>,
}

impl Window {
    /// A window of `length_secs` seconds (at least one).
    pub fn new(length_secs: u64) -> Self {
        let length_ms = (length_secs.max(1) * 1000) as i64;
        Self {
            slot_ms: (length_ms / SLOTS as i64).max(1),
            slots: vec![(i64::MIN, VersionStats::default()); SLOTS],
        }
    }

    /// The statistics of the sub-window `at` falls in, cleared first when
    /// it last held an older sub-window.
    pub fn current(&mut self, at: DateTime<Utc>) -> &mut VersionStats {
        let number = at.timestamp_millis().div_euclid(self.slot_ms);
        let slot = &mut self.slots[number.rem_euclid(SLOTS as i64) as usize];
        if slot.0 != number {
            *slot = (number, VersionStats::default());
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
}
