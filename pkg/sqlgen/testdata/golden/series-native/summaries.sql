-- sum(increase(traefik_service_requests_total{service!~"readiness@.*"}[24h])): the points of the block where the range starts, and its last 30 minutes
SELECT sid, toUInt8(run[1].1 <= 1699917600000) AS raw, if(raw = 1, run[1].1, intDiv(run[1].1 - 1, 600000)) AS blk, length(run) AS n,
  run[1].1 AS first_t, run[1].2 AS first_v, run[-1].1 AS last_t, run[-1].2 AS last_v,
  arraySum(arrayMap((p, c) -> if(c.2 < p.2, p.2, 0), arrayPopBack(run), arrayPopFront(run))) AS resets
FROM (
  SELECT sid, arraySort(groupArray((t, v))) AS pts,
    arraySplit((p, prev) -> intDiv(p.1 - 1, 600000) != intDiv(prev - 1, 600000) OR p.1 <= 1699917600000, pts, arrayPushFront(arrayPopBack(arrayMap(x -> x.1, pts)), toInt64(0))) AS runs
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
  GROUP BY sid
)
ARRAY JOIN runs AS run
SETTINGS allow_experimental_analyzer = 0
