//! The differential-privacy mechanism of a site's `dp_epsilon_per_day`:
//! deterministic two-sided geometric (discrete Laplace) noise per released cell.
//!
//! # Why, and what it guarantees
//!
//! k-anonymity counts raw visitors, so whoever can send beacons can add k − 1
//! fake visitors to a value and read the released count as "one real visitor or
//! none" (issue #15). With noise, the released count of a cell is
//! `true + Z`, `P(Z = z) ∝ p^|z|`, `p = e^(−ε)`: one visitor more or less changes
//! the probability of every released value by at most a factor `e^ε`, however
//! many fake visitors surround it. k then applies to the noised count.
//!
//! - **Cell**: one (site, stored dimension, value, local day) — or local hour
//!   for hourly series, a cell of its own. Every noised counter of a cell gets
//!   its own draw.
//! - **Sensitivity 1, per counter.** A visitor is hashed under one day's salt,
//!   so within a (day, cell) it adds at most 1 to `visitors`: the visitor count
//!   is ε-DP per (day, cell) at the visitor level. Pageviews, visits, bounces,
//!   events and completions per visitor are not capped by veil, so for them the
//!   same noise is ε-DP per single pageview / visit / event / completion, not per
//!   visitor; the visitor-level guarantee is the visitor count's.
//! - **Composition, stated plainly.** The ε is spent per (day, cell, counter).
//!   Values of one dimension are disjoint per visitor-day only where a visitor
//!   has one value a day (country, device, …); a visitor seen on m pages of a
//!   day spends m·ε in the `page` dimension that day, and every dimension and
//!   the hourly series spend their own. The bound is ε per (day, cell).
//! - **Deterministic.** The noise of a cell is a function of a keyed hash
//!   (blake3, keyed from the site's `dp_secret`) of the cell's identity, so
//!   asking again, or asking overlapping ranges, returns the same draw: it cannot
//!   be averaged away. A range's noised total is the sum of its noised days.
//! - **What stays exact:** revenue, visit duration, engagement sums (the
//!   averages `visit_duration`, `time_on_page`, `scroll_depth` divide exact sums
//!   by noised counts), realtime counts (from memory, site-wide) and the consent
//!   decision counts.
//! - **A value's presence.** Days without a stored row get no draw, so a named
//!   value had at least one real hit in the range. It is named only when its
//!   noised visitors reach k, which for a value with one real visitor on one day
//!   happens with probability `P(Z ≥ k − 1) = p^(k−1)/(1+p)` (δ of an (ε, δ)
//!   guarantee for the name; with `k = 0` names are released unconditionally).
//!
//! The secret never leaves this process: the noise is computed here, in Rust, on
//! per-day rows; ClickHouse never sees the secret, and no log line names it.

use crate::config::SiteConfig;
use crate::model::Dim;

/// The key-derivation context of the noise key (changing it redraws all noise).
const CONTEXT: &str = "veil 2026-12 differential privacy noise v1";

/// When a cell is: one local day, or one hour (keyed by its UTC start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// A local day (days since 1970-01-01).
    Day(u16),
    /// An hour, by its start in Unix seconds.
    Hour(u32),
}

/// The identity of one released cell: what its noise is keyed on.
#[derive(Clone, Copy, Debug)]
pub struct Cell<'a> {
    /// Site id.
    pub site: &'a str,
    /// Stored dimension (a pair for pair values).
    pub dim: Dim,
    /// Stored value.
    pub value: &'a str,
    /// Day or hour.
    pub when: When,
}

/// The counters that get noise, by name (`hits` are completions on goal
/// dimensions). Each has sensitivity 1 (see the module documentation).
pub const NOISED: [&str; 6] = [
    "visitors",
    "pageviews",
    "visits",
    "bounces",
    "events",
    "hits",
];

/// A site's noise: its key and ε.
pub struct Noise {
    key: [u8; 32],
    epsilon: f64,
    /// ln p, p = e^(−ε): the geometric distribution's parameter.
    ln_p: f64,
}

impl std::fmt::Debug for Noise {
    // The key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Noise")
            .field("epsilon", &self.epsilon)
            .finish_non_exhaustive()
    }
}

impl Noise {
    /// The noise of a site, `None` when its DP mode is off.
    pub fn of(site: &SiteConfig) -> Option<Noise> {
        (site.dp_epsilon_per_day > 0.0)
            .then(|| Noise::new(&site.dp_secret, site.dp_epsilon_per_day))
    }

    /// Noise of scale ε (sensitivity 1) keyed by `secret`.
    pub fn new(secret: &str, epsilon: f64) -> Noise {
        Noise {
            key: blake3::derive_key(CONTEXT, secret.as_bytes()),
            epsilon,
            ln_p: -epsilon,
        }
    }

    /// ε per (day, cell, counter).
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The geometric parameter p = e^(−ε).
    pub fn p(&self) -> f64 {
        self.ln_p.exp()
    }

    /// The variance of one draw, 2p / (1 − p)².
    pub fn variance(&self) -> f64 {
        let p = self.p();
        2.0 * p / ((1.0 - p) * (1.0 - p))
    }

    /// The noise of one counter of one cell: the same for the same (key, cell,
    /// counter), every time.
    pub fn draw(&self, cell: &Cell<'_>, counter: &str) -> i64 {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        // Length-prefixed fields: no two cells hash the same input.
        for field in [cell.site, cell.dim.as_str(), cell.value, counter] {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        match cell.when {
            When::Day(d) => h.update(b"d").update(&u32::from(d).to_le_bytes()),
            When::Hour(t) => h.update(b"h").update(&t.to_le_bytes()),
        };
        let out = h.finalize();
        let bytes = out.as_bytes();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(w)
        };
        // The difference of two geometric draws is discrete Laplace.
        self.geometric(word(0)) - self.geometric(word(8))
    }

    /// A geometric draw (failures before a success, P(G ≥ n) = p^n) from 64
    /// uniform bits, by inversion: U in (0, 1], G = ⌊ln U / ln p⌋.
    fn geometric(&self, bits: u64) -> i64 {
        let u = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
        (u.ln() / self.ln_p).floor() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str, day: u16) -> Cell<'_> {
        Cell {
            site: "example.com",
            dim: Dim::Page,
            value,
            when: When::Day(day),
        }
    }

    #[test]
    fn draws_have_the_discrete_laplace_moments_and_mass() {
        for eps in [0.5, 1.0, 2.0] {
            let noise = Noise::new("fixed test secret, 32 characters!", eps);
            let n = 200_000;
            let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            let draws: Vec<i64> = values
                .iter()
                .map(|v| noise.draw(&cell(v, 20_000), "visitors"))
                .collect();
            let mean = draws.iter().sum::<i64>() as f64 / n as f64;
            let var = draws
                .iter()
                .map(|d| (*d as f64 - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            let want = noise.variance();
            // Standard error of the mean is sqrt(var / n); 5 of them is ample.
            assert!(
                mean.abs() < 5.0 * (want / n as f64).sqrt(),
                "ε {eps}: mean {mean}"
            );
            assert!(
                (var / want - 1.0).abs() < 0.05,
                "ε {eps}: variance {var}, want {want}"
            );
            // Chi-square over |z| = 0, 1, 2, 3 and the tail (4 degrees of freedom).
            let p = noise.p();
            let mass = |z: i64| (1.0 - p) / (1.0 + p) * p.powi(z.unsigned_abs() as i32);
            let mut chi = 0.0;
            let mut rest = 1.0;
            for z in -2..=2 {
                let seen = draws.iter().filter(|d| **d == z).count() as f64;
                let expected = mass(z) * n as f64;
                rest -= mass(z);
                chi += (seen - expected).powi(2) / expected;
            }
            let tail = draws.iter().filter(|d| d.abs() > 2).count() as f64;
            chi += (tail - rest * n as f64).powi(2) / (rest * n as f64);
            // The 99.9% quantile of χ² with 5 degrees of freedom is 20.5.
            assert!(chi < 20.5, "ε {eps}: χ² {chi}");
        }
    }

    #[test]
    fn the_same_cell_draws_the_same_noise_and_other_secrets_other_noise() {
        let a = Noise::new("secret a secret a secret a secret a", 1.0);
        let again = Noise::new("secret a secret a secret a secret a", 1.0);
        let b = Noise::new("secret b secret b secret b secret b", 1.0);
        let cells: Vec<(String, u16)> = (0..500)
            .map(|i| (format!("v{i}"), 20_000 + i % 7))
            .collect();
        let draws = |n: &Noise, counter: &str| -> Vec<i64> {
            cells
                .iter()
                .map(|(v, d)| n.draw(&cell(v, *d), counter))
                .collect()
        };
        assert_eq!(draws(&a, "visitors"), draws(&again, "visitors"));
        let differ = |x: Vec<i64>, y: Vec<i64>| x.iter().zip(&y).filter(|(x, y)| x != y).count();
        // P(two draws agree) = Σ mass² < 0.3 at ε = 1: hundreds differ.
        assert!(differ(draws(&a, "visitors"), draws(&b, "visitors")) > 250);
        assert!(differ(draws(&a, "visitors"), draws(&a, "pageviews")) > 250);
        let hour = Cell {
            when: When::Hour(1_728_000_000),
            ..cell("v1", 20_000)
        };
        assert_eq!(a.draw(&hour, "visitors"), again.draw(&hour, "visitors"));
        assert!(format!("{a:?}").contains("epsilon") && !format!("{a:?}").contains("key"));
    }
}
