//! The clock port: where services get "now", so tests can move time by hand.

use std::sync::Mutex;
use std::time::SystemTime;

use lifecycle_domain::chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// The current time in milliseconds since the Unix epoch; for hot paths
    /// that need no more (a clock may answer it more cheaply than `now`).
    fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(SystemTime::now())
    }

    /// The coarse clock on Linux (a few milliseconds' resolution, ~5 ns a
    /// read against ~38 ns for the precise one): enough to pick a
    /// sub-window, and a third of what recording a result costs otherwise.
    fn now_millis(&self) -> i64 {
        coarse_millis()
    }
}

#[cfg(target_os = "linux")]
fn coarse_millis() -> i64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    now.tv_sec * 1_000 + now.tv_nsec / 1_000_000
}

#[cfg(not(target_os = "linux"))]
fn coarse_millis() -> i64 {
    match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => since.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// A clock that moves only when told to, for tests and simulations.
///
/// ```
/// use lifecycle_store::{Clock, ManualClock};
/// use lifecycle_domain::chrono::{Duration, TimeZone, Utc};
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
/// clock.advance(Duration::days(91));
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2026, 4, 2, 0, 0, 0).unwrap());
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.lock() = now;
    }

    /// Moves the time forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic elsewhere cannot leave a timestamp half-written.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_millis_agree_with_now_within_a_kernel_tick() {
        let before = SystemClock.now().timestamp_millis();
        let millis = SystemClock.now_millis();
        let after = SystemClock.now().timestamp_millis();
        // The coarse clock trails by up to one tick (1–10 ms by kernel).
        assert!(
            before - 20 <= millis && millis <= after,
            "{before} {millis} {after}"
        );
    }

    #[test]
    fn system_clock_moves_forward() {
        let a = SystemClock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(SystemClock.now() > a);
        assert!(a.timestamp() > 1_700_000_000, "{a} is a real date");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::from(SystemTime::UNIX_EPOCH);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(5));
        assert_eq!(clock.now(), start + Duration::seconds(5));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
