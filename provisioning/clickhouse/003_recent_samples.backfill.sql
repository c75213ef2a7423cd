-- Mesh Metrics: copy the last day of samples stored before
-- 003_recent_samples.up.sql into its tables (its views copy every insert
-- after it), then mark each table backfilled: the plugin reads the recent
-- tables only once all three say so.
--
-- Each copy takes the samples of the last day older than the cutover (when
-- the first of the migration's views was created) that the recent table
-- does not hold yet: rows a replay brought through the views meanwhile are
-- not copied twice, and a second run copies nothing (idempotent). The
-- comment is set after its table's copy, so a run that fails part way
-- leaves that table unmarked; run it again.
--
-- Run once after the up migration (it reads the samples tables' last day):
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/003_recent_samples.backfill.sql

INSERT INTO {database:Identifier}.meshmetrics_recent_sum
SELECT MetricName, sid, TimeUnix, Value, Flags
FROM {database:Identifier}.meshmetrics_samples_sum
WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_recent_sum
        WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
    );

ALTER TABLE {database:Identifier}.meshmetrics_recent_sum MODIFY COMMENT 'meshmetrics recent v1 backfilled';

INSERT INTO {database:Identifier}.meshmetrics_recent_gauge
SELECT MetricName, sid, TimeUnix, Value, Flags
FROM {database:Identifier}.meshmetrics_samples_gauge
WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_recent_gauge
        WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
    );

ALTER TABLE {database:Identifier}.meshmetrics_recent_gauge MODIFY COMMENT 'meshmetrics recent v1 backfilled';

INSERT INTO {database:Identifier}.meshmetrics_recent_histogram
SELECT MetricName, sid, TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags
FROM {database:Identifier}.meshmetrics_samples_histogram
WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_recent_histogram
        WHERE TimeUnix >= now() - INTERVAL 1 DAY AND TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_recent\\_%\\_mv')
    );

ALTER TABLE {database:Identifier}.meshmetrics_recent_histogram MODIFY COMMENT 'meshmetrics recent v1 backfilled';
