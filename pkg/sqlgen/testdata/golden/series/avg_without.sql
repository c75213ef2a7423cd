-- avg without (instance) (traefik_service_open_connections{service!~"readiness@.*"})
WITH
avg_1 AS (
  SELECT g.glabels AS labels, a.i AS i, a.v AS v
  FROM (
    SELECT gk, i, if(isFinite(sum(v)) OR countIf(NOT isFinite(v)) > 0, sum(v) / count(), sum(v * pow(2, -512)) / count() * pow(2, 512)) AS v
    FROM (
      SELECT sid, i, newest.1 AS v
      FROM (
        SELECT sid, i, argMax((v, stale), t) AS newest
        FROM (
          SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
          FROM `otel`.`meshmetrics_samples_gauge`
          WHERE MetricName = 'traefik_service_open_connections'
            AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
            AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
            AND sid IN (
              SELECT sid
              FROM `otel`.`meshmetrics_series`
              WHERE MetricName = 'traefik_service_open_connections'
                AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
                AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
            )
        )
        ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
        GROUP BY sid, i
        HAVING NOT newest.2
      )
    ) AS w
    INNER JOIN (
      SELECT sid, cityHash64(arrayFilter(x -> NOT has(CAST(['__name__', 'instance'], 'Array(String)'), x.1), slabels)) AS gk FROM (
        SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
          SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_service_open_connections'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_open_connections'
            AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
            AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
          GROUP BY sid
        )
      )
      WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
    ) AS s USING (sid)
    GROUP BY gk, i
  ) AS a
  INNER JOIN (
    SELECT gk, any(grp) AS glabels
    FROM (SELECT arrayFilter(x -> NOT has(CAST(['__name__', 'instance'], 'Array(String)'), x.1), slabels) AS grp FROM (
      SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'traefik_service_open_connections'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
      FROM `otel`.`meshmetrics_series`
      WHERE MetricName = 'traefik_service_open_connections'
        AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
        AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
      GROUP BY sid
    ))
    GROUP BY cityHash64(grp) AS gk
    HAVING throwIf(uniqExact(grp) > 1, 'two label sets of one aggregation have the same 64-bit group key; the dialect cannot tell them apart') = 0
  ) AS g USING (gk)
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM avg_1
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
