package server

import "strings"

// chDB writes Native in the revision-0 layout: no block info and no
// per-column custom-serialization flag. A real server instead writes the
// layout of the client_protocol_version the client sends, and clickhouse-go
// decodes with the revision its hello query returned (revision()). Telling
// such clients the server revision is 0 makes both sides agree on the
// revision-0 layout without re-encoding every block: clickhouse-go already
// encodes inserts with revision 0 over HTTP, and its HTTP decoding depends
// on the revision only for those two layout details.
//
// LowCardinality and Map(LowCardinality(String), String) columns keep their
// LowCardinality encoding in revision 0 (chDB does not strip it), which the
// conformance tests check in both directions.

// helloQuery is what clickhouse-go sends when it opens an HTTP connection.
const helloQuery = "SELECT displayName(), version(), revision(), timezone()"

// helloQueryRevisionZero answers it with revision 0, keeping the column
// names and types of the original.
const helloQueryRevisionZero = "SELECT displayName(), version(), toUInt32(0) AS `revision()`, timezone()"

// isHelloQuery matches the hello query, ignoring whitespace differences.
func isHelloQuery(q string) bool {
	return strings.Join(strings.Fields(q), " ") == helloQuery
}
