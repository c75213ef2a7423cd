-- up == 0 or absent(up{job="traefik-mesh"})
WITH
selector_1 AS (
  SELECT labels, i, newest.1 AS v
  FROM (
    SELECT labels, i, argMax((v, stale), t) AS newest
    FROM (
      SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(Attributes), mapValues(Attributes)), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'up'), ('job', ServiceName), ('instance', ResourceAttributes['service.instance.id']), ('namespace', if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name'])), ('pod', if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name'])), ('node', if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS labels, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
      FROM `otel`.`otel_metrics_gauge`
      WHERE MetricName = 'up'
        AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
        AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
    )
    ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
    GROUP BY labels, i
  )
  WHERE NOT newest.2
),
number_2 AS (
  SELECT toUInt32(number) AS i, toFloat64(0) AS v FROM numbers(61)
),
op_3 AS (
  SELECT x.labels AS labels, x.i AS i, x.v AS v
  FROM selector_1 AS x INNER JOIN number_2 AS s ON s.i = x.i
  WHERE (x.v = s.v)
),
selector_4 AS (
  SELECT labels, i, newest.1 AS v
  FROM (
    SELECT labels, i, argMax((v, stale), t) AS newest
    FROM (
      SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(Attributes), mapValues(Attributes)), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'up'), ('job', ServiceName), ('instance', ResourceAttributes['service.instance.id']), ('namespace', if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name'])), ('pod', if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name'])), ('node', if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS labels, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
      FROM `otel`.`otel_metrics_gauge`
      WHERE MetricName = 'up'
        AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
        AND ServiceName = 'traefik-mesh'
        AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
    )
    ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
    GROUP BY labels, i
  )
  WHERE NOT newest.2
),
absent_5 AS (
  SELECT CAST([('job', 'traefik-mesh')], 'Array(Tuple(String, String))') AS labels, toUInt32(number) AS i, toFloat64(1) AS v
  FROM numbers(61)
  WHERE toUInt32(number) NOT IN (SELECT i FROM selector_4)
),
or_6 AS (
  SELECT labels, i, v FROM op_3
  UNION ALL
  SELECT labels, i, v FROM absent_5
  WHERE (arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels), i) NOT IN (SELECT arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels), i FROM op_3)
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM or_6
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
