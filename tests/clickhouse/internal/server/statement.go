package server

import "strings"

// The statements the lexer in sqlscan.go finds: what kind each is, where an
// INSERT's data starts, and what a readonly request may run.

// statement is what the server needs to know about a request's query.
type statement struct {
	// Keyword is the first keyword, upper-cased ("SELECT", "INSERT", ...),
	// or "(" for a parenthesized query.
	Keyword string
	// Text is the statement without a trailing ';' and whitespace.
	Text string
	// Format is the top-level FORMAT clause's name, if any.
	Format string
	// Insert is set for an INSERT that carries data (FORMAT or VALUES).
	Insert *insertStatement
	// ClientFile is "INTO OUTFILE" or "FROM INFILE" when the statement
	// uses one: those read or write files where the engine runs, which a
	// real server refuses over HTTP.
	ClientFile string
}

// insertStatement splits "INSERT INTO t (cols) [SETTINGS ...] FORMAT f <data>".
type insertStatement struct {
	// Head is "INSERT INTO t (cols)", up to the SETTINGS or FORMAT clause.
	Head string
	// Settings holds the SETTINGS clause's assignments as written, minus
	// the ones that ask for an asynchronous insert (inserts here are always
	// synchronous).
	Settings []string
	// Format is the data's format: the FORMAT name, or "Values".
	Format string
	// DataOffset is where the inline data starts in the scanned text.
	DataOffset int
}

// asyncInsertSetting reports whether a setting only concerns asynchronous
// inserts. Such settings are dropped: the OpenTelemetry exporter sends
// async_insert=1 and wait_for_async_insert=1, and an insert here is applied
// before the response in any case, which is what wait_for_async_insert=1
// promises.
func asyncInsertSetting(name string) bool {
	name = strings.ToLower(name)
	return strings.HasPrefix(name, "async_insert") || strings.HasPrefix(name, "wait_for_async_insert")
}

// scanStatement classifies src. For an INSERT with data it stops at the
// data, which may be binary; otherwise it lexes everything and refuses a
// second statement after ';'.
func scanStatement(src string) (*statement, error) {
	l := &lexer{src: src}
	first, err := l.next()
	if err != nil {
		return nil, err
	}
	if first.kind == tokEOF {
		return nil, &syntaxError{0, "empty query"}
	}
	st := &statement{Keyword: first.upper()}
	if first.text == "(" {
		st.Keyword = "("
	}
	if st.Keyword == "INSERT" {
		ins, err := scanInsert(l, first.start)
		if err != nil {
			return nil, err
		}
		if ins != nil {
			st.Insert = ins
			st.Text = src
			return st, nil
		}
		// INSERT ... SELECT: lex it again from the start like any statement.
		l = &lexer{src: src}
		if first, err = l.next(); err != nil {
			return nil, err
		}
	}
	if err := scanRest(l, st, first); err != nil {
		return nil, err
	}
	return st, nil
}

// scanRest lexes to the end, recording the top-level FORMAT and the end of
// the one statement allowed.
func scanRest(l *lexer, st *statement, prev token) error {
	depth := 0
	if prev.text == "(" {
		depth = 1
	}
	// A FORMAT clause ends the statement (SETTINGS may follow it), which
	// tells it from a column or argument named "format".
	candidate := ""
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		if candidate != "" && (t.kind == tokEOF || t.text == ";" || t.upper() == "SETTINGS") {
			st.Format = candidate
		}
		candidate = ""
		switch {
		case t.kind == tokEOF:
			st.Text = strings.TrimSpace(l.src)
			return nil
		case t.text == ";":
			st.Text = strings.TrimSpace(l.src[:t.start])
			for {
				more, err := l.next()
				if err != nil {
					return err
				}
				if more.kind == tokEOF {
					return nil
				}
				if more.text != ";" {
					return &syntaxError{more.start, "Multi-statements are not allowed"}
				}
			}
		case t.text == "(" || t.text == "[":
			depth++
		case t.text == ")" || t.text == "]":
			depth--
		case depth == 0 && prev.upper() == "FORMAT" && (t.kind == tokWord || t.kind == tokQuotedIdent || t.kind == tokString):
			candidate = unquoteIdent(t.text)
		case clientFileClause(prev, t) != "":
			st.ClientFile = clientFileClause(prev, t)
		}
		prev = t
	}
}

// clientFileClause names the INTO OUTFILE / FROM INFILE clause that the
// pair of tokens starts, or returns "".
func clientFileClause(prev, t token) string {
	switch {
	case prev.upper() == "INTO" && t.upper() == "OUTFILE":
		return "INTO OUTFILE"
	case prev.upper() == "FROM" && t.upper() == "INFILE":
		return "FROM INFILE"
	}
	return ""
}

// scanInsert parses an INSERT header. It returns nil (and leaves the lexer
// where it was) for INSERT ... SELECT, which carries no data.
func scanInsert(l *lexer, start int) (*insertStatement, error) {
	depth := 0
	settingsAt := -1
	var settingsTokens []token
	var prev token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokEOF || t.text == ";" || clientFileClause(prev, t) != "" {
			// No inline data: scanStatement lexes it as a whole.
			return nil, nil
		}
		prev = t
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		}
		if depth != 0 {
			if settingsAt >= 0 {
				settingsTokens = append(settingsTokens, t)
			}
			continue
		}
		switch t.upper() {
		case "SELECT", "WITH":
			return nil, nil
		case "SETTINGS":
			settingsAt = t.start
			continue
		case "VALUES":
			return newInsert(l.src, start, settingsAt, t.start, settingsTokens, "Values", t.end), nil
		case "FORMAT":
			name, err := l.next()
			if err != nil {
				return nil, err
			}
			if name.kind != tokWord && name.kind != tokQuotedIdent {
				return nil, &syntaxError{name.start, "expected a format name after FORMAT"}
			}
			return newInsert(l.src, start, settingsAt, t.start, settingsTokens, unquoteIdent(name.text), dataStart(l.src, name.end)), nil
		}
		if settingsAt >= 0 {
			settingsTokens = append(settingsTokens, t)
		}
	}
}

func newInsert(src string, start, settingsAt, clauseAt int, settingsTokens []token, format string, data int) *insertStatement {
	headEnd := clauseAt
	if settingsAt >= 0 {
		headEnd = settingsAt
	}
	return &insertStatement{
		Head:       strings.TrimSpace(src[start:headEnd]),
		Settings:   splitSettings(src, settingsTokens),
		Format:     format,
		DataOffset: data,
	}
}

// splitSettings cuts a SETTINGS clause into its "name = value" items at the
// top-level commas, dropping asynchronous-insert ones.
func splitSettings(src string, toks []token) []string {
	var out []string
	depth := 0
	from := 0
	flush := func(to int) {
		if from >= to {
			return
		}
		item := toks[from:to]
		if !asyncInsertSetting(unquoteIdent(item[0].text)) {
			out = append(out, src[item[0].start:item[len(item)-1].end])
		}
	}
	for i, t := range toks {
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				flush(i)
				from = i + 1
			}
		}
	}
	flush(len(toks))
	return out
}

// dataStart applies ClickHouse's rule for where inline INSERT data begins
// after the format name: past spaces and tabs, then one optional "\r" and one
// optional "\n". Anything further is data, even if it looks like whitespace
// (a Native block may well start with byte 0x0A).
func dataStart(src string, pos int) int {
	for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t' || src[pos] == '\f') {
		pos++
	}
	if pos < len(src) && src[pos] == '\r' {
		pos++
	}
	if pos < len(src) && src[pos] == '\n' {
		pos++
	}
	return pos
}

func unquoteIdent(s string) string {
	if len(s) >= 2 && (s[0] == '`' || s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		q := string(s[0])
		return strings.ReplaceAll(s[1:len(s)-1], q+q, q)
	}
	return s
}

// readOnlyKeywords are the statements a readonly request may run.
var readOnlyKeywords = map[string]bool{
	"SELECT": true, "WITH": true, "(": true, "SHOW": true, "DESC": true, "DESCRIBE": true,
	"EXISTS": true, "EXPLAIN": true,
}
