-- sum(rate(traefik_service_requests_total{code=~"5.."}[5m])): every series of the metric, then their points of the last 20 minutes
SELECT sid, stored, arrayStringConcat(arrayMap(x -> concat(reinterpretAsFixedString(toUInt32(length(x.1))), x.1, reinterpretAsFixedString(toUInt32(length(x.2))), x.2), slabels)) AS label_pairs
FROM (
  SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
        arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
        CAST([('__name__', 'traefik_service_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
  FROM `otel`.`meshmetrics_series`
  WHERE MetricName = 'traefik_service_requests_total'
    AND Day >= toDate(toDateTime(1700002400)) AND Day <= toDate(toDateTime(1700003600))
  GROUP BY sid
)
LIMIT 4001
SETTINGS allow_experimental_analyzer = 0;

SELECT sid, arrayStringConcat(groupArray(concat(reinterpretAsFixedString(toInt64(t)), reinterpretAsFixedString(toFloat64(v)), reinterpretAsFixedString(toUInt8(stale))))) AS pts
FROM (
  SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
  FROM `otel`.`meshmetrics_recent_sum`
  WHERE MetricName = 'traefik_service_requests_total'
    AND TimeUnix > toDateTime(1700002400) AND TimeUnix <= toDateTime(1700003600)
    AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700002400000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
)
GROUP BY sid
SETTINGS allow_experimental_analyzer = 0;

-- the points of the last minute, the rows of those from 10 to 1 minutes before the end counted
SELECT sid, arrayStringConcat(groupArray(concat(reinterpretAsFixedString(toInt64(t)), reinterpretAsFixedString(toFloat64(v)), reinterpretAsFixedString(toUInt8(stale))))) AS pts, toUInt64(0) AS counted
FROM (
  SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
  FROM `otel`.`meshmetrics_recent_sum`
  WHERE MetricName = 'traefik_service_requests_total'
    AND TimeUnix > toDateTime(1700003540) AND TimeUnix <= toDateTime(1700003600)
    AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700003540000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
)
GROUP BY sid
UNION ALL
SELECT 0, '', count()
FROM (
  SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
  FROM `otel`.`meshmetrics_recent_sum`
  WHERE MetricName = 'traefik_service_requests_total'
    AND TimeUnix > toDateTime(1700003000) AND TimeUnix <= toDateTime(1700003540)
    AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1700003000000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003540000
)
SETTINGS allow_experimental_analyzer = 0
