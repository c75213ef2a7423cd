// Package chdb is a minimal run-time binding to chDB (ClickHouse as a shared
// library). It loads libchdb.so with dlopen, so packages importing it build
// and vet without the library installed.
//
// chDB allows one connection per process and runs statements one at a time;
// Conn serializes calls with a mutex so callers need not.
package chdb

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// Load resolves libchdb.so at path. Only the first call has an effect: a
// process can hold one copy of the engine.
func Load(path string) error {
	loadOnce.Do(func() {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		if msg := C.shim_load(cpath); msg != nil {
			loadErr = fmt.Errorf("load chdb library: %s", C.GoString(msg))
		}
	})
	return loadErr
}

// Conn is the process's single chDB session.
type Conn struct {
	mu     sync.Mutex
	handle unsafe.Pointer
}

// ErrConnect is returned when chDB refuses to open the data directory.
var ErrConnect = errors.New("chdb refused the connection")

// Connect opens a chDB session on dataDir (created if missing). Load must
// have succeeded first.
//
// chDB installs handlers for fatal signals while connecting. The Go runtime
// relies on its own handlers for those (nil dereferences become panics,
// SIGURG drives preemption), so the dispositions are saved before and put
// back after.
func Connect(dataDir string) (*Conn, error) {
	if loadErr != nil {
		return nil, loadErr
	}
	args := []string{"meshmetrics-clickhouse", "--path=" + dataDir}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	C.shim_save_signals()
	C.shim_disable_signal_handlers()
	h := C.shim_connect(C.int(len(args)), (**C.char)(unsafe.Pointer(&argv[0])))
	C.shim_restore_signals()
	if h == nil {
		return nil, fmt.Errorf("%w on data directory %s", ErrConnect, dataDir)
	}
	return &Conn{handle: h}, nil
}

// Close ends the session. The Conn must not be used afterwards.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.shim_close(c.handle)
		C.shim_restore_signals()
		c.handle = nil
	}
}

// Param is one named query parameter, bound to a {name:Type} placeholder.
// Value is in ClickHouse's escaped text form, as in the HTTP param_ options.
type Param struct {
	Name, Value string
}

// Result is the materialized output of one statement. Data aliases memory
// owned by chDB: it is valid until Free.
type Result struct {
	res          unsafe.Pointer
	Data         []byte
	RowsRead     uint64
	BytesRead    uint64
	RowsWritten  uint64
	BytesWritten uint64
	Elapsed      float64
}

// Free releases the result's memory. Safe on a nil Result and twice.
func (r *Result) Free() {
	if r == nil || r.res == nil {
		return
	}
	C.shim_destroy(r.res)
	r.res = nil
	r.Data = nil
}

// Error is a failed statement, with the ClickHouse error code parsed from
// chDB's message ("Code: 60. DB::Exception: ...").
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

var codePattern = regexp.MustCompile(`Code: (\d+)\.`)

// codeUnknownException is what ClickHouse reports (STD_EXCEPTION would be
// 1001) when an error carries no code.
const codeUnknownException = 1002

func parseError(msg string) *Error {
	code := codeUnknownException
	if m := codePattern.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			code = n
		}
	}
	msg = strings.TrimSpace(msg)
	// Errors raised while chDB's client layer reads an INFILE come wrapped
	// twice ("Code: 27. DB::Exception: Code: 27. DB::Exception: ...");
	// report them once, as a server would.
	prefix := fmt.Sprintf("Code: %d. DB::Exception: ", code)
	for strings.HasPrefix(msg, prefix+prefix) {
		msg = msg[len(prefix):]
	}
	if suffix := fmt.Sprintf(". (%s)", errorName(msg)); strings.Count(msg, suffix) > 1 && strings.HasSuffix(msg, suffix) {
		msg = strings.TrimSuffix(msg, suffix)
	}
	return &Error{Code: code, Message: msg}
}

var namePattern = regexp.MustCompile(`\(([A-Z][A-Z0-9_]+)\)$`)

// errorName is the trailing "(NAME)" of a ClickHouse message, or "".
func errorName(msg string) string {
	if m := namePattern.FindStringSubmatch(strings.TrimSpace(msg)); m != nil {
		return m[1]
	}
	return ""
}

// Query runs one statement. format is the output format used when the
// statement has no FORMAT clause of its own. On failure the error is an
// *Error.
func (c *Conn) Query(query, format string, params []Param) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return nil, &Error{Code: codeUnknownException, Message: "chdb connection is closed"}
	}
	q := C.CString(query)
	defer C.free(unsafe.Pointer(q))
	f := C.CString(format)
	defer C.free(unsafe.Pointer(f))

	var res unsafe.Pointer
	if len(params) == 0 {
		res = C.shim_query(c.handle, q, C.size_t(len(query)), f, C.size_t(len(format)))
	} else {
		res = c.queryParams(q, len(query), f, len(format), params)
	}
	if res == nil {
		return nil, &Error{Code: codeUnknownException, Message: "chdb returned no result"}
	}
	if e := C.shim_result_error(res); e != nil {
		msg := C.GoString(e)
		C.shim_destroy(res)
		return nil, parseError(msg)
	}
	r := &Result{
		res:          res,
		RowsRead:     uint64(C.shim_result_rows_read(res)),
		BytesRead:    uint64(C.shim_result_bytes_read(res)),
		RowsWritten:  uint64(C.shim_result_rows_written(res)),
		BytesWritten: uint64(C.shim_result_bytes_written(res)),
		Elapsed:      float64(C.shim_result_elapsed(res)),
	}
	if n := C.shim_result_length(res); n > 0 {
		r.Data = unsafe.Slice((*byte)(unsafe.Pointer(C.shim_result_buffer(res))), int(n))
	}
	return r, nil
}

func (c *Conn) queryParams(q *C.char, qlen int, f *C.char, flen int, params []Param) unsafe.Pointer {
	n := len(params)
	// The pointer arrays live in C memory: cgo forbids passing Go memory that
	// itself holds Go pointers.
	ptrSize := C.size_t(unsafe.Sizeof(uintptr(0)))
	names := unsafe.Slice((**C.char)(C.malloc(C.size_t(n)*ptrSize)), n)
	values := unsafe.Slice((**C.char)(C.malloc(C.size_t(n)*ptrSize)), n)
	lens := unsafe.Slice((*C.size_t)(C.malloc(C.size_t(n)*C.size_t(unsafe.Sizeof(C.size_t(0))))), n)
	defer func() {
		for i := 0; i < n; i++ {
			C.free(unsafe.Pointer(names[i]))
			C.free(unsafe.Pointer(values[i]))
		}
		C.free(unsafe.Pointer(&names[0]))
		C.free(unsafe.Pointer(&values[0]))
		C.free(unsafe.Pointer(&lens[0]))
	}()
	for i, p := range params {
		names[i] = C.CString(p.Name)
		// One extra byte so an empty value still gets a valid pointer.
		values[i] = (*C.char)(C.CBytes(append([]byte(p.Value), 0)))
		lens[i] = C.size_t(len(p.Value))
	}
	return C.shim_query_params(c.handle, q, C.size_t(qlen), f, C.size_t(flen),
		(**C.char)(unsafe.Pointer(&names[0])), (**C.char)(unsafe.Pointer(&values[0])),
		(*C.size_t)(unsafe.Pointer(&lens[0])), C.size_t(n))
}

// RestoreSignals puts back the Go runtime's signal handlers if chDB replaced
// them again (it may do so lazily, on a first query). It returns the signals
// it had to restore.
func RestoreSignals() []syscall.Signal {
	mask := uint64(C.shim_restore_signals())
	var out []syscall.Signal
	for n := 1; n < 64; n++ {
		if mask&(1<<n) != 0 {
			out = append(out, syscall.Signal(n))
		}
	}
	return out
}
