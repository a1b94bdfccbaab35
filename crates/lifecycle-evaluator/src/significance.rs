//! Significance tests for comparing a canary with its baseline: Mann–Whitney U
//! with a Hodges–Lehmann shift estimate, and the two-proportion z-test.
//!
//! Checked against SciPy on fixed data sets (tests/fixtures/significance).

/// The two-sided 97.5 % quantile of the standard normal distribution.
const Z_975: f64 = 1.959_963_984_540_054;

/// A Mann–Whitney U test of two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: its rank sum minus n₁(n₁+1)/2.
    pub u: f64,
    /// Two-sided p-value, normal approximation with tie and continuity
    /// correction (SciPy's `method="asymptotic"`).
    pub p_value: f64,
}

/// Mann–Whitney U of `x` against `y`; `None` if either is empty.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum_x, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1..=j+1 share their average.
        let average = (i + j + 2) as f64 / 2.0;
        let tied = (j - i + 1) as f64;
        ties += tied * tied * tied - tied;
        rank_sum_x += average * all[i..=j].iter().filter(|(_, from_x)| *from_x).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let sigma = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    let p_value = if sigma > 0.0 {
        let z = (u.max(n1 * n2 - u) - mean - 0.5) / sigma;
        (2.0 * normal_sf(z)).min(1.0)
    } else {
        1.0
    };
    Some(MannWhitney { u, p_value })
}

/// A shift between two samples with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftEstimate {
    /// The median of all differences `y - x`.
    pub estimate: f64,
    /// Lower end of the 95 % confidence interval.
    pub low: f64,
    /// Upper end of the 95 % confidence interval.
    pub high: f64,
}

/// The Hodges–Lehmann estimate of how much `y` is shifted from `x`, with the
/// distribution-free 95 % interval from the order statistics of the
/// pairwise differences; `None` if either sample is empty.
///
/// The n₁·n₂ differences are never built: each order statistic needed is
/// found by bisection on the value, counting the differences at or below it
/// in one merge-like pass (O((n₁ + n₂) log n) time, O(n₁ + n₂) memory); the
/// results are the exact order statistics, as sorting every difference gives.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> Option<ShiftEstimate> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut x = x.to_vec();
    let mut y = y.to_vec();
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let differences = Differences { x: &x, y: &y };
    let m = x.len() * y.len();
    let estimate = if m % 2 == 1 {
        differences.kth(m / 2 + 1)
    } else {
        (differences.kth(m / 2) + differences.kth(m / 2 + 1)) / 2.0
    };
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let k = (n1 * n2 / 2.0 - Z_975 * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    let k = (k.max(1.0) as usize).min(m);
    Some(ShiftEstimate {
        estimate,
        low: differences.kth(k),
        high: differences.kth(m - k + 1),
    })
}

/// The differences `y[j] - x[i]` of two sorted samples, without building them.
struct Differences<'a> {
    x: &'a [f64],
    y: &'a [f64],
}

impl Differences<'_> {
    /// How many differences are at most `t`. Floating subtraction is
    /// monotone, so the x index where `y[j] - x[i] <= t` starts only moves
    /// right as j grows.
    fn at_most(&self, t: f64) -> usize {
        let (mut start, mut count) = (0, 0);
        for &b in self.y {
            while start < self.x.len() && b - self.x[start] > t {
                start += 1;
            }
            count += self.x.len() - start;
        }
        count
    }

    /// The `k`-th smallest difference (1-based): the smallest value with at
    /// least `k` differences at or below it, found by bisection over the
    /// ordered bit patterns of `f64` (at most 64 steps).
    fn kth(&self, k: usize) -> f64 {
        let smallest = self.y[0] - self.x[self.x.len() - 1];
        let largest = self.y[self.y.len() - 1] - self.x[0];
        let (mut low, mut high) = (order_key(smallest), order_key(largest));
        while low < high {
            let middle = low + (high - low) / 2;
            if self.at_most(from_order_key(middle)) >= k {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        from_order_key(low)
    }
}

/// A key that orders every `f64` as `total_cmp` does.
fn order_key(value: f64) -> i128 {
    let bits = value.to_bits() as i64;
    i128::from(bits ^ ((((bits >> 63) as u64) >> 1) as i64))
}

fn from_order_key(key: i128) -> f64 {
    // Keys between two f64 keys are f64 keys: the conversion is exact.
    let key = key as i64;
    f64::from_bits((key ^ ((((key >> 63) as u64) >> 1) as i64)) as u64)
}

/// A two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    /// (p₁ − p₂) over the pooled standard error; 0 when both are 0 or 1.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Tests whether `failures1 / n1` and `failures2 / n2` differ; `None` if a sample is empty.
pub fn two_proportions(failures1: u64, n1: u64, failures2: u64, n2: u64) -> Option<ProportionTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let pooled = (failures1 + failures2) as f64 / (a + b);
    let se = (pooled * (1.0 - pooled) * (1.0 / a + 1.0 / b)).sqrt();
    let z = if se > 0.0 {
        (failures1 as f64 / a - failures2 as f64 / b) / se
    } else {
        0.0
    };
    Some(ProportionTest {
        z,
        p_value: (2.0 * normal_sf(z.abs())).min(1.0),
    })
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, with a relative error below 1.2e-7
/// everywhere (the Chebyshev fit of Press et al., Numerical Recipes §6.2).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * (-x * x + poly).exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}
