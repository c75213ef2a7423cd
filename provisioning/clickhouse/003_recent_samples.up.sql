-- Mesh Metrics: the last day of samples again, ordered by time, beside the
-- series extension's samples tables (002_series_tables.up.sql, which this
-- needs), so that a short window (an instant query, a refreshed range's
-- newest minutes) reads the rows in it instead of a granule of every
-- series (docs/dialect.md, "Recent samples").
--
--   meshmetrics_recent_{sum,gauge,histogram}: the samples tables' columns,
--       ORDER BY (MetricName, TimeUnix, sid), by day, kept for a day
--       (TTL 1 day; with ttl_only_drop_parts a day's part goes when all its
--       rows are a day old, so every row of the last 24 hours is there).
--
-- Materialized views on the samples tables copy every block the series
-- extension's views write there, in the same INSERT into the exporter's
-- tables (late rows a replay brings included). The exporter's tables and
-- the samples tables are not changed.
--
-- The plugin reads these tables only when all three carry the comment
-- 'meshmetrics recent v1 backfilled', which 003_recent_samples.backfill.sql
-- sets once it has copied the rows stored before the views existed, and
-- only for reads of at most 20 minutes that start less than 20 hours ago.
--
-- TimeUnix is DateTime, as in 002; for tables of an older exporter
-- (DateTime64(9)) replace `TimeUnix DateTime` by `TimeUnix DateTime64(9)`
-- below, as in 002.
--
-- Idempotent: every statement is IF NOT EXISTS. Then run
-- 003_recent_samples.backfill.sql; roll back with 003_recent_samples.down.sql.
--
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/003_recent_samples.up.sql

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_recent_sum
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (MetricName, TimeUnix, sid)
TTL toDateTime(TimeUnix) + INTERVAL 1 DAY
SETTINGS ttl_only_drop_parts = 1
COMMENT 'meshmetrics recent v1';

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_recent_gauge
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (MetricName, TimeUnix, sid)
TTL toDateTime(TimeUnix) + INTERVAL 1 DAY
SETTINGS ttl_only_drop_parts = 1
COMMENT 'meshmetrics recent v1';

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_recent_histogram
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (MetricName, TimeUnix, sid)
TTL toDateTime(TimeUnix) + INTERVAL 1 DAY
SETTINGS ttl_only_drop_parts = 1
COMMENT 'meshmetrics recent v1';

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_recent_sum_mv
TO {database:Identifier}.meshmetrics_recent_sum AS
SELECT MetricName, sid, TimeUnix, Value, Flags
FROM {database:Identifier}.meshmetrics_samples_sum;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_recent_gauge_mv
TO {database:Identifier}.meshmetrics_recent_gauge AS
SELECT MetricName, sid, TimeUnix, Value, Flags
FROM {database:Identifier}.meshmetrics_samples_gauge;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_recent_histogram_mv
TO {database:Identifier}.meshmetrics_recent_histogram AS
SELECT MetricName, sid, TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags
FROM {database:Identifier}.meshmetrics_samples_histogram;
