-- histogram_quantile(0.99, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket[5m])))
WITH
histogram_quantile_1 AS (
  SELECT g.glabels AS labels, q.i AS i, q.v AS v
  FROM (
    SELECT *, multiIf(
      ub[nb] != inf OR nb < 2 OR obs = 0, nan,
      bk = 0, ub[nb - 1],
      bk = 1 AND ub[1] <= 0, ub[1],
      lower + (ub[bk] - lower) * ((rank - below) / (cs[bk] - below))) AS v
    FROM (
      SELECT *, if(bk > 1, ub[bk - 1], 0) AS lower, if(bk > 1, cs[bk - 1], 0) AS below
      FROM (
        SELECT *, arrayFirstIndex(x -> x >= rank, arraySlice(cs, 1, nb - 1)) AS bk
        FROM (
          SELECT *, cs[nb] AS obs, toFloat64(0.99) * obs AS rank
          FROM (
            SELECT *, arrayFold((acc, x) -> if(x > acc.1 AND NOT (acc.1 = x OR if(acc.1 = 0 OR x = 0 OR abs(acc.1) + abs(x) < 2.2250738585072014e-308, abs(acc.1 - x) < 1e-12 * 2.2250738585072014e-308, abs(acc.1 - x) / least(abs(acc.1) + abs(x), 1.7976931348623157e308) < 1e-12)), (x, arrayPushBack(acc.2, x)), (acc.1, arrayPushBack(acc.2, acc.1))), arraySlice(raw, 2), (raw[1], [raw[1]])).2 AS cs
            FROM (
              SELECT *, arrayMap(x -> x.1, buckets) AS ub, arrayMap(x -> x.2, buckets) AS raw, length(buckets) AS nb
              FROM (
                SELECT gk, i, arraySort(x -> x.1, groupArray((ub, c))) AS buckets
                FROM (
                  SELECT gk, i, ub, sum(v) AS c
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
                          SELECT cityHash64(base, bucket.1) AS sid, t, bucket.2 AS v, stale
                          FROM (
                            SELECT sid AS base, toInt64(toUnixTimestamp(TimeUnix)) * 1000 AS t, bitAnd(Flags, 1) = 1 AS stale, arrayMap(k -> if(k <= length(ExplicitBounds), ExplicitBounds[k], inf), arrayEnumerate(BucketCounts)) AS eb, arrayMap(c -> toFloat64(c), arrayCumSum(BucketCounts)) AS counts
                            FROM `otel`.`meshmetrics_samples_histogram`
                            WHERE MetricName = 'traefik_service_request_duration_seconds'
                              AND TimeUnix > toDateTime(1699999700) AND TimeUnix <= toDateTime(1700003600)
                              AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 > 1699999700000 AND toInt64(toUnixTimestamp(TimeUnix)) * 1000 <= 1700003600000
                              AND bitAnd(Flags, 1) = 0
                          )
                          ARRAY JOIN arrayZip(eb, counts) AS bucket
                        )
                        WINDOW w AS (PARTITION BY sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
                      )
                      ARRAY JOIN range(toUInt32(greatest(0, ceil((t + 0 - 1700000000000) / 60000))), toUInt32(greatest(0, least(61, ceil((t + 300000 - 1700000000000) / 60000))))) AS i
                      GROUP BY sid, i
                    )
                    WHERE n >= 2
                  ) AS w
                  INNER JOIN (
                    SELECT sid, gk, assumeNotNull(bound) AS ub
                    FROM (
                      SELECT sid, cityHash64(arrayFilter(x -> NOT has(CAST(['le'], 'Array(String)'), x.1), arrayFilter(x -> has(CAST(['le', 'service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels)))) AS gk, toFloat64OrNull(arrayFirst(x -> x.1 = 'le', arrayFilter(x -> has(CAST(['le', 'service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels))).2) AS bound FROM (
                        SELECT sid, slabels, stored, count() OVER (PARTITION BY slabels) AS copies FROM (
                          SELECT cityHash64(base, bound) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
                                arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(a0)), mapValues(any(a0))), 'Array(Tuple(String, String))')),
                                CAST([('__name__', 'traefik_service_request_duration_seconds_bucket'), ('job', any(s0)), ('instance', any(r0)['service.instance.id']), ('namespace', if(mapContains(any(a0), 'namespace'), '', any(r0)['k8s.namespace.name'])), ('pod', if(mapContains(any(a0), 'pod'), '', any(r0)['k8s.pod.name'])), ('node', if(mapContains(any(a0), 'node'), '', any(r0)['k8s.node.name'])), ('le', if(any(bound) = inf, '+Inf', if(match(toString(any(bound)), '[.e]'), toString(any(bound)), concat(toString(any(bound)), '.0'))))], 'Array(Tuple(String, String))')))) AS slabels, any(base) AS stored
                          FROM (
                            SELECT sid AS base, Bounds AS eb, any(ServiceName) AS s0, any(ResourceAttributes) AS r0, any(Attributes) AS a0
                            FROM `otel`.`meshmetrics_series`
                            WHERE MetricName = 'traefik_service_request_duration_seconds'
                              AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
                            GROUP BY base, eb
                          )
                          ARRAY JOIN eb AS bound
                          GROUP BY sid
                        )
                      )
                      WHERE throwIf(copies > 1, 'two stored series have the same label set but different attribute columns (an empty attribute value, or a label given as both point and resource attribute); the dialect cannot merge them') = 0
                    )
                    WHERE bound IS NOT NULL AND NOT isNaN(bound)
                  ) AS s USING (sid)
                  GROUP BY gk, i, ub
                )
                GROUP BY gk, i
              )
            )
          )
        )
      )
    )
  ) AS q
  INNER JOIN (
    SELECT gk, any(arrayFilter(x -> x.1 != '__name__', grp)) AS glabels
    FROM (SELECT arrayFilter(x -> NOT has(CAST(['le'], 'Array(String)'), x.1), arrayFilter(x -> has(CAST(['le', 'service'], 'Array(String)'), x.1), arrayFilter(x -> x.1 != '__name__', slabels))) AS grp FROM (
      SELECT cityHash64(base, bound) AS sid, arraySort(arrayFilter(x -> x.2 != '', arrayConcat(
            arrayFilter(x -> NOT has(CAST(['__name__', 'job', 'instance'], 'Array(String)'), x.1), CAST(arrayZip(mapKeys(any(a0)), mapValues(any(a0))), 'Array(Tuple(String, String))')),
            CAST([('__name__', 'traefik_service_request_duration_seconds_bucket'), ('job', any(s0)), ('instance', any(r0)['service.instance.id']), ('namespace', if(mapContains(any(a0), 'namespace'), '', any(r0)['k8s.namespace.name'])), ('pod', if(mapContains(any(a0), 'pod'), '', any(r0)['k8s.pod.name'])), ('node', if(mapContains(any(a0), 'node'), '', any(r0)['k8s.node.name'])), ('le', if(any(bound) = inf, '+Inf', if(match(toString(any(bound)), '[.e]'), toString(any(bound)), concat(toString(any(bound)), '.0'))))], 'Array(Tuple(String, String))')))) AS slabels, any(base) AS stored
      FROM (
        SELECT sid AS base, Bounds AS eb, any(ServiceName) AS s0, any(ResourceAttributes) AS r0, any(Attributes) AS a0
        FROM `otel`.`meshmetrics_series`
        WHERE MetricName = 'traefik_service_request_duration_seconds'
          AND Day >= toDate(toDateTime(1699999700)) AND Day <= toDate(toDateTime(1700003600))
        GROUP BY base, eb
      )
      ARRAY JOIN eb AS bound
      GROUP BY sid
    ))
    GROUP BY cityHash64(grp) AS gk
    HAVING throwIf(uniqExact(grp) > 1, 'two label sets of one aggregation have the same 64-bit group key; the dialect cannot tell them apart') = 0
  ) AS g USING (gk)
)
SELECT arrayMap(x -> x.1, labels) AS names, arrayMap(x -> x.2, labels) AS values, groupArray(i) AS idx, groupArray(v) AS vals
FROM (
  SELECT labels, i, v
  FROM histogram_quantile_1
  ORDER BY labels, i
)
GROUP BY labels
HAVING throwIf(length(groupArray(i)) != length(groupUniqArray(i)), 'vector cannot contain metrics with the same labelset') = 0
ORDER BY labels
LIMIT 10001
SETTINGS allow_experimental_analyzer = 0
