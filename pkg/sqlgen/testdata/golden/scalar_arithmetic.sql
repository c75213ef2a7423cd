-- scalar(sum(up)) * 2 - time()
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
sum_2 AS (
  SELECT grp AS labels, i, sum(v) AS v
  FROM (SELECT arrayFilter(x -> has(CAST([], 'Array(String)'), x.1), labels) AS grp, i, v FROM selector_1)
  GROUP BY grp, i
),
scalar_3 AS (
  SELECT toUInt32(number) AS i, if(g.n = 1, g.v, nan) AS v
  FROM numbers(61) AS grid
  LEFT JOIN (SELECT i, count() AS n, any(v) AS v FROM sum_2 GROUP BY i) AS g ON g.i = toUInt32(grid.number)
),
number_4 AS (
  SELECT toUInt32(number) AS i, toFloat64(2) AS v FROM numbers(61)
),
scalar_op_5 AS (
  SELECT l.i AS i, (l.v * r.v) AS v FROM scalar_3 AS l INNER JOIN number_4 AS r ON l.i = r.i
),
time_6 AS (
  SELECT toUInt32(number) AS i, (1700000000000 + number * 60000) / 1000 AS v FROM numbers(61)
),
scalar_op_7 AS (
  SELECT l.i AS i, (l.v - r.v) AS v FROM scalar_op_5 AS l INNER JOIN time_6 AS r ON l.i = r.i
)
SELECT CAST([], 'Array(String)') AS names, CAST([], 'Array(String)') AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (SELECT i, v FROM scalar_op_7 ORDER BY i)
SETTINGS allow_experimental_analyzer = 0
