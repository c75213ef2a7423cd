-- Mesh Metrics: roll back 002_series_tables.up.sql.
--
-- Drops the recent samples (003_recent_samples.up.sql) first, which copy
-- the samples tables, then the materialized views (the exporter's inserts
-- stop being copied), then the series and samples tables. The exporter's tables are
-- not touched. The plugin notices within its schema refresh (5 minutes)
-- and goes back to reading the exporter's tables (slower, same answers);
-- its health check says so. Idempotent: IF EXISTS everywhere.
--
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/002_series_tables.down.sql

DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_sum_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_gauge_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_histogram_mv;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_sum;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_gauge;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_histogram;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_samples_sum_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_samples_gauge_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_samples_histogram_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_series_sum_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_series_gauge_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_series_histogram_mv;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_series;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_samples_sum;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_samples_gauge;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_samples_histogram;
