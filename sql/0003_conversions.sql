-- veil schema v3: counters for revenue and engagement.
--
-- Goals, funnels, currencies and declared pairs of dimensions are new `dim`
-- values in the same tables, so only four counters are new:
--
--   * `revenue`: thousandths of the currency unit, only on cells keyed by a
--     currency (`currency`, `event*currency`, `goal*currency`, `source*currency`),
--   * `engagements`, `engaged_ms`, `scroll_depth`: engagement reports per page,
--     the summed visible time and the summed deepest scroll position (percent).
--
-- Existing rows read 0 for them. The materialized view lists its columns, so it
-- is dropped and created again around the change of its source and target.
-- Runs on ClickHouse 18.16 and on current releases.

DROP TABLE IF EXISTS open_aggregates_mv;

ALTER TABLE aggregates_in
    ADD COLUMN revenue UInt64 AFTER duration,
    ADD COLUMN engagements UInt64 AFTER revenue,
    ADD COLUMN engaged_ms UInt64 AFTER engagements,
    ADD COLUMN scroll_depth UInt64 AFTER engaged_ms;

ALTER TABLE open_aggregates
    ADD COLUMN revenue AggregateFunction(sum, UInt64) AFTER duration,
    ADD COLUMN engagements AggregateFunction(sum, UInt64) AFTER revenue,
    ADD COLUMN engaged_ms AggregateFunction(sum, UInt64) AFTER engagements,
    ADD COLUMN scroll_depth AggregateFunction(sum, UInt64) AFTER engaged_ms;

CREATE MATERIALIZED VIEW IF NOT EXISTS open_aggregates_mv TO open_aggregates AS
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
    uniqCombinedArrayState(visitors) AS visitors
FROM aggregates_in
GROUP BY date, zone, hour, site, dim, value;

ALTER TABLE daily
    ADD COLUMN revenue UInt64 AFTER duration,
    ADD COLUMN engagements UInt64 AFTER revenue,
    ADD COLUMN engaged_ms UInt64 AFTER engagements,
    ADD COLUMN scroll_depth UInt64 AFTER engaged_ms;

ALTER TABLE hourly
    ADD COLUMN revenue UInt64 AFTER duration,
    ADD COLUMN engagements UInt64 AFTER revenue,
    ADD COLUMN engaged_ms UInt64 AFTER engagements,
    ADD COLUMN scroll_depth UInt64 AFTER engaged_ms;

ALTER TABLE late_daily
    ADD COLUMN revenue UInt64 AFTER duration,
    ADD COLUMN engagements UInt64 AFTER revenue,
    ADD COLUMN engaged_ms UInt64 AFTER engagements,
    ADD COLUMN scroll_depth UInt64 AFTER engaged_ms;

ALTER TABLE late_hourly
    ADD COLUMN revenue UInt64 AFTER duration,
    ADD COLUMN engagements UInt64 AFTER revenue,
    ADD COLUMN engaged_ms UInt64 AFTER engagements,
    ADD COLUMN scroll_depth UInt64 AFTER engaged_ms
