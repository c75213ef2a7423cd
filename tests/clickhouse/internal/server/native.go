package server

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// chDB writes Native in the revision-0 layout: no block info and no
// per-column custom-serialization flag. A real server writes the layout of
// the client_protocol_version the client sends instead.
//
// clickhouse-go (HTTP) decodes its hello query with its own protocol
// revision and every later response with the revision() the hello
// returned. So the hello is answered here, in the client's layout, with
// revision 0; from then on both sides agree on the revision-0 layout and no
// block needs re-encoding (clickhouse-go encodes inserts over HTTP with
// revision 0 anyway). The layout differences are only those two framing
// details: LowCardinality and Map(LowCardinality(String), String) columns
// keep the same encoding, which the conformance tests check both ways.

// helloQuery is what clickhouse-go sends when it opens an HTTP connection.
const helloQuery = "SELECT displayName(), version(), revision(), timezone()"

// minRevisionWithCustomSerialization is DBMS_MIN_REVISION_WITH_CUSTOM_SERIALIZATION.
const minRevisionWithCustomSerialization = 54454

// isHelloQuery matches the hello query, ignoring whitespace differences.
func isHelloQuery(q string) bool {
	return strings.Join(strings.Fields(q), " ") == helloQuery
}

// helloBlock encodes the hello query's answer (one row: display name,
// version, revision 0, timezone) as a Native block for clientRevision.
func helloBlock(clientRevision uint64, displayName, version, timezone string) []byte {
	var b []byte
	putUvarint := func(v uint64) { b = binary.AppendUvarint(b, v) }
	putString := func(s string) { putUvarint(uint64(len(s))); b = append(b, s...) }
	if clientRevision > 0 {
		// Block info: field 1 is_overflows=false, field 2 bucket_num=-1, end.
		putUvarint(1)
		b = append(b, 0)
		putUvarint(2)
		b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF)
		putUvarint(0)
	}
	putUvarint(4) // columns
	putUvarint(1) // rows
	column := func(name, typ string, data func()) {
		putString(name)
		putString(typ)
		if clientRevision >= minRevisionWithCustomSerialization {
			b = append(b, 0) // no custom serialization
		}
		data()
	}
	column("displayName()", "String", func() { putString(displayName) })
	column("version()", "String", func() { putString(version) })
	column("revision()", "UInt32", func() { b = binary.LittleEndian.AppendUint32(b, 0) })
	column("timezone()", "String", func() { putString(timezone) })
	return b
}

// parseRevision reads client_protocol_version; 0 when absent or invalid.
func parseRevision(v string) uint64 {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return n
}
