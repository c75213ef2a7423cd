-- Rendered from github.com/open-telemetry/opentelemetry-collector-contrib/exporter/clickhouseexporter@v0.161.0
-- internal/sqltemplates/metrics_gauge_insert.sql with the exporter's defaults: database "otel", table "otel_metrics_gauge",
-- no cluster, engine MergeTree(), no TTL (see internal/metrics/metrics_model.go NewMetricsTable / NewMetricsModel).
INSERT INTO "otel"."otel_metrics_gauge" (
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
    Value,
    Flags,
    Exemplars.FilteredAttributes,
    Exemplars.TimeUnix,
    Exemplars.Value,
    Exemplars.SpanId,
    Exemplars.TraceId) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)

