package provisioning

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// sqlStatements splits a migration file into its statements: `--` comment
// lines dropped, statements ended by a `;` at the end of a line (what
// clickhouse-client --multiquery runs one after the other).
func sqlStatements(src string) ([]string, error) {
	var out []string
	var cur []string
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), ";")
			if strings.Contains(stmt, ";") {
				return nil, fmt.Errorf("line %d: more than one statement before the ';'", i+1)
			}
			out = append(out, stmt)
			cur = nil
		}
	}
	if len(cur) > 0 {
		return nil, fmt.Errorf("statement without a closing ';': %q", strings.Join(cur, " "))
	}
	return out, nil
}

// namedQuery is one query of verify.sql.
type namedQuery struct {
	Name string
	SQL  string
}

// namedQueries reads the `-- name: X` sections of verify.sql, each holding
// exactly one statement.
func namedQueries(src string) ([]namedQuery, error) {
	var out []namedQuery
	var body []string
	name := ""
	flush := func() error {
		if name == "" {
			return nil
		}
		stmts, err := sqlStatements(strings.Join(body, "\n"))
		if err != nil {
			return fmt.Errorf("query %s: %w", name, err)
		}
		if len(stmts) != 1 {
			return fmt.Errorf("query %s: %d statements, want exactly one", name, len(stmts))
		}
		out = append(out, namedQuery{Name: name, SQL: stmts[0]})
		return nil
	}
	for _, line := range strings.Split(src, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name, body = strings.TrimSpace(rest), nil
			continue
		}
		if name != "" {
			body = append(body, line)
		}
	}
	return out, flush()
}

var alterTable = regexp.MustCompile("^ALTER TABLE \\{database:Identifier\\}\\.([a-z_]+) ")

// alteredTables names the table of each ALTER TABLE statement; it fails on
// any other statement or on a database that is not the parameter.
func alteredTables(t *testing.T, stmts []string) []string {
	t.Helper()
	var tables []string
	for _, s := range stmts {
		m := alterTable.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("statement %q: want ALTER TABLE {database:Identifier}.<table> …", s)
		}
		tables = append(tables, m[1])
	}
	return tables
}

func TestSQLStatements(t *testing.T) {
	got, err := sqlStatements("-- c\nALTER TABLE a\n  MODIFY TTL x;\n\nALTER TABLE b REMOVE TTL;\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "ALTER TABLE a\n  MODIFY TTL x" || got[1] != "ALTER TABLE b REMOVE TTL" {
		t.Fatalf("got %q", got)
	}
	if _, err := sqlStatements("ALTER TABLE a MODIFY TTL x"); err == nil {
		t.Fatal("unterminated statement accepted")
	}
	if _, err := namedQueries("-- name: a\nSELECT 1;\nSELECT 2;\n"); err == nil {
		t.Fatal("two statements under one name accepted")
	}
}
