-- Mesh Metrics runbook: checks of the series extension
-- (002_series_tables.up.sql). Each query is named by a `-- name:` line,
-- takes the database as a parameter and reads only system tables:
--   clickhouse-client --param_database=otel --multiquery --format PrettyCompact \
--     --queries-file provisioning/clickhouse/002_series_tables.verify.sql

-- name: series_objects
-- The extension's ten objects: present = 1 each; the four tables' comment
-- is the version the plugin reads ('meshmetrics series v1'), the views'
-- is ''. The plugin's health check says the same in one line.
SELECT
    expected.name AS name,
    tables.name != '' AS present,
    tables.engine AS engine,
    tables.comment AS comment
FROM
(
    SELECT arrayJoin(['meshmetrics_series', 'meshmetrics_samples_sum', 'meshmetrics_samples_gauge',
                      'meshmetrics_samples_histogram', 'meshmetrics_samples_sum_mv', 'meshmetrics_samples_gauge_mv',
                      'meshmetrics_samples_histogram_mv', 'meshmetrics_series_sum_mv', 'meshmetrics_series_gauge_mv',
                      'meshmetrics_series_histogram_mv']) AS name
) AS expected
LEFT JOIN
(
    SELECT name, engine, comment FROM system.tables WHERE database = {database:String}
) AS tables ON tables.name = expected.name
ORDER BY name;

-- name: samples_per_day
-- Rows per day in each exporter table and in its samples table: equal
-- (diff = 0) on every day once the backfill has run. A day short in the
-- samples table was skipped by the backfill (see its header); a day over
-- was copied twice.
SELECT
    day,
    kind,
    sumIf(rows, startsWith(table, 'otel_metrics_')) AS exporter_rows,
    sumIf(rows, startsWith(table, 'meshmetrics_samples_')) AS samples_rows,
    toInt64(samples_rows) - toInt64(exporter_rows) AS diff
FROM
(
    SELECT partition AS day, table, replaceRegexpOne(table, '^(otel_metrics|meshmetrics_samples)_', '') AS kind, rows
    FROM system.parts
    WHERE active AND database = {database:String}
      AND table IN ('otel_metrics_sum', 'otel_metrics_gauge', 'otel_metrics_histogram',
                    'meshmetrics_samples_sum', 'meshmetrics_samples_gauge', 'meshmetrics_samples_histogram')
)
GROUP BY day, kind
ORDER BY day DESC, kind;

-- name: bytes_per_sample
-- Compressed bytes per stored row of the exporter's tables and of the
-- extension's (the series table per series-day row): what it adds.
SELECT
    table,
    sum(rows) AS rows,
    sum(data_compressed_bytes) AS compressed_bytes,
    round(compressed_bytes / greatest(rows, 1), 2) AS bytes_per_row,
    formatReadableSize(sum(bytes_on_disk)) AS on_disk
FROM system.parts
WHERE active AND database = {database:String}
  AND (table LIKE 'meshmetrics\\_%' OR table IN ('otel_metrics_sum', 'otel_metrics_gauge', 'otel_metrics_histogram'))
GROUP BY table
ORDER BY table;
