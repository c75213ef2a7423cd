package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// maxQuerySize bounds a query read from the request body, like ClickHouse's
// max_query_size default (256 KiB); a request may raise it with the
// max_query_size setting, as on a real server. INSERT data after the query
// is not counted: it streams to chDB (see spool.go).
const maxQuerySize = 256 << 10

// maxQuerySize is the request's max_query_size setting, or the default.
func (req *request) maxQuerySize() int {
	if n, err := strconv.Atoi(req.settings["max_query_size"]); err == nil && n > 0 {
		return n
	}
	return maxQuerySize
}

// ServeHTTP routes like a real server's default handlers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping":
		s.writeOk(w, r)
	case "/", "":
		if r.Method == http.MethodGet && r.URL.RawQuery == "" {
			s.writeOk(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			s.writeException(w, "", exception(codeNotImplemented, "NOT_IMPLEMENTED", "HTTP method %s is not supported: use GET or POST", r.Method))
			return
		}
		s.handleQuery(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, "There is no handle %s\n\nUse / or /ping for health checks.\n", r.URL.Path)
	}
}

// writeOk answers health checks with "Ok.\n", exactly as ClickHouse does.
func (s *Server) writeOk(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", "4")
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, "Ok.\n")
	}
}

func newQueryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	req := parseRequest(r)
	queryID := req.queryID
	if queryID == "" {
		queryID = newQueryID()
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		s.writeException(w, queryID, exception(codeNotImplemented, "NOT_IMPLEMENTED", "external tables (multipart/form-data requests) are not supported by the embedded server"))
		return
	}

	var body io.Reader = http.NoBody
	if r.Method == http.MethodPost {
		r.Body = &idleTimeoutBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: req.receiveTimeout}
		decoded, cleanup, err := requestBody(r, req.decompressBody)
		if err != nil {
			s.writeException(w, queryID, exception(codeBadArguments, "BAD_ARGUMENTS", "%s", err.Error()))
			return
		}
		defer cleanup()
		body = decoded
	}

	st, data, err := readStatement(req, body)
	if err != nil {
		s.writeException(w, queryID, err)
		return
	}
	if st.ClientFile != "" {
		s.writeException(w, queryID, exception(codeIntoOutfileNotAllowed, "INTO_OUTFILE_NOT_ALLOWED", "%s is not allowed over HTTP: it would use files on the server", st.ClientFile))
		return
	}
	if req.readonly > 0 && !allowedReadonly(st.Keyword, req.readonly) {
		s.writeException(w, queryID, exception(codeReadonly, "READONLY", "Cannot execute query in readonly mode (readonly = %d): a %s statement modifies data or settings", req.readonly, st.Keyword))
		return
	}

	if st.Insert != nil {
		res, err := s.insert(req, st, data)
		if err != nil {
			s.writeException(w, queryID, err)
			return
		}
		defer res.Free()
		s.writeResult(w, r, req, st, res.Data, res, queryID)
		return
	}
	query := st.Text
	if req.clientRevision > 0 && isHelloQuery(query) && req.defaultFormat == "Native" && st.Format == "" {
		s.writeResult(w, r, req, st, helloBlock(req.clientRevision, s.displayName, s.version, s.timezone), nil, queryID)
		return
	}

	res, err := s.execute(req, st, query)
	if err != nil {
		s.writeException(w, queryID, err)
		return
	}
	defer res.Free()
	s.writeResult(w, r, req, st, res.Data, res, queryID)
}

// readStatement assembles the query from the query parameter and/or body,
// as ClickHouse does: with a query parameter the body continues it (for an
// INSERT, the body is the data); without one the body is the query. It
// returns the reader of an INSERT's data.
func readStatement(req *request, body io.Reader) (*statement, io.Reader, error) {
	text := req.query
	truncated := false
	if text == "" {
		prefix, more, err := readPrefix(body, req.maxQuerySize())
		if err != nil {
			return nil, nil, err
		}
		text, truncated = string(prefix), more
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil, exception(codeSyntaxError, "SYNTAX_ERROR", "Empty query")
	}
	st, err := scanStatement(text)
	if err != nil {
		return nil, nil, err
	}
	if st.Insert != nil {
		inline := strings.NewReader(text[st.Insert.DataOffset:])
		return st, io.MultiReader(inline, body), nil
	}
	if req.query != "" {
		extra, more, err := readPrefix(body, req.maxQuerySize()-len(text))
		if err != nil {
			return nil, nil, err
		}
		truncated = more
		if len(bytes.TrimSpace(extra)) > 0 {
			if st, err = scanStatement(text + "\n" + string(extra)); err != nil {
				return nil, nil, err
			}
		}
	}
	if truncated {
		return nil, nil, exception(codeSyntaxError, "SYNTAX_ERROR", "Max query size exceeded: a query (outside INSERT data) may be at most %d bytes", req.maxQuerySize())
	}
	return st, nil, nil
}

// readPrefix reads up to limit bytes and reports whether more followed.
func readPrefix(r io.Reader, limit int) ([]byte, bool, error) {
	if limit < 0 {
		limit = 0
	}
	buf, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, false, exception(codeNetworkError, "NETWORK_ERROR", "read request body: %v", err)
	}
	if len(buf) > limit {
		return buf[:limit], true, nil
	}
	return buf, false, nil
}

func allowedReadonly(keyword string, readonly int) bool {
	if readOnlyKeywords[keyword] || keyword == "USE" {
		return true
	}
	return readonly == 2 && keyword == "SET"
}

// withInfile rewrites the INSERT to read its data from path. FROM INFILE is
// handled by chDB's client layer exactly like inline data, so column lists,
// defaults and format settings behave as for a real INSERT ... FORMAT.
func (ins *insertStatement) withInfile(path string) (string, error) {
	if !settingNamePattern.MatchString(ins.Format) {
		return "", exception(codeUnknownFormat, "UNKNOWN_FORMAT", "Unknown input format %q", ins.Format)
	}
	var b strings.Builder
	b.WriteString(ins.Head)
	b.WriteString(" FROM INFILE ")
	b.WriteString(quoteString(path))
	if len(ins.Settings) > 0 {
		b.WriteString(" SETTINGS ")
		b.WriteString(strings.Join(ins.Settings, ", "))
	}
	b.WriteString(" FORMAT ")
	b.WriteString(ins.Format)
	return b.String(), nil
}

// execute runs the statement under the request's database and settings.
func (s *Server) execute(req *request, st *statement, query string) (*chdb.Result, error) {
	s.exec.Lock()
	defer s.exec.Unlock()
	if err := s.session.prepare(req.database, req.settings); err != nil {
		return nil, err
	}
	res, err := s.conn.Query(query, req.defaultFormat, req.params)
	s.session.afterStatement(st.Keyword)
	if sigs := chdb.RestoreSignals(); len(sigs) > 0 {
		s.log.Printf("chdb replaced the handlers of %v during a query; restored them", sigs)
	}
	if err != nil {
		var ce *chdb.Error
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, err
	}
	return res, nil
}
