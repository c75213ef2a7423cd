// Package bench measures the dialect's two SQL strategies (portable,
// native) against the Prometheus engine on the same samples: range queries
// of rate, sum by and histogram_quantile over the Traefik Mesh metrics of
// 200 services for 24 hours (BenchmarkDay) and 50 services for 7 days
// (BenchmarkWeek), 15 s scrapes. docs/benchmarks.md has the command, the
// machine and a run.
//
// Everything lives in _test.go files; this file only documents the
// package. Plain `go test` runs only a quick check of the generator; the
// benchmark starts the embedded ClickHouse and needs minutes:
//
//	go test ./tests/bench -run '^$' -bench . -benchtime 2x -timeout 90m -v
//	go test ./tests/bench -run '^$' -bench Day/rate -benchtime 1x -args -small  # the machinery on a tiny data set
//
// Files: data_test.go (the data set: one formula, in Go and in SQL),
// load_test.go (loading ClickHouse server-side and Prometheus' storage,
// and the raw read-back check), bench_test.go (the measurements).
package bench
