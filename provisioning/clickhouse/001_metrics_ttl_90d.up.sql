-- Mesh Metrics: keep 90 days of metrics in the collector's tables.
--
-- Sets the TTL the clickhouse exporter itself would create with `ttl: 90d`
-- (rendered by ClickHouse as `toDateTime(TimeUnix) + toIntervalDay(90)`) on
-- the five otel_metrics_* tables it creates, whether TimeUnix is DateTime
-- (exporter v0.12x and later) or DateTime64(9) (older exporters):
-- toDateTime() accepts both.
--
-- Idempotent: MODIFY TTL replaces the table's TTL, so a second run leaves the
-- same definition. Each run also queues one MATERIALIZE TTL mutation per
-- table (materialize_ttl_after_modify = 1, the default), which drops the
-- day partitions already older than 90 days; with the exporter's
-- ttl_only_drop_parts = 1 whole parts are dropped, nothing is rewritten row
-- by row. Watch it with the `pending_ttl_mutations` query of verify.sql.
--
-- Only otel_metrics_* tables are named here: otel_logs (the logs pipeline)
-- and every other table keep their own TTL.
--
-- Run (database as a parameter, "otel" by default in the exporter):
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/001_metrics_ttl_90d.up.sql
-- Roll back with 001_metrics_ttl_90d.down.sql.

ALTER TABLE {database:Identifier}.otel_metrics_gauge MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY;
ALTER TABLE {database:Identifier}.otel_metrics_sum MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY;
ALTER TABLE {database:Identifier}.otel_metrics_histogram MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY;
ALTER TABLE {database:Identifier}.otel_metrics_exponential_histogram MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY;
ALTER TABLE {database:Identifier}.otel_metrics_summary MODIFY TTL toDateTime(TimeUnix) + INTERVAL 90 DAY;
