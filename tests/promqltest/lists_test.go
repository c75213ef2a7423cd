package promqlreplay

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The pinned lists, in testdata/:
//
//	included.txt        "module <path> <version>", then one .test file a line
//	excluded.txt        file:line <TAB> reason <TAB> expression
//	known_failures.txt  file:line <TAB> strategies <TAB> expression <TAB> observed difference
//
// The expression repeats the case's eval expression so that a version bump
// that moves lines is caught instead of excluding another case.
const (
	includedFile = "included.txt"
	excludedFile = "excluded.txt"
	knownFile    = "known_failures.txt"
)

// listEntry is one line of excluded.txt or known_failures.txt.
type listEntry struct {
	key        string // file:line
	reason     string // excluded: why; known: the observed difference
	strategies []string
	expr       string
	lineNo     int // in the list file
}

type lists struct {
	version  string
	included []string
	excluded map[string]listEntry
	known    map[string]listEntry
}

// dataLines yields the non-empty, non-comment lines of a list file.
func dataLines(t testing.TB, name string) (lines []string, numbers []int) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		lines = append(lines, l)
		numbers = append(numbers, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return lines, numbers
}

func readLists(t testing.TB) *lists {
	t.Helper()
	ls := &lists{excluded: map[string]listEntry{}, known: map[string]listEntry{}}
	inc, _ := dataLines(t, includedFile)
	for _, l := range inc {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "module" {
			if f[1] != promModule {
				t.Fatalf("%s: module %s, expected %s", includedFile, f[1], promModule)
			}
			ls.version = f[2]
			continue
		}
		ls.included = append(ls.included, l)
	}
	if ls.version == "" {
		t.Fatalf("%s: no \"module %s <version>\" line", includedFile, promModule)
	}
	read := func(name string, fields int, into map[string]listEntry) {
		lines, numbers := dataLines(t, name)
		for i, l := range lines {
			f := strings.Split(l, "\t")
			if len(f) != fields {
				t.Fatalf("%s:%d: %d tab-separated fields, expected %d", name, numbers[i], len(f), fields)
			}
			e := listEntry{key: f[0], lineNo: numbers[i]}
			if fields == 3 {
				e.reason, e.expr = f[1], f[2]
			} else {
				e.strategies, e.expr, e.reason = strings.Split(f[1], ","), f[2], f[3]
			}
			if _, dup := into[e.key]; dup {
				t.Fatalf("%s:%d: %s listed twice", name, numbers[i], e.key)
			}
			into[e.key] = e
		}
	}
	read(excludedFile, 3, ls.excluded)
	read(knownFile, 4, ls.known)
	return ls
}

// check validates the lists against the .test files: every entry names an
// eval of an included file with the same expression, no case is both
// excluded and a known failure, and reasons are given.
func (ls *lists) check(files map[string]*testFile) []string {
	cases := map[string]evalCase{}
	for _, f := range files {
		for _, c := range f.cases {
			cases[c.key()] = c
		}
	}
	var problems []string
	checkEntry := func(list string, e listEntry) {
		c, ok := cases[e.key]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s:%d: %s is not an eval command of an included file", list, e.lineNo, e.key))
		case c.expr != e.expr:
			problems = append(problems, fmt.Sprintf("%s:%d: %s is %q, the list says %q (did the module version change?)", list, e.lineNo, e.key, c.expr, e.expr))
		case strings.TrimSpace(e.reason) == "":
			problems = append(problems, fmt.Sprintf("%s:%d: %s has no reason", list, e.lineNo, e.key))
		}
	}
	for _, e := range ls.excluded {
		checkEntry(excludedFile, e)
		if !strings.HasPrefix(e.reason, "outside the dialect: ") && !strings.HasPrefix(e.reason, "documented divergence: ") {
			problems = append(problems, fmt.Sprintf("%s:%d: a reason starts with \"outside the dialect: \" or \"documented divergence: \"", excludedFile, e.lineNo))
		}
	}
	for _, e := range ls.known {
		checkEntry(knownFile, e)
		if _, both := ls.excluded[e.key]; both {
			problems = append(problems, fmt.Sprintf("%s:%d: %s is excluded too", knownFile, e.lineNo, e.key))
		}
		for _, s := range e.strategies {
			if s != "portable" && s != "native" {
				problems = append(problems, fmt.Sprintf("%s:%d: unknown strategy %q", knownFile, e.lineNo, s))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// knownFor reports whether c is a known failure of strategy.
func (ls *lists) knownFor(c evalCase, strategy string) bool {
	e, ok := ls.known[c.key()]
	if !ok {
		return false
	}
	for _, s := range e.strategies {
		if s == strategy {
			return true
		}
	}
	return false
}
