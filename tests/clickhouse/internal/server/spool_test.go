package server

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// These tests play chDB's part with plain file reads, to check the FIFO
// hand-over of spool.go without the engine.

func newFIFO(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "insert.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	return path
}

// runFeed runs feedWhile in the background and fails the test when it has
// not returned within a few seconds. On that failure it unblocks the feeder
// so the test binary does not keep a stuck goroutine.
func runFeed(t *testing.T, path string, data io.Reader, statement func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- feedWhile(path, data, statement) }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = r.Close()
		}
		t.Fatal("feedWhile has not returned after 5s: the feeder is stuck")
		return nil
	}
}

// brokenBody yields data, then fails like a connection that breaks off.
type brokenBody struct{ data io.Reader }

var errBrokeOff = errors.New("connection broke off")

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.data.Read(p)
	if err == io.EOF {
		return n, errBrokeOff
	}
	return n, err
}

func TestFeedWhileStatementFailsBeforeOpeningFIFO(t *testing.T) {
	// chDB fails before it opens the FIFO (unknown table, bad setting), and
	// the feeder reaches open(2) only after that: it must not wait there
	// for a reader forever.
	testHookBeforeFIFOOpen = func() { time.Sleep(100 * time.Millisecond) }
	t.Cleanup(func() { testHookBeforeFIFOOpen = nil })
	path := newFIFO(t)
	err := runFeed(t, path, bytes.NewReader(make([]byte, 4<<20)), func() {})
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("feeder returned %v, want EPIPE (nobody reads the FIFO)", err)
	}
}

func TestFeedWhileStatementStopsReading(t *testing.T) {
	path := newFIFO(t)
	err := runFeed(t, path, bytes.NewReader(make([]byte, 4<<20)), func() {
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("open FIFO: %v", err)
			return
		}
		_, _ = io.ReadFull(f, make([]byte, 1000))
		_ = f.Close()
	})
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("feeder returned %v, want EPIPE (the reader went away)", err)
	}
}

func TestFeedWhileDeliversTheBody(t *testing.T) {
	path := newFIFO(t)
	body := bytes.Repeat([]byte("0123456789\n\n"), 300_000)
	var got []byte
	err := runFeed(t, path, bytes.NewReader(body), func() {
		var rerr error
		if got, rerr = os.ReadFile(path); rerr != nil {
			t.Errorf("read FIFO: %v", rerr)
		}
	})
	if err != nil {
		t.Fatalf("feeder: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("reader got %d bytes, want the %d of the body", len(got), len(body))
	}
}

func TestFeedWhilePoisonsABrokenBody(t *testing.T) {
	path := newFIFO(t)
	body := []byte("a complete native block, as far as the reader can tell")
	var got []byte
	err := runFeed(t, path, &brokenBody{bytes.NewReader(body)}, func() {
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("open FIFO: %v", err)
			return
		}
		// Read well past the body, as chDB does while it parses the
		// poison, then give up as chDB does on the error.
		got = make([]byte, len(body)+200_000)
		_, err = io.ReadFull(f, got)
		_ = f.Close()
		if err != nil {
			t.Errorf("read FIFO: %v (the stream ended right after the broken body)", err)
		}
	})
	var be *bodyError
	if !errors.As(err, &be) || !errors.Is(be.err, errBrokeOff) {
		t.Fatalf("feeder returned %v, want the body's error", err)
	}
	if !bytes.Equal(got[:len(body)], body) {
		t.Fatalf("reader got %q first, want the body", got[:len(body)])
	}
	if rest := got[len(body):]; len(bytes.Trim(rest, "\xff")) != 0 {
		t.Fatalf("after the body came bytes other than 0xFF")
	}
}
