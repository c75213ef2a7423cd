package server

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestScanStatementClassifies(t *testing.T) {
	cases := []struct {
		src, keyword, text, format string
	}{
		{"SELECT 1", "SELECT", "SELECT 1", ""},
		{"  select 1 ;  ", "SELECT", "select 1", ""},
		{"SELECT 1;;", "SELECT", "SELECT 1", ""},
		{"SELECT 1 FORMAT CSV SETTINGS max_threads = 1", "SELECT", "SELECT 1 FORMAT CSV SETTINGS max_threads = 1", "CSV"},
		{"/* c */ -- line\n# hash\nSHOW TABLES", "SHOW", "/* c */ -- line\n# hash\nSHOW TABLES", ""},
		{"(SELECT 1) FORMAT JSON", "(", "(SELECT 1) FORMAT JSON", "JSON"},
		{"SELECT ';', \"a;b\", `c;d`, $$e;f$$ FORMAT `TSV`", "SELECT", "SELECT ';', \"a;b\", `c;d`, $$e;f$$ FORMAT `TSV`", "TSV"},
		{"SELECT format FROM t", "SELECT", "SELECT format FROM t", ""},
		{"SELECT * FROM file('x', format) FORMAT Native", "SELECT", "SELECT * FROM file('x', format) FORMAT Native", "Native"},
		{"INSERT INTO t SELECT 1 FORMAT CSV", "INSERT", "INSERT INTO t SELECT 1 FORMAT CSV", "CSV"},
		{"SET max_threads = 1", "SET", "SET max_threads = 1", ""},
		{"SELECT 'it''s' /* nested /* comment */ */", "SELECT", "SELECT 'it''s' /* nested /* comment */ */", ""},
	}
	for _, c := range cases {
		st, err := scanStatement(c.src)
		if err != nil {
			t.Errorf("scanStatement(%q): %v", c.src, err)
			continue
		}
		if st.Keyword != c.keyword || st.Text != c.text || st.Format != c.format || st.Insert != nil {
			t.Errorf("scanStatement(%q) = keyword %q text %q format %q insert %v; want %q %q %q nil",
				c.src, st.Keyword, st.Text, st.Format, st.Insert, c.keyword, c.text, c.format)
		}
	}
}

func TestScanStatementRefuses(t *testing.T) {
	cases := map[string]string{
		"SELECT 1; SELECT 2":   "Multi-statements are not allowed",
		"SELECT 1; -- x\n; 2":  "Multi-statements are not allowed",
		"SELECT 'unterminated": "unterminated",
		"SELECT /* open":       "unterminated",
		"   ":                  "empty query",
		"INSERT INTO t FORMAT": "format name",
	}
	for src, want := range cases {
		_, err := scanStatement(src)
		var se *syntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Errorf("scanStatement(%q) error %v, want a syntax error mentioning %q", src, err, want)
		}
	}
}

func TestScanInsert(t *testing.T) {
	native := "\x0a\x0a\x00;SELECT 2" // a Native block may start with 0x0A and hold anything
	cases := []struct {
		src      string
		head     string
		settings []string
		format   string
		data     string
	}{
		{"INSERT INTO t FORMAT Native\n" + native, "INSERT INTO t", nil, "Native", native},
		{"INSERT INTO t FORMAT Native", "INSERT INTO t", nil, "Native", ""},
		{"insert into db.t (a, `b c`, \"n.k\") format CSV  \r\n1,2\n", "insert into db.t (a, `b c`, \"n.k\")", nil, "CSV", "1,2\n"},
		{"INSERT INTO t VALUES (1, 'a;b'), (2, 'c')", "INSERT INTO t", nil, "Values", " (1, 'a;b'), (2, 'c')"},
		{"INSERT INTO t (a) SETTINGS async_insert=1, max_threads = (2), wait_for_async_insert=1 FORMAT JSONEachRow {}",
			"INSERT INTO t (a)", []string{"max_threads = (2)"}, "JSONEachRow", "{}"},
		{"INSERT INTO FUNCTION file('f', 'CSV') FORMAT TSV\t\n\n", "INSERT INTO FUNCTION file('f', 'CSV')", nil, "TSV", "\n"},
	}
	for _, c := range cases {
		st, err := scanStatement(c.src)
		if err != nil {
			t.Errorf("scanStatement(%q): %v", c.src, err)
			continue
		}
		ins := st.Insert
		if ins == nil {
			t.Errorf("scanStatement(%q): not recognized as an INSERT with data", c.src)
			continue
		}
		if ins.Head != c.head || !reflect.DeepEqual(ins.Settings, c.settings) || ins.Format != c.format || c.src[ins.DataOffset:] != c.data {
			t.Errorf("scanStatement(%q) = head %q settings %q format %q data %q; want %q %q %q %q",
				c.src, ins.Head, ins.Settings, ins.Format, c.src[ins.DataOffset:], c.head, c.settings, c.format, c.data)
		}
	}
	// INSERT ... SELECT carries no data and is checked like any statement.
	for _, src := range []string{"INSERT INTO t SELECT * FROM s", "INSERT INTO t (a) WITH 1 AS x SELECT x", "INSERT INTO t SETTINGS x=1 SELECT 1"} {
		st, err := scanStatement(src)
		if err != nil || st.Insert != nil || st.Text != src {
			t.Errorf("scanStatement(%q) = %+v, %v; want a plain statement", src, st, err)
		}
	}
	if _, err := scanStatement("INSERT INTO t SELECT 1; DROP TABLE t"); err == nil {
		t.Errorf("INSERT ... SELECT followed by another statement was accepted")
	}
}

func TestScanClientFileClauses(t *testing.T) {
	for src, want := range map[string]string{
		"SELECT 1 INTO OUTFILE '/etc/x'":                     "INTO OUTFILE",
		"INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV": "FROM INFILE",
		"SELECT 'into outfile'":                              "",
	} {
		st, err := scanStatement(src)
		if err != nil || st.ClientFile != want {
			t.Errorf("scanStatement(%q) client file clause %q (err %v), want %q", src, st.ClientFile, err, want)
		}
	}
}

func TestWithInfile(t *testing.T) {
	st, err := scanStatement("INSERT INTO t (a) SETTINGS async_insert=1, input_format_skip_unknown_fields=1 FORMAT JSONEachRow\n{}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Insert.withInfile("/dev/shm/x/insert-1.bin")
	want := "INSERT INTO t (a) FROM INFILE '/dev/shm/x/insert-1.bin' SETTINGS input_format_skip_unknown_fields=1 FORMAT JSONEachRow"
	if err != nil || got != want {
		t.Fatalf("withInfile = %q, %v; want %q", got, err, want)
	}
	bad := &insertStatement{Head: "INSERT INTO t", Format: "CSV'; DROP"}
	if _, err := bad.withInfile("/x"); err == nil {
		t.Fatalf("withInfile accepted format name %q", bad.Format)
	}
}

func TestHelloBlockLayout(t *testing.T) {
	rev0 := helloBlock(0, "vm", "26.5.1.1", "UTC")
	if rev0[0] != 4 || rev0[1] != 1 {
		t.Fatalf("revision 0 block starts % x, want column and row counts 04 01", rev0[:2])
	}
	revN := helloBlock(54460, "vm", "26.5.1.1", "UTC")
	// Block info (8 bytes) and one custom-serialization byte per column.
	if len(revN) != len(rev0)+8+4 {
		t.Fatalf("revision 54460 block is %d bytes, want %d", len(revN), len(rev0)+12)
	}
	if !isHelloQuery("SELECT  displayName(),\n version(), revision(), timezone()") || isHelloQuery("SELECT revision()") {
		t.Fatalf("isHelloQuery matches the wrong queries")
	}
}
