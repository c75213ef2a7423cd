// Package bench measures the dialect against the Prometheus engine on the
// same samples. BenchmarkDay and BenchmarkWeek time range queries of rate,
// sum by and histogram_quantile through both SQL strategies over the
// Traefik Mesh metrics of 200 services for 24 hours and 50 services for 7
// days, 15 s scrapes. BenchmarkDashboard runs the whole bundled "Service
// Mesh Traffic" dashboard (every plugin query read from its JSON, the
// variable queries, variables at All and at one value), cold and after a
// 1-minute refresh, at issue 13's scales. docs/benchmarks.md has the
// commands, the machine and runs.
//
// Everything lives in _test.go files; this file only documents the
// package. Plain `go test` runs only quick checks of the generator and of
// the Grafana side (interpolation, steps, variables); the benchmarks start
// the embedded ClickHouse and need minutes:
//
//	go test ./tests/bench -run '^$' -bench 'Day|Week' -benchtime 2x -timeout 90m -v
//	go test ./tests/bench -run '^$' -bench Dashboard/20svc -benchtime 1x -timeout 60m -v
//	go test ./tests/bench -run '^$' -bench Dashboard -benchtime 1x -v -args -strategy portable
//	go test ./tests/bench -run '^$' -bench Dashboard/20svc -benchtime 1x -args -small  # the machinery on a tiny data set
//
// Files: data_test.go (the data sets: one formula, in Go and in SQL),
// load_test.go (loading ClickHouse server-side and Prometheus' storage,
// and the raw read-back check), bench_test.go (measuring one query on
// each side, comparing answers; BenchmarkDay, BenchmarkWeek),
// grafana_test.go (what Grafana and the plugin do to a dashboard's
// queries: JSON, interpolation, interval, step, macros), variables_test.go
// (template variables' options and values), dashboard_test.go
// (BenchmarkDashboard), grafana_unit_test.go (their tests).
package bench
