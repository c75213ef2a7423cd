-- up * on(instance) group_left(version) go_info
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
selector_2 AS (
  SELECT labels, i, newest.1 AS v
  FROM (
    SELECT labels, i, argMax((v, stale), t) AS newest
    FROM (
      SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(Attributes), mapValues(Attributes)), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'go_info'), ('job', ServiceName), ('instance', ResourceAttributes['service.instance.id']), ('namespace', if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name'])), ('pod', if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name'])), ('node', if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS labels, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
      FROM `otel`.`otel_metrics_gauge`
      WHERE MetricName = 'go_info'
        AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
        AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
    )
    ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
    GROUP BY labels, i
  )
  WHERE NOT newest.2
),
op_3 AS (
  SELECT res AS labels, i, v
  FROM (
    SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(arrayFilter(x -> NOT has(CAST(['version'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', m.labels)), arrayMap(n -> (n, arrayFirst(x -> x.1 = n, o.labels).2), CAST(['version'], 'Array(String)'))))) AS res, m.i AS i, (m.v * o.v) AS v, 1 AS keep,
      throwIf(o.dup > 1, 'found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side') + throwIf(count() OVER (PARTITION BY res, m.i) > 1, 'multiple matches for labels: grouping labels must ensure unique matches') AS checked
    FROM (SELECT labels, i, v, arrayFilter(x -> has(CAST(['instance'], 'Array(String)'), x.1), labels) AS sig FROM selector_1) AS m
    INNER JOIN (SELECT labels, i, v, arrayFilter(x -> has(CAST(['instance'], 'Array(String)'), x.1), labels) AS sig, count() OVER (PARTITION BY sig, i) AS dup FROM selector_2) AS o
      ON m.sig = o.sig AND m.i = o.i
  )
  WHERE checked = 0 AND keep
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM op_3
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
