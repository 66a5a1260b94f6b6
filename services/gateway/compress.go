package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
)

// CompressMinBytes is the smallest answer the gateway compresses. Below it an answer goes out
// in the first flight of TCP segments anyway, so compressing it costs both sides CPU and saves
// the caller no time; a signed invoice of a few dozen lines is larger.
const CompressMinBytes = 8 << 10

// compression compresses answers of CompressMinBytes or more with gzip or zstd, whichever the
// caller's Accept-Encoding prefers, and takes request bodies sent with Content-Encoding: gzip
// (decompressBody).
func compression(next http.Handler) (http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(CompressMinBytes))
	if err != nil {
		return nil, err
	}
	return wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if decompressBody(w, r) {
			next.ServeHTTP(w, r)
		}
	})), nil
}

// decompressBody replaces a gzip body (Content-Encoding: gzip) by its decompressed bytes, so
// that the 4 MiB limit counts what is decoded. It answers 400 to a body that is not the gzip it
// says it is, and 415 naming the header to any other coding (instead of handing the decoder
// bytes that are not JSON), and then reports false.
func decompressBody(w http.ResponseWriter, r *http.Request) bool {
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity":
		return true
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			msg := "the body is not gzip, as Content-Encoding: gzip says: " + err.Error()
			writeEnvelope(w, r, http.StatusBadRequest, "err-invalid-request-body", "ClientRequest", map[string]any{
				"detail": msg, "errorLocation": msg, "reason": "ERROR_REASON_INVALID_REQUEST",
				"errors": []map[string]string{{"field": "Content-Encoding", "message": msg, "reason": "INVALID_FORMAT"}},
			})
			return false
		}
		r.Body = &gzipBody{zr: zr, body: r.Body}
		r.ContentLength = -1 // the declared length was the compressed one
		r.Header.Del("Content-Encoding")
		return true
	default:
		writeEnvelope(w, r, http.StatusUnsupportedMediaType, "err-unsupported-content-encoding", "ClientRequest",
			map[string]any{
				"detail":          "Content-Encoding " + ce + " is not supported: send the body as is or with gzip",
				"contentEncoding": ce, "supported": []string{"gzip", "identity"},
			})
		return false
	}
}

// gzipCorrupt begins the read error of a gzip body that does not decompress; decodeViolation
// names Content-Encoding for it.
const gzipCorrupt = "the gzip body is corrupt"

// gzipBody is a request body being decompressed; it says so in a read error.
type gzipBody struct {
	zr   *gzip.Reader
	body io.ReadCloser
}

func (b *gzipBody) Read(p []byte) (int, error) {
	n, err := b.zr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			err = fmt.Errorf("%s: %w", gzipCorrupt, err)
		}
	}
	return n, err
}

func (b *gzipBody) Close() error { return b.body.Close() }
