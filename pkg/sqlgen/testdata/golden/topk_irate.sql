-- topk(5, irate(traefik_entrypoint_requests_total{entrypoint!="traefik"}[1m]))
WITH
range_1 AS (
  SELECT arrayFilter(x -> x.1 != '__name__', slabels) AS labels, i, v
  FROM (
    SELECT sid, i, if(lv < lpv, lv, lv - lpv) / ((lt - lpt) / 1000) AS v
    FROM (
      SELECT sid, i, ((1700000000000 + i * 60000) - 60000) AS ws,
        count() AS n, min(t) AS ft, max(t) AS lt, argMin(v, t) AS fv, argMax(v, t) AS lv,
        sumIf(pv, pv > v AND pt > ((1700000000000 + i * 60000) - 60000)) AS resets, argMax(pt, t) AS lpt, argMax(pv, t) AS lpv,
        sum(v) AS sv, min(v) AS minv, max(v) AS maxv, sum(v * pow(2, -512)) AS svs, countIf(NOT isFinite(v)) AS nonfinite
      FROM (
        SELECT sid, t, v,
          lagInFrame(t, 1, toInt64(-1)) OVER w AS pt,
          lagInFrame(v, 1, nan) OVER w AS pv
        FROM (
          SELECT cityHash64('traefik_entrypoint_requests_total', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
          FROM `otel`.`otel_metrics_sum`
          WHERE MetricName = 'traefik_entrypoint_requests_total'
            AND TimeUnix > toDateTime(1699999940) AND TimeUnix <= toDateTime(1700003600)
            AND Attributes['entrypoint'] != 'traefik'
            AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999940000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
            AND bitAnd(Flags, 1) = 0
        )
        WINDOW w AS (PARTITION BY sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 60000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
    )
    WHERE n >= 2 AND lt != lpt
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT cityHash64('traefik_entrypoint_requests_total', arraySort(arrayZip(mapKeys(Attributes), mapValues(Attributes))), ServiceName, ResourceAttributes['service.instance.id'], if(mapContains(Attributes, 'namespace'), '', ResourceAttributes['k8s.namespace.name']), if(mapContains(Attributes, 'pod'), '', ResourceAttributes['k8s.pod.name']), if(mapContains(Attributes, 'node'), '', ResourceAttributes['k8s.node.name'])) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
              arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
              CAST([('__name__', 'traefik_entrypoint_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
        FROM `otel`.`otel_metrics_sum`
        WHERE MetricName = 'traefik_entrypoint_requests_total'
          AND TimeUnix > toDateTime(1699999940) AND TimeUnix <= toDateTime(1700003600)
          AND Attributes['entrypoint'] != 'traefik'
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999940000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
          AND bitAnd(Flags, 1) = 0
        GROUP BY sid
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
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
