//! The end-to-end loss check: what veil stored in ClickHouse against what the load
//! generator sent and veil accepted.
//!
//! Before the load, the stored totals of the benchmark's sites are read; after it,
//! they are polled (veil writes every `pipeline.flush_interval_ms`) until the
//! difference equals the generator's [`Ledger`] or the timeout passes. Compared per
//! site: `dim = 'total'` pageviews and events, and every `dim = 'decision'` counter.
//! Hits that failed after they may have reached veil make an allowed range.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::client::{Ledger, SiteLedger};
use super::LoadgenError;
use veil::config::ClickHouseConfig;
use veil::privacy::consent::Decision;

/// Stored counters of the given sites, as a ledger (site order as given), read
/// the way the stats API reads them (closed days' counters, late additions and
/// open days' sketches), over every day.
pub async fn stored(cfg: &ClickHouseConfig, sites: &[String]) -> Result<Ledger, LoadgenError> {
    use veil::stats::params::DateRange;
    use veil::stats::query::{self, Scope};
    let client = veil::sink::schema::client(cfg);
    let ch = |e: clickhouse::error::Error| LoadgenError::ClickHouse(e.to_string());
    let mut ledger = Ledger::new(sites.len());
    for (i, site) in sites.iter().enumerate() {
        let scope = Scope {
            site,
            tz: "UTC",
            range: DateRange {
                from: 0,
                to: 40_000,
            },
        };
        let t = query::totals(&client, scope, veil::model::Dim::Total, "")
            .await
            .map_err(ch)?;
        ledger.sites[i].pageviews = t.pageviews;
        ledger.sites[i].events = t.events;
        for (value, hits) in query::decisions(&client, scope).await.map_err(ch)? {
            if let Some(j) = Decision::ALL.iter().position(|x| x.as_str() == value) {
                ledger.sites[i].decisions[j] = hits;
            }
        }
    }
    Ok(ledger)
}

/// One counter that does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Site id.
    pub site: String,
    /// `pageviews`, `events` or `decision <name>`.
    pub counter: String,
    /// Accepted (sure).
    pub expected: u64,
    /// Plus this many that may have been accepted.
    pub uncertain: u64,
    /// Stored in this run (after − before).
    pub stored: i128,
}

/// Result of the check.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// Counters compared.
    pub compared: usize,
    /// Those outside the allowed range.
    pub mismatches: Vec<Mismatch>,
    /// Expected totals (pageviews, events, decision hits) for the report.
    pub expected: (u64, u64, u64),
    /// How long the wait for the flush took.
    pub waited: Duration,
}

fn counters(s: &SiteLedger) -> Vec<(String, u64)> {
    let mut v = vec![
        ("pageviews".to_string(), s.pageviews),
        ("events".to_string(), s.events),
    ];
    for (i, d) in Decision::ALL.iter().enumerate() {
        v.push((format!("decision {}", d.as_str()), s.decisions[i]));
    }
    v
}

/// Compares stored − before with accepted (+ uncertain).
pub fn compare(
    sites: &[String],
    before: &Ledger,
    after: &Ledger,
    accepted: &Ledger,
    uncertain: &Ledger,
) -> Vec<Mismatch> {
    let empty = SiteLedger::default();
    let mut out = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let b = counters(before.sites.get(i).unwrap_or(&empty));
        let a = counters(after.sites.get(i).unwrap_or(&empty));
        let e = counters(accepted.sites.get(i).unwrap_or(&empty));
        let u = counters(uncertain.sites.get(i).unwrap_or(&empty));
        for k in 0..e.len() {
            let stored = i128::from(a[k].1) - i128::from(b[k].1);
            let (lo, hi) = (i128::from(e[k].1), i128::from(e[k].1 + u[k].1));
            if stored < lo || stored > hi {
                out.push(Mismatch {
                    site: site.clone(),
                    counter: e[k].0.clone(),
                    expected: e[k].1,
                    uncertain: u[k].1,
                    stored,
                });
            }
        }
    }
    out
}

/// Polls until the stored delta matches or `timeout` passes.
pub async fn wait_and_compare(
    cfg: &ClickHouseConfig,
    sites: &[String],
    before: &Ledger,
    accepted: &Ledger,
    uncertain: &Ledger,
    timeout: Duration,
) -> Result<CheckOutcome, LoadgenError> {
    let started = Instant::now();
    let expected = accepted.sites.iter().fold((0, 0, 0), |acc, s| {
        (
            acc.0 + s.pageviews,
            acc.1 + s.events,
            acc.2 + s.decisions.iter().sum::<u64>(),
        )
    });
    let mut last_report = Instant::now();
    loop {
        let after = stored(cfg, sites).await?;
        let mismatches = compare(sites, before, &after, accepted, uncertain);
        if mismatches.is_empty() || started.elapsed() >= timeout {
            return Ok(CheckOutcome {
                compared: sites.len() * (2 + Decision::ALL.len()),
                mismatches,
                expected,
                waited: started.elapsed(),
            });
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            let stored_pv: i128 = sites
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    i128::from(after.sites.get(i).map_or(0, |s| s.pageviews))
                        - i128::from(before.sites.get(i).map_or(0, |s| s.pageviews))
                })
                .sum();
            eprintln!(
                "  waiting for veil's flush: {stored_pv} of {} pageviews stored ({:.0} s)",
                expected.0,
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Sums of a mismatch list per counter, for the one-line verdict.
pub fn summary(m: &[Mismatch]) -> BTreeMap<String, i128> {
    let mut out = BTreeMap::new();
    for x in m {
        *out.entry(x.counter.clone()).or_default() += x.stored - i128::from(x.expected);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_allow_uncertain_hits() {
        let sites = vec!["a".to_string()];
        let mut accepted = Ledger::new(1);
        accepted.sites[0].pageviews = 10;
        accepted.sites[0].decisions[0] = 10;
        let mut uncertain = Ledger::new(1);
        uncertain.sites[0].pageviews = 2;
        uncertain.sites[0].decisions[0] = 2;
        let mut before = Ledger::new(1);
        before.sites[0].pageviews = 100;
        before.sites[0].decisions[0] = 100;
        let mut after = before.clone();
        after.sites[0].pageviews = 111;
        after.sites[0].decisions[0] = 110;
        assert!(compare(&sites, &before, &after, &accepted, &uncertain).is_empty());
        after.sites[0].pageviews = 109;
        let m = compare(&sites, &before, &after, &accepted, &uncertain);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].counter, "pageviews");
        assert_eq!(m[0].stored, 9);
        assert_eq!(summary(&m)["pageviews"], -1);
    }
}
