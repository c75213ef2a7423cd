package engine

import (
	"slices"
	"strings"
	"testing"
)

// decodeLabelPairs reads what sqlgen's label_pairs writes (a length, 4
// bytes little-endian, then the bytes, for each name and value) and
// refuses a set cut short.
func TestDecodeLabelPairs(t *testing.T) {
	pair := func(s string) string {
		n := len(s)
		return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) + s
	}
	long := strings.Repeat("x", 300)
	cases := []struct {
		what          string
		in            string
		names, values []string
		err           string
	}{
		{"none", "", nil, nil, ""},
		{"two labels", pair("__name__") + pair("up") + pair("service") + pair("api"), []string{"__name__", "service"}, []string{"up", "api"}, ""},
		{"an empty value, a long one, bytes of any kind", pair("a") + pair("") + pair("b") + pair(long) + pair("c") + pair("\x00\xff;="), []string{"a", "b", "c"}, []string{"", long, "\x00\xff;="}, ""},
		{"a value cut short", pair("a") + pair("abc")[:5], nil, nil, "ends inside a label"},
		{"a name without its value", pair("a"), nil, nil, "ends inside a label"},
		{"a length cut short", "\x01\x00", nil, nil, "ends inside a label"},
	}
	for _, c := range cases {
		names, values, err := decodeLabelPairs(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one saying %q", c.what, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(names, c.names) || !slices.Equal(values, c.values) {
			t.Errorf("%s: %q %q %v, want %q %q", c.what, names, values, err, c.names, c.values)
		}
	}
}
