//! Latency histogram with bounded relative error and constant memory.
//!
//! Log-linear buckets (the HdrHistogram layout): values below 128 ns are exact, above
//! that every power of two is split into 128 linear buckets, so a reported quantile
//! is within 0.8 % of the true value whatever the range, and recording is a couple of
//! shifts. One histogram per connection, merged at the end: no sharing on the hot path.

use std::time::Duration;

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Counts of nanosecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let mantissa = (v >> (e - SUB_BITS)) as usize; // in [SUB, 2 * SUB)
    (e - SUB_BITS + 1) as usize * SUB + (mantissa - SUB)
}

/// The middle of bucket `i` (exact for the linear range).
fn value_at(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let octave = (i / SUB) as u32;
    let mantissa = (i % SUB + SUB) as u64;
    let shift = octave - 1;
    (mantissa << shift) + ((1u64 << shift) >> 1)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Records one value in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.sum += u128::from(ns);
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += *b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of values.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Smallest value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest value (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            (self.sum / u128::from(self.total)) as u64
        }
    }

    /// Values above `ns`, to the histogram's resolution: the values in buckets
    /// above the one holding `ns` (so a value within 0.8 % of `ns` may be missed).
    pub fn count_above(&self, ns: u64) -> u64 {
        self.counts[(index(ns) + 1).min(BUCKETS)..].iter().sum()
    }

    /// The value below which a fraction `q` (0..=1) of the values fall.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        if q >= 1.0 {
            return self.max;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_at(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..2_000_000u64)
            .step_by(97)
            .chain([u64::MAX / 3, u64::MAX])
        {
            let i = index(v);
            assert!(i >= last, "index not monotonic at {v}");
            last = i;
            let mid = value_at(i);
            let err = (mid as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err <= 0.008, "{v} -> bucket {i} ({mid}), error {err}");
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::new();
        for us in 1..=10_000u64 {
            h.record_ns(us * 1_000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.01, "{p50}");
        assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.01, "{p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.min(), 1_000);
        let mut other = Histogram::new();
        other.record_ns(50_000_000);
        h.merge(&other);
        assert_eq!(h.len(), 10_001);
        assert_eq!(h.max(), 50_000_000);
        assert_eq!(Histogram::new().quantile(0.5), 0);
    }

    #[test]
    fn counts_above_a_threshold() {
        let mut h = Histogram::new();
        for us in 1..=100u64 {
            h.record_ns(us * 100_000); // 0.1 ms .. 10 ms
        }
        let above = h.count_above(1_000_000);
        assert!((89..=90).contains(&above), "{above}");
        assert_eq!(h.count_above(20_000_000), 0);
        assert_eq!(h.count_above(0), 100);
        assert_eq!(Histogram::new().count_above(1), 0);
    }
}
