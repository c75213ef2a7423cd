-- sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(traefik_service_requests_total[5m]))
WITH
sum_1 AS (
  SELECT g.glabels AS labels, a.i AS i, a.v AS v
  FROM (
    SELECT gk, i, sum(v) AS v
    FROM (
      SELECT sid, i, lv - fv + resets AS change,
          (lt - ft) / 1000 AS sampled,
          sampled / (n - 1) AS avg_gap,
          (ft - ws) / 1000 AS to_start0,
          if(to_start0 >= avg_gap * 1.1, avg_gap / 2, to_start0) AS to_start1,
          if(change > 0 AND fv >= 0 AND sampled * (fv / change) < to_start1, sampled * (fv / change), to_start1) AS to_start,
          (ws + 300000 - lt) / 1000 AS to_end0,
          if(to_end0 >= avg_gap * 1.1, avg_gap / 2, to_end0) AS to_end,
          if(sampled != 0, (sampled + to_start + to_end) / sampled, 1) AS factor,
          change * (factor / toFloat64(300)) AS v
      FROM (
        SELECT sid, i, ((1700000000000 + i * 60000) - 300000) AS ws,
          count() AS n, min(t) AS ft, max(t) AS lt, argMin(v, t) AS fv, argMax(v, t) AS lv,
          sumIf(pv, pv > v AND pt > ((1700000000000 + i * 60000) - 300000)) AS resets, argMax(pt, t) AS lpt, argMax(pv, t) AS lpv,
          sum(v) AS sv, min(v) AS minv, max(v) AS maxv, sum(v * pow(2, -512)) AS svs, countIf(NOT isFinite(v)) AS nonfinite
        FROM (
          SELECT sid, t, v,
            lagInFrame(t, 1, toInt64(-1)) OVER w AS pt,
            lagInFrame(v, 1, nan) OVER w AS pv
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
          WINDOW w AS (PARTITION BY sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
        )
        ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
        GROUP BY sid, i
      )
      WHERE n >= 2
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
    GROUP BY gk, i
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
),
sum_2 AS (
  SELECT g.glabels AS labels, a.i AS i, a.v AS v
  FROM (
    SELECT gk, i, sum(v) AS v
    FROM (
      SELECT sid, i, lv - fv + resets AS change,
          (lt - ft) / 1000 AS sampled,
          sampled / (n - 1) AS avg_gap,
          (ft - ws) / 1000 AS to_start0,
          if(to_start0 >= avg_gap * 1.1, avg_gap / 2, to_start0) AS to_start1,
          if(change > 0 AND fv >= 0 AND sampled * (fv / change) < to_start1, sampled * (fv / change), to_start1) AS to_start,
          (ws + 300000 - lt) / 1000 AS to_end0,
          if(to_end0 >= avg_gap * 1.1, avg_gap / 2, to_end0) AS to_end,
          if(sampled != 0, (sampled + to_start + to_end) / sampled, 1) AS factor,
          change * (factor / toFloat64(300)) AS v
      FROM (
        SELECT sid, i, ((1700000000000 + i * 60000) - 300000) AS ws,
          count() AS n, min(t) AS ft, max(t) AS lt, argMin(v, t) AS fv, argMax(v, t) AS lv,
          sumIf(pv, pv > v AND pt > ((1700000000000 + i * 60000) - 300000)) AS resets, argMax(pt, t) AS lpt, argMax(pv, t) AS lpv,
          sum(v) AS sv, min(v) AS minv, max(v) AS maxv, sum(v * pow(2, -512)) AS svs, countIf(NOT isFinite(v)) AS nonfinite
        FROM (
          SELECT sid, t, v,
            lagInFrame(t, 1, toInt64(-1)) OVER w AS pt,
            lagInFrame(v, 1, nan) OVER w AS pv
          FROM (
            SELECT sid, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, Value AS v, bitAnd(Flags, 1) = 1 AS stale
            FROM `otel`.`meshmetrics_samples_sum`
            WHERE MetricName = 'traefik_service_requests_total'
              AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
              AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
              AND bitAnd(Flags, 1) = 0
          )
          WINDOW w AS (PARTITION BY sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
        )
        ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
        GROUP BY sid, i
      )
      WHERE n >= 2
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
    GROUP BY gk, i
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
SETTINGS allow_experimental_analyzer = 0
