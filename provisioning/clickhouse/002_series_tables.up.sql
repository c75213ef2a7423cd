-- Mesh Metrics: narrow samples tables and a series table beside the exporter's
-- metric tables, laid out as ClickHouse's TimeSeries engine lays out its data
-- and tags tables, so that a PromQL selector reads its series' labels from a
-- small table and only numbers from an ordered one (docs/dialect.md, "The
-- series tables").
--
-- The exporter's tables and columns stay as they are: materialized views on
-- otel_metrics_sum, otel_metrics_gauge and otel_metrics_histogram copy every
-- block the exporter inserts, as it is inserted (late rows the collector's
-- queue replays after an outage included: a materialized view sees every
-- INSERT, whatever its timestamps).
--
--   meshmetrics_samples_{sum,gauge,histogram}: (MetricName, sid, TimeUnix,
--       values, Flags) ORDER BY (MetricName, sid, TimeUnix), by day, 90 days;
--       granules of 1,024 rows, as a series has 5,760 points a day at 15 s
--       scrapes: a 5-minute window of many series reads a granule each
--       (8,192 rows read 8 times as much for the same answer).
--   meshmetrics_series: one row per (MetricName, day, sid[, bucket bounds])
--       with the label columns (ServiceName, the resource attributes labels
--       are made from, Attributes); ReplacingMergeTree, 90 days.
--
-- sid is the plugin's series key (pkg/sqlgen seriesHash with the MetricName
-- column): a hash of the metric's name, its sorted point attributes and the
-- resource values its labels show (job, instance, namespace, pod, node).
-- The plugin checks, by the tables' comment 'meshmetrics series v1', that
-- this version is installed; change both together.
--
-- TimeUnix is DateTime, as the exporter v0.12x and later writes it. For
-- tables created by an older exporter (DateTime64(9)) replace
-- `TimeUnix DateTime` by `TimeUnix DateTime64(9)` below.
--
-- Idempotent: every statement is IF NOT EXISTS. Run 002_series_tables.backfill.sql
-- once afterwards for the rows stored before; roll back with
-- 002_series_tables.down.sql.
--
--   clickhouse-client --param_database=otel --multiquery \
--     --queries-file provisioning/clickhouse/002_series_tables.up.sql

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_series
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    Day Date CODEC(Delta, ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    Bounds Array(Float64) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(Day)
ORDER BY (MetricName, Day, sid, Bounds)
TTL Day + INTERVAL 90 DAY
COMMENT 'meshmetrics series v1';

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_samples_sum
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (MetricName, sid, TimeUnix)
TTL toDateTime(TimeUnix) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = 1024
COMMENT 'meshmetrics series v1';

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_samples_gauge
(
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    sid UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (MetricName, sid, TimeUnix)
TTL toDateTime(TimeUnix) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = 1024
COMMENT 'meshmetrics series v1';

CREATE TABLE IF NOT EXISTS {database:Identifier}.meshmetrics_samples_histogram
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
ORDER BY (MetricName, sid, TimeUnix)
TTL toDateTime(TimeUnix) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, index_granularity = 1024
COMMENT 'meshmetrics series v1';

-- The samples: the numbers only.

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_samples_sum_mv
TO {database:Identifier}.meshmetrics_samples_sum AS
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Value, Flags
FROM {database:Identifier}.otel_metrics_sum;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_samples_gauge_mv
TO {database:Identifier}.meshmetrics_samples_gauge AS
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Value, Flags
FROM {database:Identifier}.otel_metrics_gauge;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_samples_histogram_mv
TO {database:Identifier}.meshmetrics_samples_histogram AS
SELECT
    MetricName,
    cityHash64(MetricName, arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid,
    TimeUnix, Count, Sum, BucketCounts, ExplicitBounds, Flags
FROM {database:Identifier}.otel_metrics_histogram;

-- The series: one row per series, day (and bucket layout) and inserted
-- block; the ReplacingMergeTree folds the blocks' copies when it merges,
-- and the plugin groups by sid anyway. Only the resource attributes labels
-- are made from are kept. Bounds are a histogram's bucket upper bounds,
-- +Inf last, as the plugin expands a row's buckets ([] for sums and gauges).

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_series_sum_mv
TO {database:Identifier}.meshmetrics_series AS
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
)
GROUP BY MetricName, Day, sid, Bounds;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_series_gauge_mv
TO {database:Identifier}.meshmetrics_series AS
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
)
GROUP BY MetricName, Day, sid, Bounds;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.meshmetrics_series_histogram_mv
TO {database:Identifier}.meshmetrics_series AS
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
)
GROUP BY MetricName, Day, sid, Bounds;
