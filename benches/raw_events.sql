-- The raw-event table scripts/stats-bench.sh compares veil's storage with: one
-- row per pageview or custom event, the way Plausible's `events_v2` keeps traffic
-- (its column names where it has the column, the same partitioning and sort key
-- shape), filled with the same traffic by `veil-bench seed --raw-events events_raw`.
--
-- Differences from Plausible, all in the raw table's favour or neutral:
--   * only the columns veil's dimensions need (no hostname, city, click ids,
--     revenue, …); `channel` is stored, as Plausible does since 2024;
--   * `language` has no Plausible counterpart: it is here so every veil dimension
--     has a raw equivalent;
--   * plain `String` instead of `LowCardinality(String)`, because ClickHouse 18.16
--     needs an experimental setting for it (see /work/shared/CLICKHOUSE.md); on a
--     current server LowCardinality would make this table somewhat smaller;
--   * no separate sessions table (Plausible's `sessions_v2`): visit metrics are
--     computed from the events by grouping per `session_id`, which costs query
--     time instead of a second copy of the traffic on disk.
--
-- Runs on ClickHouse 18.16 and current releases (no TTL, CODEC, LowCardinality).
CREATE TABLE IF NOT EXISTS events_raw
(
    site            String,
    timestamp       DateTime('UTC'),
    name            String,
    user_id         UInt64,
    session_id      UInt64,
    pathname        String,
    referrer        String,
    referrer_source String,
    channel         String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_term        String,
    utm_content     String,
    country         String,
    region          String,
    browser         String,
    browser_version String,
    os              String,
    os_version      String,
    device          String,
    screen_size     String,
    language        String,
    meta            Nested(key String, value String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site, toDate(timestamp), user_id, timestamp);
