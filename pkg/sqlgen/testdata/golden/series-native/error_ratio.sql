-- sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(traefik_service_requests_total[5m]))
WITH
sum_1 AS (
  SELECT g.glabels AS labels, toUInt32(k - 1) AS i, assumeNotNull(cell) AS v
  FROM (
    SELECT gk, sumForEach(grid) AS sums
    FROM (
      SELECT sid, timeSeriesRateToGrid(1700000000, 1700003600, 60, 300)(fromUnixTimestamp64Milli(t, 'UTC'), v) AS grid
      FROM (
        SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
        FROM `otel`.`meshmetrics_samples_sum`
        WHERE MetricName = 'traefik_service_requests_total'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
          AND sid IN (
            SELECT sid
            FROM `otel`.`meshmetrics_series`
            WHERE MetricName = 'traefik_service_requests_total'
              AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
              AND match(Attributes['code'], '^(?s:5..)$')
          )
          AND bitAnd(Flags, 1) = 0
      )
      GROUP BY sid
    ) AS w
    INNER JOIN (
      SELECT sid, cityHash64(arrayFilter(x -> has(CAST(['service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels))) AS gk FROM (
        SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
          SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_service_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_requests_total'
            AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
            AND match(Attributes['code'], '^(?s:5..)$')
          GROUP BY sid
        )
      )
      WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
    ) AS s USING (sid)
    GROUP BY gk
  ) AS a
  INNER JOIN (
    SELECT gk, any(grp) AS glabels
    FROM (SELECT arrayFilter(x -> has(CAST(['service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels)) AS grp FROM (
      SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'traefik_service_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
      FROM `otel`.`meshmetrics_series`
      WHERE MetricName = 'traefik_service_requests_total'
        AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
        AND match(Attributes['code'], '^(?s:5..)$')
      GROUP BY sid
    ))
    GROUP BY cityHash64(grp) AS gk
    HAVING throwIf(uniqExact(grp) > 1, 'two label sets of one aggregation have the same 64-bit group key; the dialect cannot tell them apart') = 0
  ) AS g USING (gk)
  ARRAY JOIN sums AS cell, arrayEnumerate(sums) AS k
  WHERE cell IS NOT NULL
),
sum_2 AS (
  SELECT g.glabels AS labels, toUInt32(k - 1) AS i, assumeNotNull(cell) AS v
  FROM (
    SELECT gk, sumForEach(grid) AS sums
    FROM (
      SELECT sid, timeSeriesRateToGrid(1700000000, 1700003600, 60, 300)(fromUnixTimestamp64Milli(t, 'UTC'), v) AS grid
      FROM (
        SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
        FROM `otel`.`meshmetrics_samples_sum`
        WHERE MetricName = 'traefik_service_requests_total'
          AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
          AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
          AND bitAnd(Flags, 1) = 0
      )
      GROUP BY sid
    ) AS w
    INNER JOIN (
      SELECT sid, cityHash64(arrayFilter(x -> has(CAST(['service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels))) AS gk FROM (
        SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
          SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
                CAST([('__name__', 'traefik_service_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
          FROM `otel`.`meshmetrics_series`
          WHERE MetricName = 'traefik_service_requests_total'
            AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
          GROUP BY sid
        )
      )
      WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
    ) AS s USING (sid)
    GROUP BY gk
  ) AS a
  INNER JOIN (
    SELECT gk, any(grp) AS glabels
    FROM (SELECT arrayFilter(x -> has(CAST(['service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels)) AS grp FROM (
      SELECT sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(Attributes)), mapValues(any(Attributes))), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'traefik_service_requests_total'), ('job', any(ServiceName)), ('instance', any(ResourceAttributes)['service.instance.id']), ('namespace', if(mapContains(any(Attributes), 'namespace'), '', any(ResourceAttributes)['k8s.namespace.name'])), ('pod', if(mapContains(any(Attributes), 'pod'), '', any(ResourceAttributes)['k8s.pod.name'])), ('node', if(mapContains(any(Attributes), 'node'), '', any(ResourceAttributes)['k8s.node.name']))], 'Array(Tuple(String, String))')))) AS slabels, sid AS stored
      FROM `otel`.`meshmetrics_series`
      WHERE MetricName = 'traefik_service_requests_total'
        AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
      GROUP BY sid
    ))
    GROUP BY cityHash64(grp) AS gk
    HAVING throwIf(uniqExact(grp) > 1, 'two label sets of one aggregation have the same 64-bit group key; the dialect cannot tell them apart') = 0
  ) AS g USING (gk)
  ARRAY JOIN sums AS cell, arrayEnumerate(sums) AS k
  WHERE cell IS NOT NULL
),
op_3 AS (
  SELECT res AS labels, i, v
  FROM (
    SELECT arrayFilter(x -> NOT has(CAST([], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', m.labels)) AS res, m.i AS i, (m.v / o.v) AS v, 1 AS keep,
      throwIf(o.dup > 1, 'found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side') + throwIf(count() OVER (PARTITION BY m.sig, m.i) > 1, 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)') AS checked
    FROM (SELECT labels, i, v, arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels) AS sig FROM sum_1) AS m
    INNER JOIN (SELECT labels, i, v, arrayFilter(x -> NOT has(CAST(['__name__'], 'Array(String)'), x.1), labels) AS sig, count() OVER (PARTITION BY sig, i) AS dup FROM sum_2) AS o
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
SETTINGS allow_experimental_analyzer = 0, allow_experimental_ts_to_grid_aggregate_function = 1
