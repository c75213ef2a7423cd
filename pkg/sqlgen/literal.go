package sqlgen

import (
	"math"
	"strconv"
	"strings"
)

// quote renders s as a ClickHouse string literal. Inside '…' ClickHouse
// reads backslash escapes, so backslashes are doubled and quotes escaped;
// nothing else in s can end the literal. Line breaks are escaped too: the
// statement is indented by rewriting its newlines, and a raw newline
// inside a literal would take that indentation into the value.
func quote(s string) string { return escaped('\'', s) }

// ident renders a database or table name as a quoted identifier.
func ident(name string) string { return escaped('`', name) }

// escaped renders s between two quote characters, with every byte that
// could end the literal or be changed by indentation written as an escape.
func escaped(q byte, s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case q:
			b.WriteByte('\\')
			b.WriteByte(q)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// float renders a float64 so that ClickHouse reads back exactly the same
// value as Float64.
func float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	// A bare integer literal would be typed as an integer: force Float64.
	return "toFloat64(" + s + ")"
}

// int64s renders an integer literal.
func int64s(n int64) string { return strconv.FormatInt(n, 10) }

// stringArray renders a list of strings as an Array(String) literal.
func stringArray(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = quote(s)
	}
	return "CAST([" + strings.Join(parts, ", ") + "], 'Array(String)')"
}

// anchored wraps a PromQL regex as Prometheus does: fully anchored, with
// '.' matching newlines.
func anchored(re string) string { return "^(?s:" + re + ")$" }

// QuoteString renders s as a ClickHouse string literal, for other packages
// that write SQL (the catalog and resource queries).
func QuoteString(s string) string { return quote(s) }

// QuoteIdent renders a database or table name as a quoted identifier.
func QuoteIdent(name string) string { return ident(name) }

// StringList renders strings as a parenthesised list for IN.
func StringList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = quote(s)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
