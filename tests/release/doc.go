// Package release checks what an operator installs: the zip `make package`
// writes (layout, plugin.json, every executable's headers, the bundled
// dashboard, no secrets, and the linux/amd64 executable answering
// CheckHealth over gRPC against the embedded ClickHouse), the packager's
// refusals, and the install files of provisioning/install (Docker Compose
// for staging, the Grafana Helm chart's values for local dev and
// production), decoded strictly with their datasource provisioning expanded
// as Grafana expands it.
//
// `make test` builds the zip first (`make package`); run alone, the tests
// fail with that instruction when it is missing.
package release
