package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// ClickHouse error codes this server produces itself.
const (
	codeBadArguments          = 36
	codeSyntaxError           = 62
	codeUnknownSetting        = 115
	codeReadonly              = 164
	codeUnknownFormat         = 73
	codeCannotOpenFile        = 76
	codeSocketTimeout         = 209
	codeNetworkError          = 210
	codeNotImplemented        = 48
	codeIntoOutfileNotAllowed = 489
	codeUnknownExcetion       = 1002
)

// statusForCode maps an exception code to an HTTP status the way ClickHouse's
// HTTPHandler does (exceptionCodeToHTTPStatus), for the codes that matter
// here; everything else is 500.
func statusForCode(code int) int {
	switch code {
	case 6, 8, 15, 25, 26, 27, 36, 38, 41, 44, 53, 62, 69, 72, 117:
		return http.StatusBadRequest
	case 164, 497, 516:
		return http.StatusForbidden
	case 46, 47, 50, 56, 60, 63, 73, 81, 115:
		return http.StatusNotFound
	case 48:
		return http.StatusNotImplemented
	case 159:
		return http.StatusRequestTimeout
	case 76, 209:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// exception builds a ClickHouse-style error: "Code: N. DB::Exception: msg. (NAME)".
func exception(code int, name, format string, args ...any) *chdb.Error {
	msg := fmt.Sprintf(format, args...)
	return &chdb.Error{Code: code, Message: fmt.Sprintf("Code: %d. DB::Exception: %s. (%s)", code, strings.TrimSuffix(msg, "."), name)}
}

// asException turns any error into a *chdb.Error, keeping a chDB error as
// it is and classifying the rest.
func asException(err error) *chdb.Error {
	var ce *chdb.Error
	if errors.As(err, &ce) {
		return ce
	}
	var se *syntaxError
	if errors.As(err, &se) {
		return exception(codeSyntaxError, "SYNTAX_ERROR", "%s", se.Error())
	}
	return exception(codeUnknownExcetion, "UNKNOWN_EXCEPTION", "%s", err.Error())
}

// writeException sends an error response as a real server does before any
// result byte was written: non-200 status, the code in
// X-ClickHouse-Exception-Code, and the text plus version in the body.
// clickhouse-go builds a typed *clickhouse.Exception from these.
func (s *Server) writeException(w http.ResponseWriter, queryID string, err error) {
	ex := asException(err)
	body := ex.Message
	if !strings.Contains(body, "(version ") {
		body += fmt.Sprintf(" (version %s)", s.version)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ex.Code))
	if queryID != "" {
		h.Set("X-ClickHouse-Query-Id", queryID)
	}
	h.Set("X-ClickHouse-Server-Display-Name", s.displayName)
	w.WriteHeader(statusForCode(ex.Code))
	_, _ = w.Write([]byte(body + "\n"))
}
