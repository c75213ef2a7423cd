-- topk(5, irate(traefik_entrypoint_requests_total{entrypoint!="traefik"}[1m]))
WITH
range_1 AS (
  SELECT arrayFilter(x -> x.1 != '__name__', labels) AS labels, i, if(lv < lpv, lv, lv - lpv) / ((lt - lpt) / 1000) AS v
  FROM (
    SELECT labels, i, ((1700000000000 + i * 60000) - 60000) AS ws,
      count() AS n, min(t) AS ft, max(t) AS lt, argMin(v, t) AS fv, argMax(v, t) AS lv,
      sumIf(pv, pv > v AND pt > ((1700000000000 + i * 60000) - 60000)) AS resets, argMax(pt, t) AS lpt, argMax(pv, t) AS lpv,
      sum(v) AS sv, min(v) AS minv, max(v) AS maxv, sum(v * pow(2, -512)) AS svs, countIf(NOT isFinite(v)) AS nonfinite
    FROM (
      SELECT labels, t, v,
        lagInFrame(t, 1, toInt64(-1)) OVER w AS pt,
        lagInFrame(v, 1, nan) OVER w AS pv
      FROM (
        SELECT labels, t, v, stale FROM (
          SELECT arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(Attributes), mapValues(Attributes)), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_entrypoint_requests_total'), ('job', ServiceName), ('instance', ResourceAttributes['service.instance.id']), ('namespace', if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name'])), ('pod', if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name'])), ('node', if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS labels, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
          FROM `otel`.`otel_metrics_sum`
          WHERE MetricName = 'traefik_entrypoint_requests_total'
            AND TimeUnix > toDateTime(1699999940) AND TimeUnix <= toDateTime(1700003600)
            AND Attributes['entrypoint'] != 'traefik'
            AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999940000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
        ) WHERE NOT stale
      )
      WINDOW w AS (PARTITION BY labels ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    )
    ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 60000 - 1700000000000) / 60000))))) AS i
    GROUP BY labels, i
  )
  WHERE n >= 2 AND lt != lpt
),
topk_2 AS (
  SELECT labels, i, v
  FROM (
    SELECT labels, i, v, row_number() OVER (PARTITION BY arrayFilter(x -> has(CAST([], 'Array(String)'), x.1), labels), i ORDER BY isNaN(v), v DESC) AS rank
    FROM range_1
  )
  WHERE rank <= 5
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM topk_2
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
