-- sum(rate(traefik_service_request_duration_seconds_count[5m])): every bucket of the histogram, then its rows of the last 20 minutes
SELECT sid, stored, arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toUInt32(length(x.1))), x.1, reinterpretAsFixedString(toUInt32(length(x.2))), x.2), slabels)) AS label_pairs
FROM (
  SELECT cityHash64(base, bound) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
        arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(a0)), mapValues(any(a0))), 'Array(Tuple(String, String))')),
        CAST([('__name__', 'traefik_service_request_duration_seconds_bucket'), ('job', any(s0)), ('instance', any(r0)['service.instance.id']), ('namespace', if(mapContains(any(a0), 'namespace'), '', any(r0)['k8s.namespace.name'])), ('pod', if(mapContains(any(a0), 'pod'), '', any(r0)['k8s.pod.name'])), ('node', if(mapContains(any(a0), 'node'), '', any(r0)['k8s.node.name'])), ('le', if(any(bound) = inf, '+Inf', if(match(toString(any(bound)), '[.e]'), toString(any(bound)), concat(toString(any(bound)), '.0'))))], 'Array(Tuple(String, String))')))) AS slabels, any(base) AS stored
  FROM (
    SELECT sid AS base, Bounds AS eb, any(ServiceName) AS s0, any(ResourceAttributes) AS r0, any(Attributes) AS a0
    FROM `otel`.`meshmetrics_series`
    WHERE MetricName = 'traefik_service_request_duration_seconds'
      AND Day >= toDate(toDateTime(1700002400)) AND Day <= toDate(toDateTime(1700003600))
    GROUP BY base, eb
  )
  ARRAY JOIN eb AS bound
  GROUP BY sid
)
LIMIT 16001
SETTINGS allow_experimental_analyzer = 0;

SELECT base, bounds, arrayStringConcat(groupArray(row)) AS pts
FROM (
  SELECT sid AS base, arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toFloat64(x)), ''), arrayMap(k -> if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), arrayEnumerate(BucketCounts)))) AS bounds,
    concat(reinterpretAsFixedString(toInt64(toInt64(toUnixTimestamp(TimeUnix)) * 1000)), reinterpretAsFixedString(toUInt8(bitAnd(Flags, 1))), reinterpretAsFixedString(toFloat64(Sum)), reinterpretAsFixedString(toUInt64(Count)),
      arrayStringConcat(arrayMap(c -> concat(reinterpretAsFixedString(toUInt64(c)), ''), arrayCumSum(BucketCounts)))) AS row
  FROM `otel`.`meshmetrics_recent_histogram`
  WHERE MetricName = 'traefik_service_request_duration_seconds'
    AND TimeUnix > toDateTime(1700002400) AND TimeUnix <= toDateTime(1700003600)
    AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700002400000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
)
GROUP BY base, bounds
SETTINGS allow_experimental_analyzer = 0;

-- its rows of the last minute, those from 10 to 1 minutes before the end counted (any part's read the same)
SELECT base, bounds, arrayStringConcat(groupArray(row)) AS pts, toUInt64(0) AS counted
FROM (
  SELECT sid AS base, arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toFloat64(x)), ''), arrayMap(k -> if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), arrayEnumerate(BucketCounts)))) AS bounds,
    concat(reinterpretAsFixedString(toInt64(toInt64(toUnixTimestamp(TimeUnix)) * 1000)), reinterpretAsFixedString(toUInt8(bitAnd(Flags, 1))), reinterpretAsFixedString(toFloat64(Sum)), reinterpretAsFixedString(toUInt64(Count)),
      arrayStringConcat(arrayMap(c -> concat(reinterpretAsFixedString(toUInt64(c)), ''), arrayCumSum(BucketCounts)))) AS row
  FROM `otel`.`meshmetrics_recent_histogram`
  WHERE MetricName = 'traefik_service_request_duration_seconds'
    AND TimeUnix > toDateTime(1700003540) AND TimeUnix <= toDateTime(1700003600)
    AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700003540000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
)
GROUP BY base, bounds
UNION ALL
SELECT 0, '', '', count()
FROM `otel`.`meshmetrics_recent_histogram`
WHERE MetricName = 'traefik_service_request_duration_seconds'
  AND TimeUnix > toDateTime(1700003000) AND TimeUnix <= toDateTime(1700003540)
  AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700003000000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003540000
SETTINGS allow_experimental_analyzer = 0
