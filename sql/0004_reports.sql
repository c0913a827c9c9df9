-- veil schema v4: the ledger of scheduled e-mail reports.
--
-- One row per claim of a report, and one more when the claim's message was
-- sent. A report is (site, kind, period, recipients): the kind is `week` or
-- `month`, the period its first local day, and the recipients a hash of the
-- sorted addresses (a changed list is a new report). Senders claim with a
-- random token in a numbered round. `at` is the ClickHouse server's clock at
-- the claim (one clock for every veil node), and the earliest claim of a
-- round wins, the smallest token among claims of the same second (see
-- src/report/ledger.rs for the argument). State 1 = claimed, 2 = sent. The
-- sent row repeats its claim's round, token and `at`, so merging the two
-- (ReplacingMergeTree keeps the highest state) changes no answer. Readers
-- aggregate and never need FINAL.
--
-- No visitor data: a few rows per report and period.
-- Runs on ClickHouse 18.16 and on current releases (no TTL, no LowCardinality).

CREATE TABLE IF NOT EXISTS report_ledger
(
    site       String,
    kind       String,
    period     Date,
    recipients String,
    round      UInt32,
    token      UInt64,
    state      UInt8,
    at         DateTime('UTC'),
    sent_at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(state)
ORDER BY (site, kind, period, recipients, round, token)
