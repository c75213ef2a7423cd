-- traefik_service_open_connections{service!~"readiness@.*", protocol="http"} offset 1m
WITH
selector_1 AS (
  SELECT slabels AS labels, i, v
  FROM (
    SELECT sid, i, newest.1 AS v
    FROM (
      SELECT sid, i, argMax((v, stale), t) AS newest
      FROM (
        SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
        FROM `otel`.`meshmetrics_samples_gauge`
        WHERE MetricName = 'traefik_service_open_connections'
          AND TimeUnix > toDateTime(1699999640) AND TimeUnix <= toDateTime(1700003540)
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999640000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003540000
          AND sid IN (
            SELECT sid
            FROM `otel`.`meshmetrics_series`
            WHERE MetricName = 'traefik_service_open_connections'
              AND Day >= toDate(toDateTime(1699999640)) AND Day <= toDate(toDateTime(1700003540))
              AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
              AND Attributes['protocol'] = 'http'
          )
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 60000 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 360000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
      HAVING NOT newest.2
    )
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
              arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
              CAST([('__name__', 'traefik_service_open_connections'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
        FROM `otel`.`meshmetrics_series`
        WHERE MetricName = 'traefik_service_open_connections'
          AND Day >= toDate(toDateTime(1699999640)) AND Day <= toDate(toDateTime(1700003540))
          AND NOT match(Attributes['service'], '^(?s:readiness@.*)$')
          AND Attributes['protocol'] = 'http'
        GROUP BY sid
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM selector_1
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
