// Package promdiff is the differential test of the PromQL dialect: one
// generated data set goes into the Prometheus engine's test storage and,
// in the OpenTelemetry Collector clickhouse exporter's schema, into the
// embedded ClickHouse; every query of testdata/queries.txt is then answered
// by both, as a range query and as instant queries, and the answers must
// agree (same label sets, same timestamps, values within 1e-9 relative).
//
// Everything lives in _test.go files; this file only documents the package.
//
//	go test ./tests/promdiff/                                  # everything
//	go test ./tests/promdiff/ -run 'TestDifferential/portable/exporter-tables/q017'  # one query
//	PROMDIFF_STRATEGIES=portable go test ./tests/promdiff/     # one SQL strategy, both table layouts
//	PROMDIFF_LAYOUTS=series go test ./tests/promdiff/          # the series extension's tables, both strategies
//
// By default two runs: native on the series extension's tables
// (provisioning/clickhouse/002, the production path) and portable on the
// exporter's tables alone.
//
//	go test -short ./tests/promdiff/                           # 3 instants per query instead of 5
//
// Files: gen_test.go (the data set), promload_test.go and chload_test.go
// (the two loaders and their read-back checks), compare_test.go (answers
// and their comparison), queries_test.go (the query and divergence lists),
// diff_test.go (the test itself).
package promdiff
