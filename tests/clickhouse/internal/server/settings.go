package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// A real ClickHouse server starts every HTTP request (without session_id)
// from the user's default settings and database. chDB has one long-lived
// session instead, where SET and USE persist. session makes that session
// look fresh to every request: it applies the request's URL settings and
// database, and puts back the defaults afterwards, touching only what
// differs from the previous request so that a client sending the same
// settings every time (clickhouse-go does) costs no extra statements.
//
// All methods must be called with the server's execution lock held.
type session struct {
	conn *chdb.Conn
	// baseline is every setting's value when the session opened.
	baseline map[string]string
	// applied holds the settings currently changed by us, by name.
	applied map[string]string
	// database is the session's current database; "" means unknown.
	database string
}

var settingNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func newSession(conn *chdb.Conn) (*session, error) {
	rows, err := queryPairs(conn, "SELECT name, value FROM system.settings")
	if err != nil {
		return nil, fmt.Errorf("read default settings from system.settings: %w", err)
	}
	s := &session{conn: conn, baseline: make(map[string]string, len(rows)), applied: map[string]string{}}
	for _, r := range rows {
		s.baseline[r[0]] = r[1]
	}
	return s, nil
}

// queryPairs runs a two-column String query and returns its rows.
func queryPairs(conn *chdb.Conn, query string) ([][2]string, error) {
	res, err := conn.Query(query, "JSONCompactEachRow", nil)
	if err != nil {
		return nil, err
	}
	defer res.Free()
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(res.Data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var row [2]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("decode row %q: %w", sc.Text(), err)
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

// prepare makes the session's database and settings those of the request.
func (s *session) prepare(database string, settings map[string]string) error {
	if database == "" {
		database = "default"
	}
	if s.database != database {
		if err := s.run("USE " + quoteIdent(database)); err != nil {
			s.database = ""
			return err
		}
		s.database = database
	}

	var assignments []string
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !settingNamePattern.MatchString(name) {
			return &chdb.Error{Code: codeUnknownSetting, Message: fmt.Sprintf("Code: %d. DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)", codeUnknownSetting, name)}
		}
		if cur, ok := s.applied[name]; ok && cur == settings[name] {
			continue
		}
		assignments = append(assignments, name+" = "+quoteString(settings[name]))
	}
	var resets []string
	for name := range s.applied {
		if _, keep := settings[name]; !keep {
			resets = append(resets, name)
		}
	}
	sort.Strings(resets)
	for _, name := range resets {
		if def, ok := s.baseline[name]; ok {
			assignments = append(assignments, name+" = "+quoteString(def))
		}
	}
	if len(assignments) == 0 {
		return nil
	}
	if err := s.run("SET " + strings.Join(assignments, ", ")); err != nil {
		// Which assignments took effect is unknown: start over from the
		// defaults so the next request is not affected.
		s.resync()
		return err
	}
	for _, name := range resets {
		delete(s.applied, name)
	}
	for name, v := range settings {
		s.applied[name] = v
	}
	return nil
}

// afterStatement undoes what a request's own SET or USE statement changed:
// over HTTP without a session those last one request only.
func (s *session) afterStatement(keyword string) {
	switch keyword {
	case "USE":
		s.database = ""
	case "SET":
		s.resync()
	}
}

// resync puts every setting that differs from its default back, and forgets
// what was applied.
func (s *session) resync() {
	s.applied = map[string]string{}
	rows, err := queryPairs(s.conn, "SELECT name, value FROM system.settings WHERE changed")
	if err != nil {
		return
	}
	var assignments []string
	for _, r := range rows {
		if def, ok := s.baseline[r[0]]; ok && def != r[1] {
			assignments = append(assignments, r[0]+" = "+quoteString(def))
		}
	}
	if len(assignments) > 0 {
		_ = s.run("SET " + strings.Join(assignments, ", "))
	}
}

func (s *session) run(query string) error {
	res, err := s.conn.Query(query, "TabSeparated", nil)
	res.Free()
	return err
}

// quoteString renders v as a ClickHouse string literal. Settings accept
// strings for every type and parse them as a URL parameter would be parsed.
func quoteString(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

func quoteIdent(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(v) + "`"
}
