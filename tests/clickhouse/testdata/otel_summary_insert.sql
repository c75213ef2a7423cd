-- Rendered from github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter@v0.161.0
-- internal/sqltemplates/metrics_summary_insert.sql with the exporter's defaults: database "otel", table "otel_metrics_summary",
-- no cluster, engine MergeTree(), no TTL (see internal/metrics/metrics_model.go NewMetricsTable / NewMetricsModel).
INSERT INTO "otel"."otel_metrics_summary" (
    ResourceAttributes,
    ResourceSchemaUrl,
    ScopeName,
    ScopeVersion,
    ScopeAttributes,
    ScopeDroppedAttrCount,
    ScopeSchemaUrl,
    ServiceName,
    MetricName,
    MetricDescription,
    MetricUnit,
    Attributes,
    StartTimeUnix,
    TimeUnix,
    Count,
    Sum,
    ValueAtQuantiles.Quantile,
    ValueAtQuantiles.Value,
    Flags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)

