package server

import (
	"fmt"
	"strings"
)

// This file holds a small ClickHouse SQL lexer: just enough for statement.go
// to classify a request's statement, refuse multi-statements the way a real
// server does, and split an INSERT into its header and the data that
// follows it. It never
// needs to understand expressions, only where tokens start and end, so that
// a ';' or a FORMAT keyword inside a string, a quoted identifier or a comment
// is not mistaken for one at the top level.

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokWord
	tokQuotedIdent
	tokString
	tokNumber
	tokPunct
)

type token struct {
	kind       tokenKind
	start, end int
	text       string
}

// upper returns a bare word in upper case, or "" for anything else, so
// keyword checks cannot match quoted identifiers or strings.
func (t token) upper() string {
	if t.kind != tokWord {
		return ""
	}
	return strings.ToUpper(t.text)
}

type lexer struct {
	src string
	pos int
}

// syntaxError mirrors ClickHouse's SYNTAX_ERROR (code 62).
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("Syntax error: failed at position %d: %s", e.pos+1, e.msg)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isWordChar(c byte) bool {
	return isWordStart(c) || (c >= '0' && c <= '9') || c == '$'
}

// skipSpaceAndComments advances past whitespace and comments ("--", "#",
// "/* */" which ClickHouse allows to nest).
func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case isSpace(c):
			l.pos++
		case c == '-' && strings.HasPrefix(l.src[l.pos:], "--"), c == '#':
			if i := strings.IndexByte(l.src[l.pos:], '\n'); i >= 0 {
				l.pos += i + 1
			} else {
				l.pos = len(l.src)
			}
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "/*"):
			start := l.pos
			depth := 0
			for l.pos < len(l.src) {
				if strings.HasPrefix(l.src[l.pos:], "/*") {
					depth++
					l.pos += 2
				} else if strings.HasPrefix(l.src[l.pos:], "*/") {
					depth--
					l.pos += 2
					if depth == 0 {
						break
					}
				} else {
					l.pos++
				}
			}
			if depth != 0 {
				return &syntaxError{start, "unterminated multi-line comment"}
			}
		default:
			return nil
		}
	}
	return nil
}

// quoted scans a literal or identifier closed by quote, honouring backslash
// escapes and doubled quotes.
func (l *lexer) quoted(quote byte) error {
	start := l.pos
	l.pos++
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case '\\':
			l.pos += 2
		case quote:
			if l.pos+1 < len(l.src) && l.src[l.pos+1] == quote {
				l.pos += 2
				continue
			}
			l.pos++
			return nil
		default:
			l.pos++
		}
	}
	return &syntaxError{start, "unterminated quoted string or identifier"}
}

// heredoc scans $tag$...$tag$ (tag may be empty). It reports false when the
// '$' does not open one.
func (l *lexer) heredoc() (bool, error) {
	end := strings.IndexByte(l.src[l.pos+1:], '$')
	if end < 0 {
		return false, nil
	}
	tag := l.src[l.pos : l.pos+end+2]
	for i := 1; i < len(tag)-1; i++ {
		if !isWordChar(tag[i]) || tag[i] == '$' {
			return false, nil
		}
	}
	start := l.pos
	closeAt := strings.Index(l.src[l.pos+len(tag):], tag)
	if closeAt < 0 {
		return true, &syntaxError{start, "unterminated heredoc"}
	}
	l.pos += len(tag) + closeAt + len(tag)
	return true, nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, start: start, end: start}, nil
	}
	c := l.src[l.pos]
	kind := tokPunct
	switch {
	case c == '\'':
		if err := l.quoted('\''); err != nil {
			return token{}, err
		}
		kind = tokString
	case c == '"' || c == '`':
		if err := l.quoted(c); err != nil {
			return token{}, err
		}
		kind = tokQuotedIdent
	case c == '$':
		ok, err := l.heredoc()
		if err != nil {
			return token{}, err
		}
		if ok {
			kind = tokString
		} else {
			l.pos++
		}
	case isWordStart(c):
		for l.pos < len(l.src) && isWordChar(l.src[l.pos]) {
			l.pos++
		}
		kind = tokWord
	case c >= '0' && c <= '9':
		for l.pos < len(l.src) && (isWordChar(l.src[l.pos]) || l.src[l.pos] == '.' ||
			((l.src[l.pos] == '+' || l.src[l.pos] == '-') && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E'))) {
			l.pos++
		}
		kind = tokNumber
	default:
		l.pos++
	}
	return token{kind: kind, start: start, end: l.pos, text: l.src[start:l.pos]}, nil
}
