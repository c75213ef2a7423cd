package server

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ClickHouse's HTTP interface has two unrelated kinds of compression:
//
//   - HTTP content coding (Content-Encoding / Accept-Encoding: gzip,
//     deflate, br, zstd, lz4), which clickhouse-go uses for gzip, deflate and
//     br. A response is only encoded when enable_http_compression=1, as on a
//     real server.
//   - ClickHouse's own compressed-block framing (checksum, method byte,
//     sizes, payload), asked for with decompress=1 for the request body and
//     compress=1 for the response; clickhouse-go uses it for lz4 and zstd.

// requestBody returns the request body with its content coding and, when
// decompress=1, ClickHouse block framing removed.
func requestBody(r *http.Request, decompressBlocks bool) (io.Reader, func(), error) {
	var body io.Reader = r.Body
	cleanup := func() {}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, cleanup, fmt.Errorf("read gzip request body: %w", err)
		}
		body = zr
	case "deflate":
		// ClickHouse (and clickhouse-go) mean the zlib format by "deflate".
		zr, err := zlib.NewReader(body)
		if err != nil {
			return nil, cleanup, fmt.Errorf("read deflate (zlib) request body: %w", err)
		}
		body = zr
	case "br":
		body = brotli.NewReader(body)
	case "zstd":
		zr, err := zstd.NewReader(body)
		if err != nil {
			return nil, cleanup, fmt.Errorf("read zstd request body: %w", err)
		}
		body = zr
		cleanup = zr.Close
	case "lz4":
		body = lz4.NewReader(body)
	default:
		return nil, cleanup, fmt.Errorf("unsupported Content-Encoding %q: expected gzip, deflate, br, zstd or lz4", enc)
	}
	if decompressBlocks {
		body = blockReader{compress.NewReader(body)}
	}
	return body, cleanup, nil
}

// blockReader turns ch-go's wrapped end-of-stream error back into io.EOF, so
// io.Copy stops cleanly after the last block. A block cut short still fails
// (io.ErrUnexpectedEOF is a different error).
type blockReader struct{ r io.Reader }

func (b blockReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// blockMethod parses network_compression_method as ClickHouse does (case
// insensitive, LZ4 when unset).
func blockMethod(name string) (compress.Method, error) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "", "LZ4":
		return compress.LZ4, nil
	case "LZ4HC":
		return compress.LZ4HC, nil
	case "ZSTD":
		return compress.ZSTD, nil
	case "NONE":
		return compress.None, nil
	}
	return 0, fmt.Errorf("unknown network_compression_method %q: expected LZ4, LZ4HC, ZSTD or NONE", name)
}

// blockSize is the uncompressed size of each framed block in a response;
// ClickHouse flushes its compressed write buffer at 1 MiB as well.
const blockSize = 1 << 20

// writeBlocks writes data in ClickHouse compressed-block framing.
func writeBlocks(w io.Writer, data []byte, method compress.Method, level int) error {
	lvl := compress.Level(0)
	if level > 0 {
		lvl = compress.Level(level)
	}
	cw := compress.NewWriter(lvl, method)
	for len(data) > 0 {
		n := min(len(data), blockSize)
		if err := cw.Compress(data[:n]); err != nil {
			return fmt.Errorf("compress response block: %w", err)
		}
		if _, err := w.Write(cw.Data); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// responseEncoding picks the first content coding in Accept-Encoding that is
// supported here, or "".
func responseEncoding(acceptEncoding string) string {
	for _, part := range strings.Split(acceptEncoding, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch name = strings.ToLower(strings.TrimSpace(name)); name {
		case "gzip", "deflate", "br", "zstd", "lz4":
			return name
		}
	}
	return ""
}

// encodeWriter wraps w in the named content coding. The returned closer
// must be called to flush it.
func encodeWriter(w io.Writer, enc string, level int) (io.WriteCloser, error) {
	switch enc {
	case "gzip":
		if level <= 0 || level > gzip.BestCompression {
			level = gzip.DefaultCompression
		}
		return gzip.NewWriterLevel(w, level)
	case "deflate":
		if level <= 0 || level > zlib.BestCompression {
			level = zlib.DefaultCompression
		}
		return zlib.NewWriterLevel(w, level)
	case "br":
		if level <= 0 {
			level = brotli.DefaultCompression
		}
		return brotli.NewWriterLevel(w, level), nil
	case "zstd":
		return zstd.NewWriter(w)
	case "lz4":
		return lz4.NewWriter(w), nil
	}
	return nil, fmt.Errorf("unsupported response encoding %q", enc)
}

// intParam parses an optional integer URL parameter.
func intParam(v string, def int) int {
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}
