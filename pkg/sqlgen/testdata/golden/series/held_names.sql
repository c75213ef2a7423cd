-- the names held on 2023-11-07 to 2023-11-14
SELECT DISTINCT MetricName AS name
FROM `otel`.`meshmetrics_series`
WHERE Day >= toDate(toDateTime(1699315200)) AND Day <= toDate(toDateTime(1700006399))
LIMIT 10001
