-- veil schema v5 on a ClickHouse cluster, created at once (`veil migrate` with
-- `clickhouse.cluster` set, on a cluster without veil's schema). A cluster at
-- v4 (0004_cluster.sql) gets to the same schema by 0005_batch_blocks.sql: 18.16
-- can fail an `ALTER … ON CLUSTER` of replicated tables created a moment before
-- (two replicas of a shard both ran it, one failed with "column already exists"
-- and its DDL task never finished: Code 159 after 60 s), so a new cluster is
-- created in its final shape instead. It holds the same tables under the same
-- names as sql/0001-0005 on one server, so the writer, the stats API and the day close
-- read and write as they do there. `@cluster@` and `@db@` are replaced by
-- `clickhouse.cluster` and `clickhouse.database`. Every statement runs
-- ON CLUSTER, so each server gets its own copy of the definitions.
--
-- Two kinds of table:
--
--   * sharded (the visitor sketches and the batch ids): `*_local` tables,
--     replicated within their shard (`{shard}` in the ZooKeeper path), and a
--     `Distributed` table with the name the code uses. `aggregates_in` is a
--     Distributed over each server's `aggregates_in_local` Null table, sharded
--     by batch id, so a batch lands whole on one shard, and the materialised
--     views live beside the Null table on each server, feeding the local
--     sketches and batch ids. Reads through `open_aggregates` merge the shards'
--     sketch states (uniqCombined states merge exactly as on one server),
--   * everywhere (the small tables of plain counters: closed days, late
--     additions, the close ledger, the report ledger, the migrations): one
--     replication group over all servers (`all` in the path), so each server
--     answers them alone and the day close's REPLACE PARTITION (from a staging
--     table on the server it runs on) reaches every replica.
--
-- Only ClickHouse 18.16 clusters are tested (scripts/cluster.sh).

CREATE TABLE IF NOT EXISTS @db@.aggregates_in_local ON CLUSTER @cluster@
(
    date         Date,
    zone         String,
    hour         DateTime('UTC'),
    site         String,
    dim          String,
    value        String,
    batch        UInt64,
    hits         UInt64,
    pageviews    UInt64,
    events       UInt64,
    visits       UInt64,
    bounces      UInt64,
    duration     UInt64,
    revenue      UInt64,
    engagements  UInt64,
    engaged_ms   UInt64,
    scroll_depth UInt64,
    visitors     Array(UInt64)
) ENGINE = Null;

CREATE TABLE IF NOT EXISTS @db@.open_aggregates_local ON CLUSTER @cluster@
(
    date         Date,
    zone         String,
    hour         DateTime('UTC'),
    site         String,
    dim          String,
    value        String,
    hits         AggregateFunction(sum, UInt64),
    pageviews    AggregateFunction(sum, UInt64),
    events       AggregateFunction(sum, UInt64),
    visits       AggregateFunction(sum, UInt64),
    bounces      AggregateFunction(sum, UInt64),
    duration     AggregateFunction(sum, UInt64),
    revenue      AggregateFunction(sum, UInt64),
    engagements  AggregateFunction(sum, UInt64),
    engaged_ms   AggregateFunction(sum, UInt64),
    scroll_depth AggregateFunction(sum, UInt64),
    visitors     AggregateFunction(uniqCombinedArray, Array(UInt64)),
    -- Not read by veil: it makes the view's block of every batch unique (see
    -- the view below).
    batch        AggregateFunction(max, UInt64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/@db@/open_aggregates_local', '{replica}')
PARTITION BY (date, zone)
ORDER BY (site, dim, hour, value)
SETTINGS index_granularity = 256;

-- A replicated table drops a block identical to one of its last 100 (insert
-- deduplication): that stores a retried batch once, but two different batches
-- whose cells happen to be equal (a quiet site: one count-only pageview of the
-- same page in the same hour, flush after flush, or on two nodes) would be
-- stored once too, and veil would have lost a pageview it holds for stored.
-- `maxState(batch)` puts the batch id into every block the view writes, so only
-- a retry of the same batch is an identical block.
CREATE MATERIALIZED VIEW IF NOT EXISTS @db@.open_aggregates_mv ON CLUSTER @cluster@
TO @db@.open_aggregates_local AS
SELECT
    date, zone, hour, site, dim, value,
    sumState(hits)         AS hits,
    sumState(pageviews)    AS pageviews,
    sumState(events)       AS events,
    sumState(visits)       AS visits,
    sumState(bounces)      AS bounces,
    sumState(duration)     AS duration,
    sumState(revenue)      AS revenue,
    sumState(engagements)  AS engagements,
    sumState(engaged_ms)   AS engaged_ms,
    sumState(scroll_depth) AS scroll_depth,
    uniqCombinedArrayState(visitors) AS visitors,
    maxState(batch)        AS batch
FROM @db@.aggregates_in_local
GROUP BY date, zone, hour, site, dim, value;

CREATE TABLE IF NOT EXISTS @db@.batches_local ON CLUSTER @cluster@
(
    date  Date,
    batch UInt64,
    rows  UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/@db@/batches_local', '{replica}')
PARTITION BY date
ORDER BY batch;

CREATE MATERIALIZED VIEW IF NOT EXISTS @db@.batches_mv ON CLUSTER @cluster@
TO @db@.batches_local AS
SELECT date, batch, count() AS rows
FROM @db@.aggregates_in_local
GROUP BY date, batch;

CREATE TABLE IF NOT EXISTS @db@.aggregates_in ON CLUSTER @cluster@
AS @db@.aggregates_in_local
ENGINE = Distributed(@cluster@, @db@, aggregates_in_local, batch);

CREATE TABLE IF NOT EXISTS @db@.open_aggregates ON CLUSTER @cluster@
AS @db@.open_aggregates_local
ENGINE = Distributed(@cluster@, @db@, open_aggregates_local);

CREATE TABLE IF NOT EXISTS @db@.batches ON CLUSTER @cluster@
AS @db@.batches_local
ENGINE = Distributed(@cluster@, @db@, batches_local);

CREATE TABLE IF NOT EXISTS @db@.daily ON CLUSTER @cluster@
(
    date         Date,
    zone         String,
    site         String,
    dim          String,
    value        String,
    hits         UInt64,
    pageviews    UInt64,
    events       UInt64,
    visits       UInt64,
    bounces      UInt64,
    duration     UInt64,
    revenue      UInt64,
    engagements  UInt64,
    engaged_ms   UInt64,
    scroll_depth UInt64,
    visitors     UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/@db@/daily', '{replica}')
PARTITION BY (date, zone)
ORDER BY (site, dim, date, value);

CREATE TABLE IF NOT EXISTS @db@.hourly ON CLUSTER @cluster@
(
    date         Date,
    zone         String,
    hour         DateTime('UTC'),
    site         String,
    dim          String,
    value        String,
    hits         UInt64,
    pageviews    UInt64,
    events       UInt64,
    visits       UInt64,
    bounces      UInt64,
    duration     UInt64,
    revenue      UInt64,
    engagements  UInt64,
    engaged_ms   UInt64,
    scroll_depth UInt64,
    visitors     UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/@db@/hourly', '{replica}')
PARTITION BY (date, zone)
ORDER BY (site, dim, hour, value);

CREATE TABLE IF NOT EXISTS @db@.late_daily ON CLUSTER @cluster@
(
    date         Date,
    site         String,
    dim          String,
    value        String,
    part         UInt64,
    hits         UInt64,
    pageviews    UInt64,
    events       UInt64,
    visits       UInt64,
    bounces      UInt64,
    duration     UInt64,
    revenue      UInt64,
    engagements  UInt64,
    engaged_ms   UInt64,
    scroll_depth UInt64,
    visitors     UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/@db@/late_daily', '{replica}')
PARTITION BY date
ORDER BY (site, dim, date, value, part);

CREATE TABLE IF NOT EXISTS @db@.late_hourly ON CLUSTER @cluster@
(
    date         Date,
    hour         DateTime('UTC'),
    site         String,
    dim          String,
    value        String,
    part         UInt64,
    hits         UInt64,
    pageviews    UInt64,
    events       UInt64,
    visits       UInt64,
    bounces      UInt64,
    duration     UInt64,
    revenue      UInt64,
    engagements  UInt64,
    engaged_ms   UInt64,
    scroll_depth UInt64,
    visitors     UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/@db@/late_hourly', '{replica}')
PARTITION BY date
ORDER BY (site, dim, hour, value, part);

CREATE TABLE IF NOT EXISTS @db@.day_close ON CLUSTER @cluster@
(
    date  Date,
    site  String,
    zone  String,
    state UInt8,
    at    DateTime('UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/@db@/day_close', '{replica}', state)
PARTITION BY toYYYYMM(date)
ORDER BY (site, date);

CREATE TABLE IF NOT EXISTS @db@.report_ledger ON CLUSTER @cluster@
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/@db@/report_ledger', '{replica}', state)
ORDER BY (site, kind, period, recipients, round, token)
