//! Scheduled e-mail reports: per site, a weekly and/or monthly summary of the
//! previous complete local week (Monday to Sunday) or calendar month — visitors,
//! pageviews, visits, bounce rate and their change against the period before,
//! the top pages, channels and referrers, and the declared goals — as plain
//! text and HTML, in English or Polish, sent over SMTP.
//!
//! - [`period`]: which week or month a report covers and when it is due.
//! - [`content`]: what it says, read through the stats API's queries with the
//!   site's k-anonymity exactly as the API applies it.
//! - [`render`]: subject, text and HTML (EN, PL).
//! - [`mail`]: the SMTP transport (`[smtp]`: none, STARTTLS or TLS, AUTH) and
//!   the message.
//! - [`ledger`]: how each report is sent once, also by several veil nodes, and
//!   the crash window where it is at-least-once.
//!
//! [`Reports::run_once`] is one run of the job: for every configured report it
//! takes the **latest due** period only — a period is due once its last local day
//! may be closed ([`Reports::delay_secs`]) — and sends it unless the ledger says
//! it was sent. So a restart never sends twice, a period missed while veil was
//! down is sent once at the next start, and after a long outage only the latest
//! missed period goes out, not one message per missed week. [`run_reports`]
//! runs it at start and every `[reports] interval_secs`.

pub mod content;
pub mod ledger;
pub mod mail;
pub mod period;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;

use crate::clock::zone::Zone;
use crate::clock::{format_day, Clock};
use crate::config::{Config, Every, ReportConfig, SiteConfig};
use crate::stats::params::DateRange;

use self::ledger::{Key, Status};
use self::mail::Mailer;
use self::period::Period;
use self::render::Lang;

/// Why a report could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// ClickHouse failed (ledger or content).
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The message could not be built.
    #[error("message: {0}")]
    Message(#[from] lettre::error::Error),
    /// A setting that validation should have caught.
    #[error("{0}")]
    Config(String),
}

/// What a run did with one report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This run sent it.
    Sent,
    /// The ledger says it was sent (by this node or another).
    AlreadySent,
    /// Another node's claim is live: it is sending.
    InFlight,
    /// Another node won the claim.
    Lost,
    /// Reading, sending or marking failed: retried once the claim times out.
    Failed(String),
}

/// One report of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// Site id.
    pub site: String,
    /// Weekly or monthly.
    pub every: Every,
    /// The period it covers.
    pub period: DateRange,
    /// What happened.
    pub outcome: Outcome,
}

/// A report claimed in this run, waiting for its election.
struct Claimed {
    done: usize,
    key: Key,
    round: u32,
    token: u64,
    message: lettre::Message,
    to: usize,
}

/// Each site's time zone, in the configuration's order.
fn zones(config: &Config) -> Vec<Zone> {
    config
        .sites
        .iter()
        .map(|s| Zone::new(&s.timezone).unwrap_or_else(|_| Zone::utc()))
        .collect()
}

/// The report job.
pub struct Reports {
    client: Client,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
    zones: Vec<Zone>,
}

impl Reports {
    /// The job of a validated configuration; `None` when no site has reports.
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Result<Option<Reports>, ReportError> {
        if config.sites.iter().all(|s| s.reports.is_empty()) {
            return Ok(None);
        }
        // The same time limit as the stats API's queries, which these are.
        let client = crate::sink::schema::client(&config.clickhouse).with_setting(
            "max_execution_time",
            config.stats.query_timeout_secs.to_string(),
        );
        Ok(Some(Reports {
            client,
            mailer: Mailer::new(&config.smtp)?,
            zones: zones(config),
            config: Arc::new(config.clone()),
            clock,
        }))
    }

    /// Takes the sites' reports from `config` (a configuration reload): the
    /// SMTP server and the job's timing stay those veil started with.
    pub fn follow(&mut self, config: Arc<Config>) {
        if !Arc::ptr_eq(&self.config, &config) {
            self.zones = zones(&config);
            self.config = config;
        }
    }

    /// How long after a period's last local day its report is due: the salt
    /// grace, the day close's settle and one flush — when the day may be closed
    /// and no more hits of it can arrive, so the numbers are the ones the API
    /// answers for the period from then on.
    pub fn delay_secs(config: &Config) -> u64 {
        config.salt.grace_secs
            + config.pipeline.close_settle_ms.div_ceil(1_000)
            + config.pipeline.flush_interval_ms.div_ceil(1_000)
    }

    /// Sends every due report not sent yet (each report's latest due period
    /// only): look, claim, one settle for all claims, elect, send, mark (see
    /// [`ledger`]). A failure of one report does not stop the others.
    pub async fn run_once(&self) -> Vec<Done> {
        let now = self.clock.now_secs();
        let delay = Self::delay_secs(&self.config);
        let job = &self.config.reports;
        let mut done = Vec::new();
        let mut claimed = Vec::new();
        for (i, site) in self.config.sites.iter().enumerate() {
            for report in &site.reports {
                let period = Period::latest_due(report.every, &self.zones[i], now, delay);
                let d = done.len();
                done.push(Done {
                    site: site.id.clone(),
                    every: report.every,
                    period: period.range,
                    outcome: Outcome::Failed(String::new()),
                });
                match self.claim(site, report, period).await {
                    Ok(Ok(mut c)) => {
                        c.done = d;
                        claimed.push(c);
                    }
                    Ok(Err(outcome)) => done[d].outcome = outcome,
                    Err(e) => done[d].outcome = Outcome::Failed(e.to_string()),
                }
            }
        }
        if !claimed.is_empty() {
            tokio::time::sleep(Duration::from_millis(job.claim_settle_ms)).await;
        }
        for c in claimed {
            let d = c.done;
            done[d].outcome = match self.elect_and_send(c).await {
                Ok(o) => o,
                Err(e) => Outcome::Failed(e.to_string()),
            };
        }
        for d in &done {
            let period = format_day(d.period.from);
            let kind = d.every.as_str();
            match &d.outcome {
                Outcome::Sent => tracing::info!(site = %d.site, kind, %period, "report sent"),
                Outcome::Failed(e) => {
                    tracing::warn!(site = %d.site, kind, %period, error = %e, "report not sent; retried once its claim times out")
                }
                o => tracing::debug!(site = %d.site, kind, %period, outcome = ?o, "report"),
            }
        }
        done
    }

    /// Steps 1 and 2: look, and claim when open (the message is built first,
    /// so a failed read claims nothing).
    async fn claim(
        &self,
        site: &SiteConfig,
        report: &ReportConfig,
        period: Period,
    ) -> Result<Result<Claimed, Outcome>, ReportError> {
        let addresses: Vec<String> = report
            .to
            .iter()
            .map(|t| {
                t.parse::<lettre::message::Mailbox>()
                    .map(|m| m.email.to_string())
                    .unwrap_or_else(|_| t.clone())
            })
            .collect();
        let key = Key {
            site: site.id.clone(),
            every: report.every,
            period: period.range.from,
            recipients: ledger::recipients_hash(&addresses),
        };
        let round = match ledger::status(&self.client, &key, self.config.reports.claim_timeout_secs)
            .await?
        {
            Status::Sent => return Ok(Err(Outcome::AlreadySent)),
            Status::InFlight => return Ok(Err(Outcome::InFlight)),
            Status::Open { round } => round,
        };
        let content = content::gather(&self.client, site, period).await?;
        let lang = Lang::of(report.language.as_deref().unwrap_or(&site.language));
        let rendered = render::render(&content, lang);
        let id = message_id(&key);
        let message = mail::message(
            self.mailer.from(),
            &report.to,
            &rendered,
            &id,
            self.clock.now_ms(),
        )?;
        let token = ledger::new_token();
        ledger::claim_sql(&key, round, token)
            .query(&self.client)
            .execute()
            .await?;
        Ok(Ok(Claimed {
            done: 0,
            key,
            round,
            token,
            message,
            to: report.to.len(),
        }))
    }

    /// Steps 4 and 5: the winner sends and marks `sent`.
    async fn elect_and_send(&self, c: Claimed) -> Result<Outcome, ReportError> {
        let summary = ledger::status_sql(&c.key)
            .query(&self.client)
            .fetch_one::<ledger::Summary>()
            .await?;
        if summary.state >= ledger::SENT {
            return Ok(Outcome::AlreadySent);
        }
        let at = match ledger::winner(&self.client, &c.key, c.round).await? {
            Some((token, at)) if token == c.token => at,
            _ => return Ok(Outcome::Lost),
        };
        self.mailer.send(c.message).await?;
        tracing::debug!(site = %c.key.site, recipients = c.to, "report handed to the SMTP server");
        let sent = ledger::sent_sql(&c.key, c.round, c.token, at);
        let mut last = None;
        for attempt in 0..3u32 {
            match sent.query(&self.client).execute().await {
                Ok(()) => return Ok(Outcome::Sent),
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
            }
        }
        Err(ReportError::Config(format!(
            "sent, but the ledger could not record it (it will be sent again once the claim times out): {}",
            last.map_or_else(String::new, |e| e.to_string())
        )))
    }
}

/// The `Message-ID` local part of a report: the same for every send of the same
/// report, so a resend in the ledger's crash window is recognisably the same
/// message.
pub fn message_id(key: &Key) -> String {
    let h = blake3::hash(format!("{}\n{}", key.site, key.recipients).as_bytes());
    format!(
        "veil-report.{}.{}.{}",
        key.every.as_str(),
        format_day(key.period).replace('-', ""),
        &h.to_hex()[..16]
    )
}

/// The report task: a run at start (a period missed while veil was down goes
/// out now), then every `every`, until `stop` resolves.
pub async fn run_reports(
    mut reports: Reports,
    every: Duration,
    current: impl Fn() -> Arc<Config>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        reports.follow(current());
        // Not cancelled by `stop`: a run stopped between sending and marking
        // would send again later.
        reports.run_once().await;
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
