-- Mesh Metrics: roll back 003_recent_samples.up.sql.
--
-- Drops the views first (the samples stop being copied), then the recent
-- tables. Neither the exporter's tables nor the series extension (002) are
-- touched. The plugin notices within its schema refresh (5 minutes) and
-- reads short windows from the samples tables again (slower, same answers);
-- its health check says so. Idempotent: IF EXISTS everywhere.
--
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/003_recent_samples.down.sql

DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_sum_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_gauge_mv;
DROP VIEW IF EXISTS {database:Identifier}.meshmetrics_recent_histogram_mv;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_sum;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_gauge;
DROP TABLE IF EXISTS {database:Identifier}.meshmetrics_recent_histogram;
