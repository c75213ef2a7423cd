package server

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// request is a query request's URL parameters, sorted into what the HTTP
// layer handles itself and the settings passed on to chDB.
type request struct {
	query         string
	database      string
	defaultFormat string
	queryID       string
	// clientRevision is client_protocol_version: the Native layout the
	// client expects (see native.go); 0 when not sent.
	clientRevision uint64
	// compressResponse / decompressBody ask for ClickHouse block framing.
	compressResponse bool
	decompressBody   bool
	blockMethod      string
	zstdLevel        int
	// httpCompression (enable_http_compression=1) allows a content-coded
	// response when the client accepts one.
	httpCompression bool
	httpLevel       int
	// readonly is 0, 1 or 2 as in ClickHouse; a GET request is at least 2.
	readonly int
	// receiveTimeout (http_receive_timeout) is how long the body may go
	// without a byte arriving.
	receiveTimeout time.Duration
	settings       map[string]string
	params         []chdb.Param
}

// handledParams are URL parameters that are not settings for the engine:
// the HTTP interface's own, and settings this server implements itself.
var handledParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "query_id": true,
	"client_protocol_version": true, "compress": true, "decompress": true,
	"user": true, "password": true, "quota_key": true, "role": true,
	"session_id": true, "session_timeout": true, "session_check": true, "close_session": true,
	"buffer_size": true, "wait_end_of_query": true, "stacktrace": true,
	"enable_http_compression": true, "http_zlib_compression_level": true,
	"http_native_compression_disable_checksumming_on_decompress": true,
	"send_progress_in_http_headers":                              true, "http_headers_progress_interval_ms": true,
	"network_compression_method": true, "network_zstd_compression_level": true,
	"readonly": true, "client_info_product": true, "http_receive_timeout": true,
}

// defaultReceiveTimeout is ClickHouse's default http_receive_timeout.
const defaultReceiveTimeout = 30 * time.Second

func parseRequest(r *http.Request) *request {
	params := r.URL.Query()
	req := &request{
		query:            params.Get("query"),
		database:         params.Get("database"),
		defaultFormat:    params.Get("default_format"),
		queryID:          params.Get("query_id"),
		clientRevision:   parseRevision(params.Get("client_protocol_version")),
		compressResponse: truthy(params.Get("compress")),
		decompressBody:   truthy(params.Get("decompress")),
		blockMethod:      params.Get("network_compression_method"),
		zstdLevel:        intParam(params.Get("network_zstd_compression_level"), 1),
		httpCompression:  truthy(params.Get("enable_http_compression")),
		httpLevel:        intParam(params.Get("http_zlib_compression_level"), 3),
		readonly:         intParam(params.Get("readonly"), 0),
		receiveTimeout:   secondsParam(params.Get("http_receive_timeout"), defaultReceiveTimeout),
		settings:         map[string]string{},
	}
	if req.database == "" {
		req.database = r.Header.Get("X-ClickHouse-Database")
	}
	if req.defaultFormat == "" {
		req.defaultFormat = r.Header.Get("X-ClickHouse-Format")
	}
	if req.defaultFormat == "" {
		req.defaultFormat = "TabSeparated"
	}
	if r.Method == http.MethodGet && req.readonly == 0 {
		// As on a real server: GET cannot modify data, but may set settings.
		req.readonly = 2
	}
	for name, values := range params {
		value := values[len(values)-1]
		switch {
		case handledParams[name], asyncInsertSetting(name), isExternalTableParam(name, params):
		case strings.HasPrefix(name, "param_"):
			req.params = append(req.params, chdb.Param{Name: strings.TrimPrefix(name, "param_"), Value: value})
		default:
			req.settings[name] = value
		}
	}
	return req
}

// isExternalTableParam recognizes <table>_format / _structure / _types, which
// describe external tables sent as multipart form files.
func isExternalTableParam(name string, params url.Values) bool {
	for _, suffix := range []string{"_format", "_structure", "_types"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && base != "" && (params.Has(base+"_structure") || params.Has(base+"_types")) {
			return true
		}
	}
	return false
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// secondsParam parses a duration setting given in (possibly fractional)
// seconds; a missing, malformed or non-positive value means def.
func secondsParam(v string, def time.Duration) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f <= 0 || f > 1e6 {
		return def
	}
	return time.Duration(f * float64(time.Second))
}

// idleTimeoutBody is a request body whose every Read must see data within
// timeout, like ClickHouse's http_receive_timeout. Without it a client that
// stops sending in the middle of a Native INSERT would hold the engine,
// which reads the body as it arrives, indefinitely.
type idleTimeoutBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	// ended is set once a Read failed or hit EOF. net/http then watches the
	// connection with a background read, which a new deadline would break.
	ended bool
}

func (b *idleTimeoutBody) Read(p []byte) (int, error) {
	if !b.ended {
		// Not every connection supports deadlines; the body is then read
		// without one.
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.ended = true
	}
	return n, err
}
