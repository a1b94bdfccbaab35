//! A bounded uniform sample of one sub-window's requests, for comparisons.

use serde::{Deserialize, Serialize};

/// One sampled request: what the comparison judges per request. Saved as
/// an array of its four fields (a checkpoint holds hundreds of them); read
/// from an array or, as earlier builds wrote it, an object.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Sampled {
    /// Latency in ms (successful requests only carry one).
    pub latency_ms: Option<f32>,
    /// Confidence, when reported.
    pub confidence: Option<f32>,
    /// Approximate cost of the request at the version's prices (for
    /// statistics only); `None` when the price is unknown.
    #[serde(default)]
    pub cost: Option<f32>,
    /// Completion tokens.
    pub output_tokens: u32,
}

impl Serialize for Sampled {
    fn serialize<S: serde::Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
        (
            self.latency_ms,
            self.confidence,
            self.cost,
            self.output_tokens,
        )
            .serialize(to)
    }
}

/// Requests kept per sub-window.
pub const CAPACITY: usize = 128;

/// Vitter's algorithm R: after `seen` requests, each is in `kept` with
/// probability `CAPACITY / seen`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reservoir {
    kept: Vec<Sampled>,
    seen: u64,
    random: u64,
}

impl Reservoir {
    /// Offers one request.
    pub fn offer(&mut self, sample: Sampled) {
        self.seen += 1;
        if self.kept.len() < CAPACITY {
            self.kept.push(sample);
            return;
        }
        // xorshift64: cheap, and good enough to pick slots uniformly.
        if self.random == 0 {
            self.random = 0x9e37_79b9_7f4a_7c15 ^ self.seen;
        }
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        // Uniform in [0, seen) by multiply-shift (Lemire): no division on the hot path.
        let slot = ((u128::from(self.random) * u128::from(self.seen)) >> 64) as u64;
        if (slot as usize) < CAPACITY {
            self.kept[slot as usize] = sample;
        }
    }

    /// Adds another sample of the same span: both kept, weighted by their
    /// traffic, and cut to capacity.
    pub fn merge(&mut self, other: &Reservoir) {
        let mut kept = combine(&[self.clone(), other.clone()]);
        kept.truncate(CAPACITY);
        self.kept = kept;
        self.seen += other.seen;
    }

    /// The requests kept, and how many they stand for.
    pub fn kept(&self) -> (&[Sampled], u64) {
        (&self.kept, self.seen)
    }
}

/// Combines sub-window reservoirs into one sample in which each sub-window
/// weighs as much as its traffic: a sub-window that saw more requests
/// contributes more of its kept ones.
pub fn combine(parts: &[Reservoir]) -> Vec<Sampled> {
    let parts: Vec<(&[Sampled], u64)> = parts.iter().map(Reservoir::kept).collect();
    let busiest = parts
        .iter()
        .filter(|(kept, _)| !kept.is_empty())
        .map(|(kept, seen)| *seen as f64 / kept.len() as f64)
        .fold(0.0_f64, f64::max);
    let mut combined = Vec::new();
    for (kept, seen) in parts {
        if kept.is_empty() {
            continue;
        }
        // Keep a share so every kept request stands for `busiest` requests.
        let share = ((seen as f64 / busiest).round() as usize).clamp(1, kept.len());
        combined.extend_from_slice(&kept[..share]);
    }
    combined
}
