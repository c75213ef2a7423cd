package chdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests load the engine into the test process, which allows one chDB
// connection: they share it.
var testConn *Conn

func connect(t *testing.T) *Conn {
	t.Helper()
	if testConn != nil {
		return testConn
	}
	wd, _ := os.Getwd()
	lib, err := Locate(wd)
	if err != nil {
		t.Fatalf("these tests need the engine: %v", err)
	}
	if err := Load(lib); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "meshmetrics-chdb-test-")
	if err != nil {
		t.Fatal(err)
	}
	testConn, err = Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	return testConn
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testConn != nil {
		testConn.Close()
	}
	os.Exit(code)
}

func TestQueryAndParams(t *testing.T) {
	c := connect(t)
	res, err := c.Query("SELECT number * 2 FROM numbers(3)", "CSV", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Data); got != "0\n2\n4\n" || res.RowsRead != 3 {
		t.Fatalf("got %q with %d rows read, want \"0\\n2\\n4\\n\" and 3", got, res.RowsRead)
	}
	res.Free()
	res.Free() // harmless twice

	res, err = c.Query("SELECT {a:UInt8} + 1, {s:String}, {e:String}", "TSV", []Param{{"a", "41"}, {"s", "x\\ty"}, {"e", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Data); got != "42\tx\\ty\t\n" {
		t.Fatalf("parameterized query returned %q", got)
	}
	res.Free()

	_, err = c.Query("SELECT * FROM missing_table", "CSV", nil)
	ce, ok := err.(*Error)
	if !ok || ce.Code != 60 || !strings.Contains(ce.Message, "missing_table") {
		t.Fatalf("error %#v, want *Error with code 60 naming the table", err)
	}
}

// TestGoSignalHandlersSurvive guards the reason for saving and restoring
// signal dispositions around chdb_connect: with chDB's handlers in place a
// nil dereference no longer becomes a Go panic, and the process hangs.
func TestGoSignalHandlersSurvive(t *testing.T) {
	c := connect(t)
	if _, err := c.Query("SELECT 1", "CSV", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		var p *int
		_ = *p // SIGSEGV, which the Go runtime must turn into a panic
	}()
	select {
	case r := <-done:
		if r == nil || !strings.Contains(toString(r), "nil pointer dereference") {
			t.Fatalf("recovered %v, want a nil pointer dereference panic", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nil dereference after chdb_connect did not panic within 10s: chDB's signal handlers replaced Go's")
	}
	if sigs := RestoreSignals(); len(sigs) != 0 {
		t.Fatalf("chDB replaced the handlers of %v after connecting", sigs)
	}
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestParseError(t *testing.T) {
	msg := "Code: 27. DB::Exception: Code: 27. DB::Exception: Cannot parse input: file. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.5.1.1). (CANNOT_PARSE_INPUT_ASSERTION_FAILED)\n"
	e := parseError(msg)
	want := "Code: 27. DB::Exception: Cannot parse input: file. (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.5.1.1)"
	if e.Code != 27 || e.Message != want {
		t.Fatalf("parseError = %d %q, want 27 %q", e.Code, e.Message, want)
	}
	if e := parseError("something odd"); e.Code != codeUnknownException {
		t.Fatalf("code for a message without one is %d, want %d", e.Code, codeUnknownException)
	}
}

func TestLocate(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "node_modules", "@chdb", "lib-linux-x64-gnu")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(pkg, "libchdb.so")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvLibPath, "")
	if got, err := Locate(t.TempDir(), deep); err != nil || got != lib {
		t.Fatalf("Locate from %s = %q, %v; want %q", deep, got, err, lib)
	}
	if _, err := Locate(t.TempDir()); err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Fatalf("Locate without node_modules: %v, want an error telling to run npm ci", err)
	}
	t.Setenv(EnvLibPath, pkg)
	if got, err := Locate(); err != nil || got != lib {
		t.Fatalf("Locate with %s=%s = %q, %v; want %q", EnvLibPath, pkg, got, err, lib)
	}
	t.Setenv(EnvLibPath, filepath.Join(root, "nope.so"))
	if _, err := Locate(deep); err == nil {
		t.Fatalf("Locate accepted a %s that does not exist", EnvLibPath)
	}
}
