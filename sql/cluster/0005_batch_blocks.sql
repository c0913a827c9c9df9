-- veil schema v5 on a ClickHouse cluster: every batch's sketch block is its own.
--
-- A replicated table drops a block identical to one of its last 100 (insert
-- deduplication): that stores a retried batch once, but two different batches
-- whose cells happen to be equal (a quiet site: one count-only pageview of the
-- same page in the same hour, flush after flush, or on two nodes) would be
-- stored once too, and veil would have lost a pageview it holds for stored.
-- `maxState(batch)` puts the batch id into every block the view writes, so only
-- a retry of the same batch is an identical block. The column is read by no
-- query, and rows stored before v5 hold its empty state.
--
-- The view lists its columns, so it is dropped and created again around the
-- change of its target (as sql/0003_conversions.sql does on one server). A
-- batch inserted between the DROP and the CREATE would keep its batch id but
-- lose its sketch rows: stop the veil nodes (SIGTERM flushes them) before
-- `veil migrate`, start them again after.
--
-- The `Distributed` `open_aggregates` is created again `AS` the changed local
-- table: it stores nothing, and 18.16 refuses `ALTER … ON CLUSTER` of a table
-- that is not replicated on a cluster of replicated shards (Code 371). 18.16 has
-- no `ADD COLUMN IF NOT EXISTS`: `veil migrate` takes "column already exists"
-- (Code 44) of an `ADD COLUMN` as done, so a rerun after a failure half-way, or
-- a cluster whose v4 already had the column, finishes the job. (A new cluster
-- gets v5 at once, 0005_cluster.sql: on replicated tables created a moment
-- before, 18.16 once ran this ALTER on both replicas of a shard, one failed
-- and the task never finished, Code 159 after 60 s. Should that happen here,
-- the column is there: run `veil migrate` again.)

DROP TABLE IF EXISTS @db@.open_aggregates_mv ON CLUSTER @cluster@;

ALTER TABLE @db@.open_aggregates_local ON CLUSTER @cluster@
    ADD COLUMN batch AggregateFunction(max, UInt64);

DROP TABLE IF EXISTS @db@.open_aggregates ON CLUSTER @cluster@;

CREATE TABLE IF NOT EXISTS @db@.open_aggregates ON CLUSTER @cluster@
AS @db@.open_aggregates_local
ENGINE = Distributed(@cluster@, @db@, open_aggregates_local);

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
