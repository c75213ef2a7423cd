-- up == 0 or absent(up{job="traefik-mesh"})
WITH
selector_1 AS (
  SELECT slabels AS labels, i, v
  FROM (
    SELECT sid, i, newest.1 AS v
    FROM (
      SELECT sid, i, argMax((v, stale), t) AS newest
      FROM (
        SELECT cityHash64('up', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
        FROM `otel`.`otel_metrics_gauge`
        WHERE MetricName = 'up'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
      HAVING NOT newest.2
    )
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT cityHash64('up', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
              arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
              CAST([('__name__', 'up'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
        FROM `otel`.`otel_metrics_gauge`
        WHERE MetricName = 'up'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
        GROUP BY sid
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
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
  SELECT slabels AS labels, i, v
  FROM (
    SELECT sid, i, newest.1 AS v
    FROM (
      SELECT sid, i, argMax((v, stale), t) AS newest
      FROM (
        SELECT cityHash64('up', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
        FROM `otel`.`otel_metrics_gauge`
        WHERE MetricName = 'up'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND ServiceName = 'traefik-mesh'
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
      HAVING NOT newest.2
    )
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT cityHash64('up', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
              arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
              CAST([('__name__', 'up'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
        FROM `otel`.`otel_metrics_gauge`
        WHERE MetricName = 'up'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND ServiceName = 'traefik-mesh'
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
        GROUP BY sid
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
),
absent_5 AS (
  SELECT CAST([('job', 'traefik-mesh')], 'Array(Tuple(String, String))') AS labels, toUInt32(number) AS i, toFloat64(1) AS v
  FROM numbers(61)
  WHERE toUInt32(number) NOT IN (SELECT i FROM selector_4)
),
or_6 AS (
  SELECT labels, i, v
  FROM (
    SELECT labels, i, v, side, max(side = 0) OVER (PARTITION BY arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels), i) AS left_has
    FROM (
      SELECT labels, i, v, 0 AS side FROM op_3
      UNION ALL
      SELECT labels, i, v, 1 AS side FROM absent_5
    )
  )
  WHERE side = 0 OR NOT left_has
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
