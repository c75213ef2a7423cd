// Package provisioning checks what operators drop into their stack, with
// what can run here (no Docker engine, no Kubernetes cluster):
//
//   - provisioning/clickhouse: the 90-day TTL migration (up and down) and
//     the runbook's verification queries, run on the embedded ClickHouse
//     over the clickhouse exporter's v0.161.0 DDL, with TimeUnix as
//     DateTime and as DateTime64(9) (clickhouse_test.go; chfixture_test.go
//     creates the tables, sqlfile_test.go reads the SQL files);
//   - provisioning/kubernetes: every manifest decoded strictly into the
//     Kubernetes API types, each kustomize overlay rendered and checked for
//     cross-references, and the Tiltfile (kubernetes_test.go; k8sdecode_test.go
//     decodes and renders);
//   - docker-compose.yaml and provisioning/compose: strict decoding, mounted
//     paths, ports and service names against the collector's static
//     targets and the proxies' mesh-style config (compose_test.go,
//     composemesh_test.go; composetypes_test.go has the decoded types).
//
// Everything lives in _test.go files; this file only documents the package.
//
//	go test ./tests/provisioning
package provisioning
