package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// producesOutput reports whether a statement kind returns a result set.
func producesOutput(st *statement) bool {
	if st.Insert != nil {
		return false
	}
	switch st.Keyword {
	case "SELECT", "WITH", "(", "SHOW", "DESC", "DESCRIBE", "EXISTS", "EXPLAIN", "CHECK":
		return true
	}
	return st.Format != ""
}

// contentType mirrors the Content-Type ClickHouse sends for common formats.
func contentType(format string) string {
	f := strings.ToLower(format)
	switch {
	case strings.HasPrefix(f, "tabseparated"), strings.HasPrefix(f, "tsv"):
		return "text/tab-separated-values; charset=UTF-8"
	case strings.HasPrefix(f, "csv"):
		return "text/csv; charset=UTF-8; header=absent"
	case strings.HasPrefix(f, "json"):
		return "application/json; charset=UTF-8"
	case strings.HasPrefix(f, "pretty"), f == "vertical", f == "markdown":
		return "text/plain; charset=UTF-8"
	case f == "xml":
		return "application/xml; charset=UTF-8"
	}
	return "application/octet-stream"
}

// summary is the X-ClickHouse-Summary header; ClickHouse sends the numbers
// as strings.
func summary(res *chdb.Result, resultBytes int) string {
	if res == nil {
		res = &chdb.Result{}
	}
	b, _ := json.Marshal(map[string]string{
		"read_rows":          strconv.FormatUint(res.RowsRead, 10),
		"read_bytes":         strconv.FormatUint(res.BytesRead, 10),
		"written_rows":       strconv.FormatUint(res.RowsWritten, 10),
		"written_bytes":      strconv.FormatUint(res.BytesWritten, 10),
		"total_rows_to_read": "0",
		"result_rows":        "0",
		"result_bytes":       strconv.Itoa(resultBytes),
		"elapsed_ns":         strconv.FormatInt(int64(res.Elapsed*1e9), 10),
	})
	return string(b)
}

// writeResult sends a successful result, framed and encoded as requested.
// res supplies the statistics for the summary header and may be nil.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, req *request, st *statement, data []byte, res *chdb.Result, queryID string) {
	h := w.Header()
	h.Set("X-ClickHouse-Query-Id", queryID)
	h.Set("X-ClickHouse-Server-Display-Name", s.displayName)
	h.Set("X-ClickHouse-Timezone", s.timezone)
	h.Set("X-ClickHouse-Summary", summary(res, len(data)))
	format := st.Format
	if format == "" {
		format = req.defaultFormat
	}
	if producesOutput(st) {
		h.Set("X-ClickHouse-Format", format)
		h.Set("Content-Type", contentType(format))
	} else {
		h.Set("Content-Type", "text/plain; charset=UTF-8")
	}

	if len(data) == 0 {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}

	var method = req.blockMethod
	blockCompression, err := blockMethod(method)
	if req.compressResponse && err != nil {
		s.writeException(w, queryID, exception(codeBadArguments, "BAD_ARGUMENTS", "%s", err.Error()))
		return
	}

	var out io.Writer = w
	var closer io.Closer
	if enc := responseEncoding(r.Header.Get("Accept-Encoding")); req.httpCompression && enc != "" {
		ew, err := encodeWriter(w, enc, req.httpLevel)
		if err != nil {
			s.writeException(w, queryID, exception(codeBadArguments, "BAD_ARGUMENTS", "%s", err.Error()))
			return
		}
		h.Set("Content-Encoding", enc)
		out, closer = ew, ew
	} else if !req.compressResponse {
		h.Set("Content-Length", strconv.Itoa(len(data)))
	}
	w.WriteHeader(http.StatusOK)

	// Write errors mean the client went away; there is nobody to tell.
	if req.compressResponse {
		_ = writeBlocks(out, data, blockCompression, req.zstdLevel)
	} else {
		_, _ = out.Write(data)
	}
	if closer != nil {
		_ = closer.Close()
	}
}
