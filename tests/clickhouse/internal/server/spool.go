package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/forma3d/meshmetrics/tests/clickhouse/internal/chdb"
)

// INSERT data never goes inline into the statement given to chDB: chDB cuts
// inline data at the first "\n\n", sometimes without an error. The INSERT
// is rewritten to read it with FROM INFILE instead, from one of:
//
//   - a FIFO, for Native (what clickhouse-go and the OpenTelemetry exporter
//     send): chDB parses while the body is still arriving, so receiving and
//     inserting overlap and nothing is stored twice. The price: the engine
//     is busy for as long as the body takes to arrive, which
//     http_receive_timeout bounds (see request.go);
//   - a file in the spool directory for every other format, written
//     completely before the statement runs: some formats need to seek, and
//     for text formats a body cut short at a row boundary could not be told
//     from a complete one.

// copyBufferSize is the chunk size for moving bodies (see copyBody); larger
// than io.Copy's 32 KiB to make fewer system calls on multi-megabyte
// batches.
const copyBufferSize = 1 << 20

// A Native stream that ends at a block boundary is complete as far as chDB
// can tell, so when a body breaks off, the end of the FIFO must not come
// there. The feeder writes 0xFF bytes instead, until chDB gives up and
// closes the FIFO. Each 0xFF byte continues a varint, so whatever chDB takes
// from them after the block they complete (a column count, a name's length,
// an array size) is far too large to be real and fails the statement; only
// the fixed-width rest of the block that broke off is consumed as values,
// and that block is never stored because the statement fails.
// poisonLimit stops the flood should chDB keep reading anyway; it would then
// see an end of data in the middle of whatever it is reading.
const poisonLimit = 1 << 30

var poisonChunk = bytes.Repeat([]byte{0xff}, 64<<10)

// testHookBeforeFIFOOpen, when set by a test, runs in the feeder just before
// it opens the FIFO.
var testHookBeforeFIFOOpen func()

// insert runs an INSERT that carries data.
func (s *Server) insert(req *request, st *statement, data io.Reader) (*chdb.Result, error) {
	if strings.EqualFold(st.Insert.Format, "Native") {
		return s.insertStreaming(req, st, data)
	}
	path, err := s.spoolFile(data)
	defer os.Remove(path)
	if err != nil {
		return nil, err
	}
	query, err := st.Insert.withInfile(path)
	if err != nil {
		return nil, err
	}
	return s.execute(req, st, query)
}

// spoolFile copies data to a new file in the spool directory.
func (s *Server) spoolFile(data io.Reader) (string, error) {
	path := s.spoolPath()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return path, exception(codeCannotOpenFile, "CANNOT_OPEN_FILE", "create insert spool file %s: %v", path, err)
	}
	readErr, writeErr := copyBody(f, data)
	closeErr := f.Close()
	if readErr != nil {
		return path, receiveError(readErr)
	}
	if err := errors.Join(writeErr, closeErr); err != nil {
		return path, exception(codeCannotOpenFile, "CANNOT_OPEN_FILE", "write insert spool file %s: %v", path, err)
	}
	return path, nil
}

// copyBody copies src to dst in copyBufferSize chunks and tells a failure
// to read src (the request body) from one to write dst.
func copyBody(dst io.Writer, src io.Reader) (readErr, writeErr error) {
	buf := make([]byte, copyBufferSize)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if rerr == io.EOF {
			return nil, nil
		}
		if rerr != nil {
			return rerr, nil
		}
	}
}

// receiveError reports a failure to receive the request body as ClickHouse
// does: SOCKET_TIMEOUT when the client sent nothing for
// http_receive_timeout, NETWORK_ERROR otherwise.
func receiveError(err error) *chdb.Error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return exception(codeSocketTimeout, "SOCKET_TIMEOUT", "Timeout exceeded while reading insert data from the client: nothing arrived within http_receive_timeout (%v)", err)
	}
	return exception(codeNetworkError, "NETWORK_ERROR", "receive insert data: %v", err)
}

// bodyError marks a failure to receive the request body, as opposed to the
// FIFO's reader (chDB) going away.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "receive insert data: " + e.err.Error() }

// insertStreaming feeds data to chDB through a FIFO while the statement runs.
func (s *Server) insertStreaming(req *request, st *statement, data io.Reader) (*chdb.Result, error) {
	path := s.spoolPath()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, exception(codeCannotOpenFile, "CANNOT_OPEN_FILE", "create insert FIFO %s: %v", path, err)
	}
	defer os.Remove(path)
	query, err := st.Insert.withInfile(path)
	if err != nil {
		return nil, err
	}

	var res *chdb.Result
	feedErr := feedWhile(path, data, func() { res, err = s.execute(req, st, query) })
	var be *bodyError
	if errors.As(feedErr, &be) {
		if err == nil {
			// The poison should have made this impossible.
			s.log.Printf("an INSERT succeeded although its body broke off (%v): %s", be.err, st.Insert.Head)
		}
		res.Free()
		return nil, receiveError(be.err)
	}
	return res, err
}

// feedWhile writes data into the FIFO at path while run reads it (or fails
// without reading it), and returns once both are done: the feeder's error,
// a *bodyError when data failed.
func feedWhile(path string, data io.Reader, run func()) error {
	fed := make(chan error, 1)
	go func() { fed <- feedFIFO(path, data) }()
	run()
	return awaitFeeder(path, fed)
}

// awaitFeeder waits for the feeder after the statement ended. When chDB
// failed before opening the FIFO, the feeder waits in open(2) for a reader
// that never comes, or is about to: so this side opens the FIFO for
// reading, which lets the feeder's open return, and closes it again, so
// that the feeder's next write fails with EPIPE. One such open can come
// before the feeder's, so it is repeated until the feeder has returned.
func awaitFeeder(path string, fed <-chan error) error {
	select {
	case err := <-fed:
		return err
	default:
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		r, openErr := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		var err error
		done := false
		select {
		case err = <-fed:
			done = true
		case <-tick.C:
		}
		if openErr == nil {
			_ = r.Close()
		}
		if done {
			return err
		}
	}
}

// feedFIFO writes data into the FIFO at path. When data fails, it poisons
// the stream so the INSERT cannot succeed on part of it.
func feedFIFO(path string, data io.Reader) error {
	if testHookBeforeFIFOOpen != nil {
		testHookBeforeFIFOOpen()
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open insert FIFO %s: %w", path, err)
	}
	defer f.Close()
	readErr, writeErr := copyBody(f, data)
	if writeErr != nil {
		// chDB stopped reading because the statement failed; its error is
		// the one to report. The unread rest of the body is net/http's to
		// discard.
		return writeErr
	}
	if readErr != nil {
		poison(f)
		return &bodyError{readErr}
	}
	return nil
}

// poison floods the FIFO with 0xFF bytes until chDB stops reading.
func poison(f *os.File) {
	for written := 0; written < poisonLimit; written += len(poisonChunk) {
		if _, err := f.Write(poisonChunk); err != nil {
			return
		}
	}
}
