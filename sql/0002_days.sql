-- veil schema v2: a day's visitor sketches live only while the day is open.
--
-- A visitor is the same visitor only within one salt day, and the salt day is the
-- site's local day. So once a day is over (its salt destroyed, its grace passed,
-- its last window flushed), its sketches carry nothing but their counts:
--
--   * `open_aggregates`: hourly sketches of the open day(s), partitioned by
--     (local date, time zone), so closing a zone's day drops one partition,
--   * `daily` and `hourly`: plain UInt64 counters of closed days, visitors
--     included (the merged sketch's count), partitioned like the sketches. They are
--     written only by the day close, one (date, zone) partition at a time, with
--     `ALTER TABLE … REPLACE PARTITION … FROM` a staging table: atomic, so a rerun
--     or a second node closing the same day leaves exactly one copy and readers sum
--     the rows as they are,
--   * `late_daily` and `late_hourly`: additions to a day that arrive after its
--     close began (spool replay after an outage across midnight) under the batch's
--     id as `part` (and v1 data converted at upgrade, part 1). A retried batch
--     writes the same rows again, so readers take max() per (date[, hour], value,
--     part) of these small tables,
--   * `day_close`: the ledger of (site, local date) closes: state 1 = closing,
--     2 = closed. Readers use `daily`/`hourly` for a day only once it says 2.
--
-- Runs on ClickHouse 18.16 and on current releases (no TTL, no LowCardinality).
-- `veil migrate` converts v1 data after these statements (see sink::migrate_v1).

DROP TABLE IF EXISTS aggregates_mv;
DROP TABLE IF EXISTS batches_mv;
DROP TABLE IF EXISTS aggregates_in;

CREATE TABLE IF NOT EXISTS aggregates_in
(
    date      Date,
    zone      String,
    hour      DateTime('UTC'),
    site      String,
    dim       String,
    value     String,
    batch     UInt64,
    hits      UInt64,
    pageviews UInt64,
    events    UInt64,
    visits    UInt64,
    bounces   UInt64,
    duration  UInt64,
    visitors  Array(UInt64)
) ENGINE = Null;

CREATE TABLE IF NOT EXISTS open_aggregates
(
    date      Date,
    zone      String,
    hour      DateTime('UTC'),
    site      String,
    dim       String,
    value     String,
    hits      AggregateFunction(sum, UInt64),
    pageviews AggregateFunction(sum, UInt64),
    events    AggregateFunction(sum, UInt64),
    visits    AggregateFunction(sum, UInt64),
    bounces   AggregateFunction(sum, UInt64),
    duration  AggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombinedArray, Array(UInt64))
) ENGINE = AggregatingMergeTree
PARTITION BY (date, zone)
ORDER BY (site, dim, hour, value)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS open_aggregates_mv TO open_aggregates AS
SELECT
    date, zone, hour, site, dim, value,
    sumState(hits)      AS hits,
    sumState(pageviews) AS pageviews,
    sumState(events)    AS events,
    sumState(visits)    AS visits,
    sumState(bounces)   AS bounces,
    sumState(duration)  AS duration,
    uniqCombinedArrayState(visitors) AS visitors
FROM aggregates_in
GROUP BY date, zone, hour, site, dim, value;

CREATE MATERIALIZED VIEW IF NOT EXISTS batches_mv TO batches AS
SELECT date, batch, count() AS rows
FROM aggregates_in
GROUP BY date, batch;

CREATE TABLE IF NOT EXISTS daily
(
    date      Date,
    zone      String,
    site      String,
    dim       String,
    value     String,
    hits      UInt64,
    pageviews UInt64,
    events    UInt64,
    visits    UInt64,
    bounces   UInt64,
    duration  UInt64,
    visitors  UInt64
) ENGINE = MergeTree
PARTITION BY (date, zone)
ORDER BY (site, dim, date, value);

CREATE TABLE IF NOT EXISTS hourly
(
    date      Date,
    zone      String,
    hour      DateTime('UTC'),
    site      String,
    dim       String,
    value     String,
    hits      UInt64,
    pageviews UInt64,
    events    UInt64,
    visits    UInt64,
    bounces   UInt64,
    duration  UInt64,
    visitors  UInt64
) ENGINE = MergeTree
PARTITION BY (date, zone)
ORDER BY (site, dim, hour, value);

CREATE TABLE IF NOT EXISTS late_daily
(
    date      Date,
    site      String,
    dim       String,
    value     String,
    part      UInt64,
    hits      UInt64,
    pageviews UInt64,
    events    UInt64,
    visits    UInt64,
    bounces   UInt64,
    duration  UInt64,
    visitors  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY date
ORDER BY (site, dim, date, value, part);

CREATE TABLE IF NOT EXISTS late_hourly
(
    date      Date,
    hour      DateTime('UTC'),
    site      String,
    dim       String,
    value     String,
    part      UInt64,
    hits      UInt64,
    pageviews UInt64,
    events    UInt64,
    visits    UInt64,
    bounces   UInt64,
    duration  UInt64,
    visitors  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY date
ORDER BY (site, dim, hour, value, part);

CREATE TABLE IF NOT EXISTS day_close
(
    date  Date,
    site  String,
    zone  String,
    state UInt8,
    at    DateTime('UTC')
) ENGINE = ReplacingMergeTree(state)
PARTITION BY toYYYYMM(date)
ORDER BY (site, date);
