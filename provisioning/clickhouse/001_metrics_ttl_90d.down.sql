-- Mesh Metrics: roll back the 90-day TTL of 001_metrics_ttl_90d.up.sql.
--
-- REMOVE TTL takes the TTL off the otel_metrics_* tables; no row is deleted
-- or rewritten, the data already there stays (and from now on grows without
-- bound: set another TTL or drop old partitions yourself). Rows the TTL has
-- already dropped do not come back. otel_logs is not touched.
--
-- Run:
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/001_metrics_ttl_90d.down.sql
--
-- Note: with `ttl: 90d` in the collector's clickhouse exporter config a
-- table the exporter creates anew (after a DROP) gets the TTL again; the
-- exporter never alters an existing table.

ALTER TABLE {database:Identifier}.otel_metrics_gauge REMOVE TTL;
ALTER TABLE {database:Identifier}.otel_metrics_sum REMOVE TTL;
ALTER TABLE {database:Identifier}.otel_metrics_histogram REMOVE TTL;
ALTER TABLE {database:Identifier}.otel_metrics_exponential_histogram REMOVE TTL;
ALTER TABLE {database:Identifier}.otel_metrics_summary REMOVE TTL;
