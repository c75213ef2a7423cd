package promqlreplay

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/forma3d/meshmetrics/pkg/dialect"
)

var update = flag.Bool("update", false, "rewrite the automatic entries of testdata/excluded.txt")

// dialectReason is why the dialect rejects expr ("" when it accepts it):
// its own message without the position.
func dialectReason(expr string) string {
	_, err := dialect.Parse(expr)
	if err == nil {
		return ""
	}
	msg := positionPrefix.ReplaceAllString(err.Error(), "")
	return "outside the dialect: " + supportedSuffix.ReplaceAllString(msg, "")
}

var (
	positionPrefix  = regexp.MustCompile(`^at line \d+, column \d+: `)
	supportedSuffix = regexp.MustCompile(` \(supported: [^)]*\)$`)
	// validationError: the dialect's checks of label_replace's arguments,
	// which Prometheus makes too (at evaluation). A case that expects a
	// failure and gets one of these is replayed, not excluded.
	validationError = regexp.MustCompile(`is not a valid label name|invalid regular expression`)
)

// expectsFailure reports whether the case asserts an error (eval_fail or
// "expect fail").
func (f *testFile) expectsFailure(c evalCase) bool {
	if strings.HasPrefix(strings.TrimSpace(f.lines[c.first]), "eval_fail") {
		return true
	}
	for i := c.first + 1; i <= c.last; i++ {
		if strings.HasPrefix(strings.TrimSpace(f.lines[i]), "expect fail") {
			return true
		}
	}
	return false
}

// TestLists checks the pinned lists without a server: they match the
// .test files, and every case the dialect rejects is excluded with the
// dialect's reason (a rejected case would fail loudly anyway; listing it
// keeps the count of what is replayed honest), except a case that expects
// the very error the dialect raises (validationError) and a known failure
// (the dialect wrongly rejects a query Prometheus answers); so is every
// case that reads native histograms (nativeReasons). With -update it
// rewrites those entries of excluded.txt and keeps the others, written by
// hand (documented divergences, promqltest engine options the dialect
// does not follow).
func TestLists(t *testing.T) {
	var (
		ls    *lists
		files []*testFile
	)
	if *update {
		ls, files, _ = loadFilesUnchecked(t) // the entries are rewritten, then checked
	} else {
		ls, files = loadFiles(t)
	}
	var missing []string
	entries := map[string]listEntry{}
	for _, f := range files {
		native := f.nativeReasons()
		for _, c := range f.cases {
			reason := dialectReason(c.expr)
			if reason != "" && f.expectsFailure(c) && validationError.MatchString(reason) {
				reason = ""
			}
			if reason == "" {
				reason = native[c.line]
			}
			if e, ok := ls.excluded[c.key()]; ok && reason == "" {
				entries[c.key()] = e // written by hand
			}
			if _, known := ls.known[c.key()]; reason == "" || known {
				continue
			}
			entries[c.key()] = listEntry{key: c.key(), reason: reason, expr: c.expr}
			if e, ok := ls.excluded[c.key()]; !ok || e.reason != reason {
				missing = append(missing, fmt.Sprintf("%s\t%s\t%s", c.key(), reason, c.expr))
			}
		}
	}
	if *update {
		writeExcluded(t, files, entries)
		loadFiles(t)
		return
	}
	if len(missing) > 0 {
		t.Errorf("%d cases the dialect rejects are not excluded with its reason (go test ./tests/promqltest -run TestLists -update):\n%s",
			len(missing), strings.Join(missing, "\n"))
	}
}

// writeExcluded rewrites excluded.txt: its leading comment, then entries
// in the order of the included files and their lines.
func writeExcluded(t *testing.T, files []*testFile, entries map[string]listEntry) {
	path := filepath.Join("testdata", excludedFile)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range strings.Split(string(old), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		b.WriteString(l + "\n")
	}
	order := map[string]int{}
	for i, f := range files {
		order[f.name] = i
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	pos := func(k string) (int, int) {
		file, line, _ := strings.Cut(k, ":")
		var n int
		fmt.Sscan(line, &n)
		return order[file], n
	}
	sort.Slice(keys, func(i, j int) bool {
		fi, li := pos(keys[i])
		fj, lj := pos(keys[j])
		return fi < fj || fi == fj && li < lj
	})
	for _, k := range keys {
		e := entries[k]
		fmt.Fprintf(&b, "%s\t%s\t%s\n", k, e.reason, e.expr)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d entries to %s", len(keys), path)
}
