//! The report ledger (`report_ledger`, `sql/0004_reports.sql`): how several veil
//! nodes send each report once.
//!
//! A report is keyed by (site, kind, period, recipients) — [`Key`]. A node that
//! finds a report due runs these steps (the job does them for every due report
//! at once, so one settle serves them all):
//!
//! 1. **Look** ([`status`]): a `sent` row → done. A claim younger than
//!    `claim_timeout_secs` → another node is on it: leave it. Otherwise the
//!    report is open in round *r* = 0, or one more than the latest round when
//!    every earlier claim timed out.
//! 2. **Claim** ([`claim_sql`]): insert (key, *r*, a random token, `claimed`,
//!    `at` = the ClickHouse server's `now()`).
//! 3. **Settle**: wait `claim_settle_ms`.
//! 4. **Elect** ([`winner`]): of round *r*'s claims the earliest `at` wins, the
//!    smallest token among claims of the same second (`ORDER BY at, token
//!    LIMIT 1`). Only the winner sends — unless a `sent` row appeared meanwhile.
//! 5. **Mark** ([`sent_sql`]): the winner inserts `sent` with its claim's round,
//!    token and `at`. The table is a `ReplacingMergeTree(state)` ordered by the
//!    key, round and token, so a merge folds a claim and its `sent` into the
//!    `sent` row — with the same `at`, so no answer of steps 1 and 4 changes;
//!    readers aggregate and never need `FINAL`.
//!
//! # Why exactly one node sends
//!
//! Every `at` comes from one clock, the server's, so node clocks may disagree.
//! Let *S* be the settle and *L* the longest time an insert takes from the
//! moment its `now()` is taken until a read sees the row. Node *X* claims with
//! `at = x`; its claim started at real time ≥ *x* (`at` has whole seconds,
//! rounded down), so *X* elects at real time ≥ *x + S*. Any claim with
//! `at ≤ x` was started before *x + 1* and is visible by *x + 1 + L*. With
//! *S ≥ 1 s + L*, *X* therefore sees every claim that could be earlier than or
//! tied with its own, so it computes the true earliest claim of the round — and
//! so does every other participant, which makes their elections agree: one
//! winner. A node that joins round *r* late (its claim's `at` is later than the
//! winner's) just loses. A node that looks (step 1) after a claim of the round
//! is visible stays out. The validation keeps *S* ≥ 2 s, i.e. *L* ≤ 1 s at the
//! minimum; the default 5 s allows inserts of 4 s.
//!
//! # Where it is at-least-once, honestly
//!
//! - **A crash between sending and marking** (or a `sent` insert that fails, or
//!   an SMTP server that accepted the message but whose answer was lost): the
//!   claim times out after `claim_timeout_secs` and a later run — of any node —
//!   sends the report again. The resend carries the same `Message-ID`, so mail
//!   clients that deduplicate show it once.
//! - **A winner slower than the claim timeout** (stuck longer than the
//!   validation's bound of the settle plus eight SMTP timeouts): a second node
//!   may take the report over while the first still sends.
//! - **An insert slower than the settle allows** (`L` above): two nodes may both
//!   elect themselves. The same settle argument as the day close's.
//! - **Several ClickHouse servers** behind the nodes: the argument needs a read
//!   after an insert to see it, i.e. the nodes share one server (or replicas
//!   read with sequential consistency).
//!
//! A send that fails (SMTP down, recipient refused) leaves the claim, so the
//! report is retried once the claim times out; once a newer period is due, the
//! job sends that one instead (see `report::Reports::run_once`).

use clickhouse::Client;
use serde::Deserialize;

use super::ReportError;
use crate::clock::format_day;
use crate::config::Every;
use crate::sink::sql::{text, Arg, Sql};

/// Ledger states.
pub const CLAIMED: u8 = 1;
/// The message was handed to the SMTP server.
pub const SENT: u8 = 2;

/// One report of one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Site id.
    pub site: String,
    /// Weekly or monthly.
    pub every: Every,
    /// First local day of the period.
    pub period: u32,
    /// Hash of the sorted recipient addresses ([`recipients_hash`]).
    pub recipients: String,
}

/// A stable hash of a recipient list: lower-cased addresses, sorted, deduplicated
/// (16 hex digits). Adding or removing a recipient makes it a new report.
pub fn recipients_hash(addresses: &[String]) -> String {
    let mut list: Vec<String> = addresses.iter().map(|a| a.trim().to_lowercase()).collect();
    list.sort();
    list.dedup();
    let hash = blake3::hash(list.join("\n").as_bytes());
    hash.to_hex()[..16].to_string()
}

impl Key {
    fn where_key(&self, sql: &mut Sql) {
        sql.push(
            " WHERE site = ? AND kind = ? AND period = toDate(?) AND recipients = ?",
            [
                text(&self.site),
                text(self.every.as_str()),
                text(format_day(self.period)),
                text(&self.recipients),
            ],
        );
    }

    fn values(&self) -> [Arg; 4] {
        [
            text(&self.site),
            text(self.every.as_str()),
            text(format_day(self.period)),
            text(&self.recipients),
        ]
    }
}

/// What step 1 found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A node sent it.
    Sent,
    /// A claim younger than the timeout: a node is on it.
    InFlight,
    /// Nobody sent it and no live claim: claim it in this round.
    Open {
        /// The round to claim in.
        round: u32,
    },
}

/// The ledger's summary of one report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clickhouse::Row, Deserialize)]
pub struct Summary {
    /// Highest state of any row (0: none).
    pub state: u8,
    /// Latest round.
    pub round: u32,
    /// Rows.
    pub rows: u64,
    /// Latest claim (Unix seconds, server clock).
    pub last_at: u32,
    /// The server's clock now.
    pub now: u32,
}

impl Summary {
    /// Step 1's decision.
    pub fn status(&self, claim_timeout_secs: u64) -> Status {
        if self.state >= SENT {
            Status::Sent
        } else if self.rows == 0 {
            Status::Open { round: 0 }
        } else if u64::from(self.now.saturating_sub(self.last_at)) < claim_timeout_secs {
            Status::InFlight
        } else {
            Status::Open {
                round: self.round + 1,
            }
        }
    }
}

/// The SQL of [`status`].
pub fn status_sql(key: &Key) -> Sql {
    let mut sql = Sql::new(
        "SELECT toUInt8(max(state)) AS state, toUInt32(max(round)) AS round, count() AS rows, \
         toUInt32(max(at)) AS last_at, toUInt32(now()) AS now FROM report_ledger",
    );
    key.where_key(&mut sql);
    sql
}

/// Step 1: what the ledger says about a report.
pub async fn status(c: &Client, key: &Key, claim_timeout_secs: u64) -> Result<Status, ReportError> {
    let s = status_sql(key).query(c).fetch_one::<Summary>().await?;
    Ok(s.status(claim_timeout_secs))
}

/// Step 2: a claim of `key` in `round` with `token`, stamped by the server.
pub fn claim_sql(key: &Key, round: u32, token: u64) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO report_ledger (site, kind, period, recipients, round, token, state, at, sent_at) \
         SELECT ?, ?, toDate(?), ?, toUInt32(?), toUInt64(?), toUInt8(?), now(), toDateTime(0, 'UTC')",
    );
    sql.args.extend(key.values());
    sql.args.extend([
        Arg::Num(u64::from(round)),
        Arg::Num(token),
        Arg::Num(u64::from(CLAIMED)),
    ]);
    sql
}

#[derive(clickhouse::Row, Deserialize)]
struct Claim {
    token: u64,
    at: u32,
}

/// The SQL of [`winner`].
pub fn winner_sql(key: &Key, round: u32) -> Sql {
    let mut sql = Sql::new("SELECT token, toUInt32(at) AS at FROM report_ledger");
    key.where_key(&mut sql);
    sql.push(
        " AND round = ? ORDER BY at, token LIMIT 1",
        [Arg::Num(u64::from(round))],
    );
    sql
}

/// Step 4: the winning claim of a round, (token, at): the earliest, the smallest
/// token within a second.
pub async fn winner(c: &Client, key: &Key, round: u32) -> Result<Option<(u64, u32)>, ReportError> {
    let rows = winner_sql(key, round).query(c).fetch_all::<Claim>().await?;
    Ok(rows.first().map(|r| (r.token, r.at)))
}

/// Step 5: `sent` for the winning claim (its round, token and `at`).
pub fn sent_sql(key: &Key, round: u32, token: u64, at: u32) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO report_ledger (site, kind, period, recipients, round, token, state, at, sent_at) \
         SELECT ?, ?, toDate(?), ?, toUInt32(?), toUInt64(?), toUInt8(?), toDateTime(toUInt32(?), 'UTC'), now()",
    );
    sql.args.extend(key.values());
    sql.args.extend([
        Arg::Num(u64::from(round)),
        Arg::Num(token),
        Arg::Num(u64::from(SENT)),
        Arg::Num(u64::from(at)),
    ]);
    sql
}

/// A claim token: random, non-zero, below 2^63 (a plain literal on every engine).
pub fn new_token() -> u64 {
    (rand::random::<u64>() >> 1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            site: "o'site".into(),
            every: Every::Week,
            period: 20_773,
            recipients: recipients_hash(&["B@x.example".into(), "a@x.example".into()]),
        }
    }

    #[test]
    fn the_recipient_hash_ignores_order_case_and_repeats() {
        let a = recipients_hash(&["a@x.example".into(), "b@x.example".into()]);
        let b = recipients_hash(&[
            "B@X.example".into(),
            "a@x.example".into(),
            "a@x.example".into(),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_ne!(a, recipients_hash(&["a@x.example".into()]));
    }

    #[test]
    fn step_one_sends_nothing_twice_and_retakes_only_timed_out_claims() {
        let s = |state, round, rows, last_at, now| Summary {
            state,
            round,
            rows,
            last_at,
            now,
        };
        assert_eq!(s(0, 0, 0, 0, 1_000).status(900), Status::Open { round: 0 });
        assert_eq!(s(CLAIMED, 0, 2, 500, 1_000).status(900), Status::InFlight);
        assert_eq!(
            s(CLAIMED, 0, 2, 99, 1_000).status(900),
            Status::Open { round: 1 }
        );
        assert_eq!(
            s(CLAIMED, 3, 7, 99, 1_000).status(900),
            Status::Open { round: 4 }
        );
        assert_eq!(s(SENT, 0, 2, 99, 1_000).status(900), Status::Sent);
        assert_eq!(s(SENT, 0, 2, 999, 1_000).status(900), Status::Sent);
    }

    #[test]
    fn the_statements_bind_every_value() {
        let k = key();
        for sql in [
            status_sql(&k),
            claim_sql(&k, 2, 77),
            winner_sql(&k, 2),
            sent_sql(&k, 2, 77, 1_795_424_400),
        ] {
            assert_eq!(
                sql.text.matches('?').count(),
                sql.args.len(),
                "{}",
                sql.text
            );
            assert!(sql.inline().contains("'o\\'site'"));
        }
        assert!(winner_sql(&k, 2)
            .inline()
            .ends_with("AND round = 2 ORDER BY at, token LIMIT 1"));
        assert!(claim_sql(&k, 2, 77).inline().contains("toUInt8(1), now()"));
        assert!(sent_sql(&k, 2, 77, 5)
            .inline()
            .contains("toUInt8(2), toDateTime(toUInt32(5), 'UTC'), now()"));
        assert!(new_token() >= 1 && new_token() < 1 << 63);
    }
}
