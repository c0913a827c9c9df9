//! Retention checks: whether the retention job keeps up, i.e. nothing is stored
//! longer than the limits the configuration (and the disclosure) promise.

use std::collections::BTreeSet;

use clickhouse::Client;
use serde::Deserialize;

use super::{AuditError, Check, Status};
use crate::clock::format_day;
use crate::config::Config;
use crate::model::{DataClass, Dim};
use crate::retention;

#[derive(Deserialize, clickhouse::Row)]
struct Count {
    n: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct DimName {
    dim: String,
}

/// The dimensions a site has rows of, in every table that holds them, that its
/// generated disclosure does not describe: `(unknown to veil, no longer declared)`.
/// A pair, goal or funnel the site stopped declaring keeps its rows until they
/// age out (a warning); a name veil does not know at all is a failure.
async fn undisclosed_dims(
    client: &Client,
    config: &Config,
    site: &crate::config::SiteConfig,
) -> Result<(Vec<String>, Vec<String>), AuditError> {
    let mut described: BTreeSet<String> = BTreeSet::from(["decision".to_string()]);
    if let Ok(m) = crate::manifest::Manifest::for_site(config, &site.id) {
        for level in &m.levels {
            described.extend(level.stored.iter().map(|d| d.dim.to_string()));
        }
    }
    let mut q = client.query(
        "SELECT dim FROM (SELECT dim FROM daily WHERE site = ? \
         UNION ALL SELECT dim FROM open_aggregates WHERE site = ? \
         UNION ALL SELECT dim FROM late_daily WHERE site = ?) GROUP BY dim ORDER BY dim",
    );
    for _ in 0..3 {
        q = q.bind(site.id.as_str());
    }
    let (mut unknown, mut undeclared) = (Vec::new(), Vec::new());
    for DimName { dim } in q.fetch_all::<DimName>().await? {
        if described.contains(&dim) {
            continue;
        }
        if Dim::ALL.iter().any(|d| d.as_str() == dim) {
            undeclared.push(dim);
        } else {
            unknown.push(dim);
        }
    }
    Ok((unknown, undeclared))
}

pub(super) async fn pending_deletions(client: &Client) -> Result<u64, AuditError> {
    Ok(client
        .query(
            "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() \
             AND table IN ('daily', 'hourly', 'late_daily', 'late_hourly') AND is_done = 0",
        )
        .fetch_one::<Count>()
        .await?
        .n)
}

pub(super) async fn partition_check(
    client: &Client,
    config: &Config,
    today: u32,
) -> Result<Check, AuditError> {
    let limit = retention::partition_days(config);
    let oldest_allowed = today.saturating_sub(limit + 1);
    let parts = retention::partitions(client, &config.clickhouse).await?;
    let aggregates: Vec<_> = parts.iter().filter(|p| p.table == "daily").collect();
    let batches_allowed = today.saturating_sub(retention::BATCHES_RETENTION_DAYS + 1);
    let old_batches = parts
        .iter()
        .filter(|p| p.table == "batches" && p.day < batches_allowed)
        .count();
    let name = "retention partitions";
    let old_batches_warning = || {
        Check::new(
            Status::Warn,
            name,
            format!(
                "{old_batches} batches partition(s) older than {} days + 1: run `veil retention`",
                retention::BATCHES_RETENTION_DAYS
            ),
        )
    };
    let Some(oldest) = aggregates.iter().map(|p| p.day).min() else {
        // Old batch ids are worth the warning before any day is closed, too.
        if old_batches > 0 {
            return Ok(old_batches_warning());
        }
        return Ok(Check::new(Status::Ok, name, "no closed day stored yet"));
    };
    let expired = aggregates.iter().filter(|p| p.day < oldest_allowed).count();
    if expired > 0 {
        return Ok(Check::new(
            Status::Fail,
            name,
            format!(
                "{expired} daily partition(s) older than the longest limit of {limit} days + 1 (oldest {}): run `veil retention`",
                format_day(oldest)
            ),
        ));
    }
    if old_batches > 0 {
        return Ok(old_batches_warning());
    }
    Ok(Check::new(
        Status::Ok,
        name,
        format!(
            "oldest daily partition {} is within the longest limit ({limit} days)",
            format_day(oldest)
        ),
    ))
}

pub(super) async fn site_check(
    client: &Client,
    config: &Config,
    site: &crate::config::SiteConfig,
    today: u32,
    has_aggregates: bool,
    pending: u64,
) -> Result<Check, AuditError> {
    let r = &site.retention;
    let c = &site.consent;
    let mut consent = format!("consent preset {}", c.preset.as_str());
    let overrides: Vec<String> = [
        c.default.map(|l| format!("default={}", l.as_str())),
        c.gpc.map(|l| format!("gpc={}", l.as_str())),
        c.dnt.map(|l| format!("dnt={}", l.as_str())),
        c.cookie.as_ref().map(|n| format!("cookie={n}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !overrides.is_empty() {
        consent.push_str(&format!(" ({})", overrides.join(", ")));
    }
    let mut status = Status::Ok;
    let mut notes = vec![
        format!("k={}", site.k),
        consent,
        format!(
            "retention audience {}d, marketing {}d, consent {}d",
            r.audience_days, r.marketing_days, r.consent_days
        ),
    ];
    if site.k == 0 {
        status = Status::Warn;
        notes.push("k = 0: small groups are shown as they are, not folded into (other)".into());
    }
    if has_aggregates {
        let (unknown, undeclared) = undisclosed_dims(client, config, site).await?;
        if !unknown.is_empty() {
            status = Status::Fail;
            notes.push(format!(
                "rows of dimension(s) veil does not know and the disclosure does not describe: {}",
                unknown.join(", ")
            ));
        }
        if !undeclared.is_empty() {
            status = status.max(Status::Warn);
            notes.push(format!(
                "rows of dimension(s) the site no longer declares (not in its disclosure; they age out with retention): {}",
                undeclared.join(", ")
            ));
        }
        let longest = retention::partition_days(config);
        for class in DataClass::ALL {
            let days = retention::class_days(r, class);
            if days >= longest {
                continue; // partitions; checked above
            }
            let before = today.saturating_sub(days + 1);
            let dims = class.dims();
            let sql = format!(
                "SELECT count() AS n FROM daily WHERE site = ? AND dim IN ({}) AND date < toDate(?)",
                vec!["?"; dims.len()].join(", ")
            );
            let mut q = client.query(&sql).bind(site.id.as_str());
            for d in &dims {
                q = q.bind(*d);
            }
            let n = q.bind(format_day(before)).fetch_one::<Count>().await?.n;
            if n == 0 {
                continue;
            }
            if pending > 0 {
                status = status.max(Status::Warn);
                notes.push(format!(
                    "{n} {} row(s) older than {days} days + 1 while deletions are still running",
                    class.as_str()
                ));
            } else {
                status = Status::Fail;
                notes.push(format!(
                    "{n} {} row(s) older than {days} days + 1: run `veil retention`",
                    class.as_str()
                ));
            }
        }
    }
    Ok(Check::new(
        status,
        format!("site {}", site.id),
        notes.join(", "),
    ))
}

pub(super) fn retention_job_check(config: &Config) -> Check {
    let j = &config.retention;
    if j.enabled {
        Check::new(
            Status::Ok,
            "retention job",
            format!(
                "runs inside `veil serve` every {}s",
                j.interval_secs.max(retention::MIN_INTERVAL.as_secs())
            ),
        )
    } else {
        Check::new(
            Status::Warn,
            "retention job",
            "retention.enabled = false: run `veil retention` regularly (cron) or enable it",
        )
    }
}

#[derive(Deserialize, clickhouse::Row)]
struct OpenDay {
    date: u16,
    zone: String,
    closed: u8,
}

/// No visitor hash of a closed day is stored, not even inside a sketch: every
/// sketch partition belongs to a day that is still open, and none is older than
/// its close is due (a day close that does not run would keep hashes).
pub(super) async fn sketch_check(
    client: &Client,
    config: &Config,
    now: u64,
) -> Result<Check, AuditError> {
    let name = "closed days hold no sketches";
    let open = client
        .query(
            "SELECT o.date AS date, o.zone AS zone, toUInt8(max(c.state) >= 2) AS closed \
             FROM (SELECT date, zone, site FROM open_aggregates GROUP BY date, zone, site) AS o \
             LEFT JOIN (SELECT date, site, max(state) AS state FROM day_close GROUP BY date, site) AS c \
             USING (date, site) GROUP BY date, zone ORDER BY date, zone",
        )
        .fetch_all::<OpenDay>()
        .await?;
    let timing = crate::sink::close::CloseTiming::of(config);
    let mut zones = crate::sink::close::Zones::default();
    let mut fails = Vec::new();
    let mut late = Vec::new();
    for d in &open {
        let day = format_day(u32::from(d.date));
        if d.closed == 1 {
            // Closed but not yet dropped: the drop is the last step of the close.
            late.push(format!("{day} {} closed, sketches not yet dropped", d.zone));
            continue;
        }
        // Two close intervals of slack beyond the due time.
        let due = timing.due_at(&zones.get(&d.zone), u32::from(d.date))
            + 2 * config.pipeline.close_interval_secs;
        if now > due {
            fails.push(format!("{day} ({}) ended but is not closed", d.zone));
        }
    }
    if !fails.is_empty() {
        return Ok(Check::new(
            Status::Fail,
            name,
            format!(
                "sketches kept past their day close: {}; is `veil serve` running?",
                fails.join(", ")
            ),
        ));
    }
    if !late.is_empty() {
        return Ok(Check::new(Status::Warn, name, late.join(", ")));
    }
    Ok(Check::new(
        Status::Ok,
        name,
        format!(
            "{} open day(s) with sketches; every closed day is plain counters",
            open.len()
        ),
    ))
}
