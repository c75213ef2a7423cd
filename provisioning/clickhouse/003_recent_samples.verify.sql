-- Mesh Metrics runbook: checks of the recent samples (003_recent_samples.up.sql).
-- Each query is named by a `-- name:` line and takes the database as a
-- parameter:
--   clickhouse-client --param_database=otel --multiquery --format PrettyCompact \
--     --queries-file provisioning/clickhouse/003_recent_samples.verify.sql

-- name: recent_objects
-- The migration's six objects: present = 1 each; the three tables' comment
-- is 'meshmetrics recent v1 backfilled' once the backfill has run (the
-- plugin reads them only then), the views' is ''. Reads system tables only.
SELECT
    expected.name AS name,
    tables.name != '' AS present,
    tables.engine AS engine,
    tables.comment AS comment
FROM
(
    SELECT arrayJoin(['meshmetrics_recent_sum', 'meshmetrics_recent_gauge', 'meshmetrics_recent_histogram',
                      'meshmetrics_recent_sum_mv', 'meshmetrics_recent_gauge_mv', 'meshmetrics_recent_histogram_mv']) AS name
) AS expected
LEFT JOIN
(
    SELECT name, engine, comment FROM system.tables WHERE database = {database:String}
) AS tables ON tables.name = expected.name
ORDER BY name;

-- name: recent_rows
-- Rows of the last 20 hours (the part the plugin reads) in each samples
-- table and its recent table: diff = 0. It reads those hours' TimeUnix
-- column of both tables.
SELECT kind, samples_rows, recent_rows, toInt64(recent_rows) - toInt64(samples_rows) AS diff
FROM
(
    SELECT 'sum' AS kind,
        (SELECT count() FROM {database:Identifier}.meshmetrics_samples_sum WHERE TimeUnix >= now() - INTERVAL 20 HOUR) AS samples_rows,
        (SELECT count() FROM {database:Identifier}.meshmetrics_recent_sum WHERE TimeUnix >= now() - INTERVAL 20 HOUR) AS recent_rows
    UNION ALL
    SELECT 'gauge',
        (SELECT count() FROM {database:Identifier}.meshmetrics_samples_gauge WHERE TimeUnix >= now() - INTERVAL 20 HOUR),
        (SELECT count() FROM {database:Identifier}.meshmetrics_recent_gauge WHERE TimeUnix >= now() - INTERVAL 20 HOUR)
    UNION ALL
    SELECT 'histogram',
        (SELECT count() FROM {database:Identifier}.meshmetrics_samples_histogram WHERE TimeUnix >= now() - INTERVAL 20 HOUR),
        (SELECT count() FROM {database:Identifier}.meshmetrics_recent_histogram WHERE TimeUnix >= now() - INTERVAL 20 HOUR)
)
ORDER BY kind;

-- name: recent_storage
-- What the recent tables hold and take: oldest and newest row time, rows,
-- compressed bytes per row (system.parts only).
SELECT
    table,
    min(min_time) AS oldest,
    max(max_time) AS newest,
    sum(rows) AS rows,
    round(sum(data_compressed_bytes) / greatest(rows, 1), 2) AS bytes_per_row,
    formatReadableSize(sum(bytes_on_disk)) AS on_disk
FROM system.parts
WHERE active AND database = {database:String} AND table LIKE 'meshmetrics\\_recent\\_%'
GROUP BY table
ORDER BY table;
