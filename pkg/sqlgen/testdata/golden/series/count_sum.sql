-- traefik_service_request_duration_seconds_sum{service="a"} / traefik_service_request_duration_seconds_count{service="a"}
WITH
selector_1 AS (
  SELECT slabels AS labels, i, v
  FROM (
    SELECT sid, i, newest.1 AS v
    FROM (
      SELECT sid, i, argMax((v, stale), t) AS newest
      FROM (
        SELECT cityHash64('traefik_service_request_duration_seconds_sum', stored) AS sid, t, v, stale
        FROM (
          SELECT sid AS stored, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Sum AS v, bitAnd(Flags, 1) = 1 AS stale
          FROM `otel`.`meshmetrics_samples_histogram`
          WHERE MetricName = 'traefik_service_request_duration_seconds'
            AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
            AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
            AND sid IN (
              SELECT sid
              FROM `otel`.`meshmetrics_series`
              WHERE MetricName = 'traefik_service_request_duration_seconds'
                AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
                AND Attributes['service'] = 'a'
            )
        )
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
      HAVING NOT newest.2
    )
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT cityHash64('traefik_service_request_duration_seconds_sum', stored) AS sid, slabels, stored
        FROM (
          SELECT sid AS stored, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_service_request_duration_seconds_sum'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_request_duration_seconds'
            AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
            AND Attributes['service'] = 'a'
          GROUP BY stored
        )
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
),
selector_2 AS (
  SELECT slabels AS labels, i, v
  FROM (
    SELECT sid, i, newest.1 AS v
    FROM (
      SELECT sid, i, argMax((v, stale), t) AS newest
      FROM (
        SELECT cityHash64('traefik_service_request_duration_seconds_count', stored) AS sid, t, v, stale
        FROM (
          SELECT sid AS stored, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, toFloat64(Count) AS v, bitAnd(Flags, 1) = 1 AS stale
          FROM `otel`.`meshmetrics_samples_histogram`
          WHERE MetricName = 'traefik_service_request_duration_seconds'
            AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
            AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
            AND sid IN (
              SELECT sid
              FROM `otel`.`meshmetrics_series`
              WHERE MetricName = 'traefik_service_request_duration_seconds'
                AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
                AND Attributes['service'] = 'a'
            )
        )
      )
      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
      GROUP BY sid, i
      HAVING NOT newest.2
    )
  ) AS w
  INNER JOIN (
    SELECT sid, slabels FROM (
      SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
        SELECT cityHash64('traefik_service_request_duration_seconds_count', stored) AS sid, slabels, stored
        FROM (
          SELECT sid AS stored, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_service_request_duration_seconds_count'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_request_duration_seconds'
            AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
            AND Attributes['service'] = 'a'
          GROUP BY stored
        )
      )
    )
    WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
  ) AS s USING (sid)
),
op_3 AS (
  SELECT res AS labels, i, v
  FROM (
    SELECT arrayFilter(x -> NOT has(CAST([], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', m.labels)) AS res, m.i AS i, (m.v / o.v) AS v, 1 AS keep,
      throwIf(o.dup > 1, 'found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side') + throwIf(count() OVER (PARTITION BY m.sig, m.i) > 1, 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)') AS checked
    FROM (SELECT labels, i, v, arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels) AS sig FROM selector_1) AS m
    INNER JOIN (SELECT labels, i, v, arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels) AS sig, count() OVER (PARTITION BY sig, i) AS dup FROM selector_2) AS o
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
