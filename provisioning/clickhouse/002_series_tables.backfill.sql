-- Mesh Metrics: copy the rows stored before 002_series_tables.up.sql into
-- its tables (the materialized views copy every insert after it).
--
-- Each statement copies the rows older than the cutover, the moment the
-- first of the migration's materialized views was created
-- (system.tables.metadata_modification_time). A samples statement copies
-- only the days where its table holds fewer such rows than the exporter's
-- (a day complete after a first run, or a crashed one, is skipped), and in
-- them only the (series, time) points it does not hold yet: late rows the
-- views copied meanwhile (a replay across the migration) are not copied
-- twice, and a second run copies nothing (idempotent). The series table is
-- a ReplacingMergeTree, where copying a series again is folded on merge and
-- grouped by sid in every read. Rows the collector inserted after the cutover are
-- the views' work, whatever their timestamps.
--
-- Run once after the up migration (it reads every stored metric row once):
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/002_series_tables.backfill.sql

-- meshmetrics_samples_sum_mv
INSERT INTO {database:Identifier}.meshmetrics_samples_sum
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Value, Flags
FROM {database:Identifier}.otel_metrics_sum
WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
  AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_sum WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_sum WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_samples_sum
        WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_sum WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_sum WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
    );

-- meshmetrics_samples_gauge_mv
INSERT INTO {database:Identifier}.meshmetrics_samples_gauge
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Value, Flags
FROM {database:Identifier}.otel_metrics_gauge
WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
  AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_gauge WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_gauge WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_samples_gauge
        WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_gauge WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_gauge WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
    );

-- meshmetrics_samples_histogram_mv
INSERT INTO {database:Identifier}.meshmetrics_samples_histogram
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags
FROM {database:Identifier}.otel_metrics_histogram
WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
  AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_histogram WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_histogram WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
  AND (MetricName, sid, TimeUnix) NOT IN (
        SELECT MetricName, sid, TimeUnix FROM {database:Identifier}.meshmetrics_samples_histogram
        WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') AND toDate(TimeUnix) IN (
        SELECT day FROM
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.otel_metrics_histogram WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS exporter
        LEFT JOIN
        (SELECT toDate(TimeUnix) AS day, count() AS n FROM {database:Identifier}.meshmetrics_samples_histogram WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv') GROUP BY day) AS copied
        USING (day)
        WHERE exporter.n > copied.n
    )
    );

-- meshmetrics_series_sum_mv
INSERT INTO {database:Identifier}.meshmetrics_series
SELECT MetricName, Day, sid, Bounds, any(svc) AS ServiceName, any(res) AS ResourceAttributes, any(attrs) AS Attributes
FROM
(
    SELECT
        MetricName,
        toDate(TimeUnix) AS Day,
        cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
        CAST([], 'Array(Float64)') AS Bounds,
        ServiceName AS svc,
        mapFilter((k, v) -> k IN ('service.instance.id', 'k8s.namespace.name', 'k8s.pod.name', 'k8s.node.name'), ResourceAttributes) AS res,
        Attributes AS attrs
    FROM {database:Identifier}.otel_metrics_sum
    WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
)
GROUP BY MetricName, Day, sid, Bounds;

-- meshmetrics_series_gauge_mv
INSERT INTO {database:Identifier}.meshmetrics_series
SELECT MetricName, Day, sid, Bounds, any(svc) AS ServiceName, any(res) AS ResourceAttributes, any(attrs) AS Attributes
FROM
(
    SELECT
        MetricName,
        toDate(TimeUnix) AS Day,
        cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
        CAST([], 'Array(Float64)') AS Bounds,
        ServiceName AS svc,
        mapFilter((k, v) -> k IN ('service.instance.id', 'k8s.namespace.name', 'k8s.pod.name', 'k8s.node.name'), ResourceAttributes) AS res,
        Attributes AS attrs
    FROM {database:Identifier}.otel_metrics_gauge
    WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
)
GROUP BY MetricName, Day, sid, Bounds;

-- meshmetrics_series_histogram_mv
INSERT INTO {database:Identifier}.meshmetrics_series
SELECT MetricName, Day, sid, Bounds, any(svc) AS ServiceName, any(res) AS ResourceAttributes, any(attrs) AS Attributes
FROM
(
    SELECT
        MetricName,
        toDate(TimeUnix) AS Day,
        cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
        arrayMap(k -> if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), arrayEnumerate(BucketCounts)) AS Bounds,
        ServiceName AS svc,
        mapFilter((k, v) -> k IN ('service.instance.id', 'k8s.namespace.name', 'k8s.pod.name', 'k8s.node.name'), ResourceAttributes) AS res,
        Attributes AS attrs
    FROM {database:Identifier}.otel_metrics_histogram
    WHERE TimeUnix < (SELECT min(metadata_modification_time) FROM system.tables WHERE database = {database:String} AND name LIKE 'meshmetrics\\_%\\_mv')
)
GROUP BY MetricName, Day, sid, Bounds;
