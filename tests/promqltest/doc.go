// Package promqlreplay replays Prometheus' own PromQL engine tests (the
// promql/promqltest/testdata/*.test files of the Prometheus module go.mod
// requires) through our engine: an adapter implements promql.QueryEngine,
// copies each test's storage into the embedded ClickHouse in the
// clickhouse exporter's schema, and answers with pkg/engine, so that
// promqltest.RunTest checks our answers against the files' expectations.
//
// Everything lives in _test.go files; this file only documents the package.
//
//	go test ./tests/promqltest/                                   # everything (~2 min on 2 cores)
//	go test -short ./tests/promqltest/                            # the portable strategy only
//	go test ./tests/promqltest/ -run 'TestReplay/portable/functions.test/line_245/'
//	PROMQLREPLAY_STRATEGIES=native go test ./tests/promqltest/    # one SQL strategy
//	PROMQLREPLAY_NATIVE=all go test ./tests/promqltest/           # native on every case, not only rate & co.
//	PROMQLREPLAY_LAYOUT=exporter go test ./tests/promqltest/      # every strategy on the exporter's tables alone
//
// Table layouts: the portable replay (every case) reads the series
// extension's tables (provisioning/clickhouse/002, with DateTime64(9)
// timestamps), the native replay the exporter's tables alone;
// tests/promdiff runs the two other pairs.
//
//	go test -v -run TestSummary ./tests/promqltest/               # counts per file, no server
//	go test -run TestLists -update ./tests/promqltest/            # rewrite the automatic exclusions
//
// The pinned lists (testdata/): included.txt names the replayed files and
// the module version; excluded.txt gives each case left out (file:line of
// its eval command) and why: outside the dialect (a construct the dialect
// rejects, native histogram data, a promqltest engine option) or a
// divergence documented in docs/dialect.md; known_failures.txt lists cases
// inside the dialect where the engine is wrong, which TestKnownFailures
// expects to fail until they are fixed.
//
// Files: cases_test.go (reading .test files, dropping cases), lists_test.go
// and lists_update_test.go (the lists, their checks and -update),
// native_test.go (which cases read native histograms), load_test.go
// (storage → ClickHouse), adapter_test.go (the promql.QueryEngine),
// replay_test.go (TestReplay, TestKnownFailures), summary_test.go.
package promqlreplay
