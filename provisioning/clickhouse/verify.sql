-- Mesh Metrics runbook: checks of the metric tables' retention and size.
--
-- Each query is named by a `-- name:` line and reads only system tables (no
-- scan of the data). All take the database as a parameter:
--   clickhouse-client --param_database=otel --multiquery --queries-file provisioning/clickhouse/verify.sql
-- or paste one into clickhouse-client after `SET param_database = 'otel'`.
-- They assume the exporter's default table names and its partitioning by
-- day (PARTITION BY toDate(TimeUnix)).

-- name: ttl_per_table
-- One row per metric table the exporter creates: present = 0 means the
-- table is missing; ok = 1 means its TTL is the 90-day one of
-- 001_metrics_ttl_90d.up.sql (ttl is '' when the table has none).
SELECT
    expected.table AS table,
    tables.name != '' AS present,
    extract(tables.engine_full, '\\bTTL (.+?)(?: SETTINGS |$)') AS ttl,
    ttl = 'toDateTime(TimeUnix) + toIntervalDay(90)' AS ok
FROM
(
    SELECT arrayJoin(['otel_metrics_exponential_histogram', 'otel_metrics_gauge', 'otel_metrics_histogram',
                      'otel_metrics_sum', 'otel_metrics_summary']) AS table
) AS expected
LEFT JOIN
(
    SELECT name, engine_full FROM system.tables WHERE database = {database:String}
) AS tables ON tables.name = expected.table
ORDER BY table;

-- name: partitions
-- Day partitions per table and the oldest and newest data in them. After
-- the TTL has been applied, oldest_day is at most 90 days (plus up to one
-- day, a part is dropped once all its rows expired) before today.
-- oldest_point and newest_point come from the parts' min/max of TimeUnix
-- (whole seconds, for DateTime and DateTime64(9) alike).
SELECT
    table,
    uniqExact(partition) AS partitions,
    min(partition) AS oldest_day,
    max(partition) AS newest_day,
    min(min_time) AS oldest_point,
    max(max_time) AS newest_point,
    sum(rows) AS points
FROM system.parts
WHERE active AND rows > 0 AND database = {database:String} AND table LIKE 'otel\\_metrics\\_%'
GROUP BY table
ORDER BY table;

-- name: rows_per_day
-- Stored points per day and table, newest day first: a gap or a sudden drop
-- means the collector stopped writing (or a scrape target went away).
SELECT
    partition AS day,
    table,
    sum(rows) AS points
FROM system.parts
WHERE active AND rows > 0 AND database = {database:String} AND table LIKE 'otel\\_metrics\\_%'
GROUP BY day, table
ORDER BY day DESC, table;

-- name: disk_per_table
-- Disk use per metric table, largest first.
SELECT
    table,
    sum(rows) AS points,
    count() AS active_parts,
    sum(bytes_on_disk) AS disk_bytes,
    formatReadableSize(disk_bytes) AS on_disk,
    sum(data_compressed_bytes) AS compressed_bytes,
    sum(data_uncompressed_bytes) AS uncompressed_bytes,
    round(uncompressed_bytes / greatest(compressed_bytes, 1), 2) AS compression_ratio
FROM system.parts
WHERE active AND database = {database:String} AND table LIKE 'otel\\_metrics\\_%'
GROUP BY table
ORDER BY disk_bytes DESC, table;

-- name: pending_ttl_mutations
-- TTL mutations still running on the metric tables (queued by MODIFY TTL).
-- Empty once the migration has been applied everywhere; a non-empty
-- latest_fail_reason needs a look.
SELECT
    table,
    mutation_id,
    command,
    create_time,
    parts_to_do,
    latest_fail_reason
FROM system.mutations
WHERE NOT is_done AND database = {database:String} AND table LIKE 'otel\\_metrics\\_%'
    AND command LIKE '%TTL%'
ORDER BY create_time, table;
