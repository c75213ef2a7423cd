-- sum(increase(traefik_service_requests_total{service!~"readiness@.*"}[24h])): the points of the block where the range starts, and its last 30 minutes
SELECT sid, raw, blk, n, first_t, first_v, last_t, last_v,
  arraySum(arrayMap((p, c) -> if(c < p, p, 0), arrayPopBack(vs), arrayPopFront(vs))) AS resets
FROM (
  SELECT sid, raw, blk, count() AS n, min(t) AS first_t, argMin(v, t) AS first_v, max(t) AS last_t, argMax(v, t) AS last_v,
    arraySort((x, y) -> y, groupArray(v), groupArray(t)) AS vs
  FROM (
    SELECT sid, toUInt8(t <= 1699917600000) AS raw, if(raw = 1, t, intDiv(t - 1, 600000)) AS blk, t, v
    FROM (
      SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
      FROM `otel`.`meshmetrics_samples_sum`
      WHERE MetricName = 'traefik_service_requests_total'
        AND TimeUnix > toDateTime(1699917200) AND TimeUnix <= toDateTime(1699917600)
        AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699917200000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1699917600000
        AND sid IN (
          SELECT sid
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_requests_total'
            AND Day >= toDate(toDateTime(1699917200)) AND Day <= toDate(toDateTime(1699917600))
            AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
        )
        AND bitAnd(Flags, 1) = 0
      UNION ALL
      SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
      FROM `otel`.`meshmetrics_samples_sum`
      WHERE MetricName = 'traefik_service_requests_total'
        AND TimeUnix > toDateTime(1700001800) AND TimeUnix <= toDateTime(1700003600)
        AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700001800000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
        AND sid IN (
          SELECT sid
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_requests_total'
            AND Day >= toDate(toDateTime(1700001800)) AND Day <= toDate(toDateTime(1700003600))
            AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
        )
        AND bitAnd(Flags, 1) = 0
    )
  )
  GROUP BY sid, raw, blk
)
SETTINGS allow_experimental_analyzer = 0
