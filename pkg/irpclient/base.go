package irpclient

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// exchanger performs one logical IRP exchange. The base exchanger speaks
// HTTP; the decorators (retry, sessions, metrics, tracing) wrap it.
type exchanger interface {
	exchange(ctx context.Context, r *request) (*response, error)
}

type requestKind int

const (
	kindCore      requestKind = iota // SEK-encrypted body and Data
	kindAuth                         // RSA body prepared by Authenticate; Data is an object
	kindEWBSystem                    // e-way-bill system: {"action","data"}, lower-case envelope
	kindPlain                        // no session, no encryption; NIC envelope (health)
	kindRaw                          // no session, no encryption, no envelope (sandbox verify)
)

// request describes one IRP API call.
type request struct {
	api          string // NIC API name: span name, metric attribute, error text
	method       string
	path         string
	query        url.Values
	irp          string
	gstin        string
	opts         callOptions
	kind         requestKind
	idempotent   bool   // reads and auth: retried after any transport failure
	needsSession bool   // the sessions decorator fills session
	payload      []byte // plaintext JSON (core/EWB), or the whole body (auth/plain)
	action       string // e-way-bill system action
	creds        *Credentials
	session      *Session

	attempts int // HTTP attempts made, across retries and the 1005 replay
	replayed bool
}

// response is a successful IRP answer with Data decrypted.
type response struct {
	httpStatus int
	data       []byte
	info       []Info
}

const maxResponseBytes = 64 << 20

// readAnswer reads an answer of at most maxResponseBytes. One that declares its length is
// read into a buffer of that size, where io.ReadAll would grow and copy its buffer about
// ten times for an IRN's answer (net/http holds the body to the declared length).
func readAnswer(hr *http.Response) ([]byte, error) {
	if n := hr.ContentLength; n >= 0 && n <= maxResponseBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(hr.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(hr.Body, maxResponseBytes))
}

type baseExchanger struct {
	http  *http.Client
	bases map[string]*url.URL
	log   *slog.Logger
}

type ctxKey int

const ctxKeyRequest ctxKey = iota

func requestFromContext(ctx context.Context) *request {
	r, _ := ctx.Value(ctxKeyRequest).(*request)
	return r
}

func (b *baseExchanger) exchange(ctx context.Context, r *request) (*response, error) {
	base, ok := b.bases[r.irp]
	if !ok {
		return nil, fmt.Errorf("irpclient: no base URL configured for IRP %q", r.irp)
	}
	body, err := encodeBody(r)
	if err != nil {
		return nil, err
	}
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + r.path
	u.RawPath = ""
	if strings.Contains(r.path, "%") {
		u.RawPath = strings.TrimRight(base.EscapedPath(), "/") + r.path
		if p, err := url.PathUnescape(u.RawPath); err == nil {
			u.Path = p
		}
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}

	var sent bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			sent = true
		}
	}}
	ctx = context.WithValue(httptrace.WithClientTrace(ctx, trace), ctxKeyRequest, r)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("irpclient: %s: build request: %w", r.api, err)
	}
	setHeaders(req.Header, r)

	start := time.Now()
	hr, err := b.http.Do(req)
	if err != nil {
		return nil, &TransportError{API: r.api, IRP: r.irp, Sent: sent, Err: scrubURLError(err)}
	}
	defer hr.Body.Close()
	raw, err := readAnswer(hr)
	if err != nil {
		return nil, &TransportError{API: r.api, IRP: r.irp, Sent: true, HTTPStatus: hr.StatusCode, Err: fmt.Errorf("read answer: %w", scrubURLError(err))}
	}
	b.log.DebugContext(ctx, "irp answer", slog.String("api", r.api), slog.String("irp", r.irp), slog.String("gstin", r.gstin),
		slog.Int("attempt", r.attempts), slog.Int("http_status", hr.StatusCode), slog.Duration("elapsed", time.Since(start)))
	resp, err := decodeResponse(r, hr.StatusCode, raw)
	if err != nil {
		if d, ok := parseRetryAfter(hr.Header.Get("Retry-After"), time.Now()); ok {
			var ie *Error
			var te *TransportError
			switch {
			case errors.As(err, &ie):
				ie.RetryAfter = d
			case errors.As(err, &te):
				te.RetryAfter = d
			}
		}
	}
	return resp, err
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 86400)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// scrubURLError drops the URL from *url.Error: it holds only paths and
// GSTINs, but the transport failure itself is what callers need.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

func encodeBody(r *request) ([]byte, error) {
	switch r.kind {
	case kindAuth, kindPlain, kindRaw:
		return r.payload, nil
	case kindCore:
		if r.payload == nil {
			return nil, nil
		}
		enc, err := encryptPayload(r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Data string `json:"Data"`
		}{enc})
	case kindEWBSystem:
		enc, err := encryptPayload(r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Action string `json:"action"`
			Data   string `json:"data"`
		}{r.action, enc})
	}
	return nil, fmt.Errorf("irpclient: unknown request kind %d", r.kind)
}

func encryptPayload(r *request) (string, error) {
	if r.session == nil || len(r.session.SEK) == 0 {
		return "", fmt.Errorf("irpclient: %s: no session", r.api)
	}
	enc, err := irpcrypto.EncryptB64(r.session.SEK, r.payload)
	if err != nil {
		return "", fmt.Errorf("irpclient: %s: encrypt with SEK: %w", r.api, err)
	}
	return enc, nil
}

func setHeaders(h http.Header, r *request) {
	h.Set("Accept", "application/json")
	if r.method != http.MethodGet {
		h.Set("Content-Type", "application/json")
	}
	// NIC's header names contain underscores; set them verbatim (not canonicalised).
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	gstin := r.gstin
	switch {
	case r.creds != nil:
		if gstin == "" {
			gstin = r.creds.GSTIN
		}
		set("client_id", r.creds.ClientID)
		set("client_secret", r.creds.ClientSecret)
		set("Gstin", gstin)
	case r.session != nil:
		s := r.session
		if gstin == "" {
			gstin = s.GSTIN
		}
		if r.kind == kindEWBSystem {
			// The e-way-bill system spells its headers in lower case with hyphens.
			set("client-id", s.ClientID)
			set("client-secret", s.ClientSecret)
			set("gstin", gstin)
			set("authtoken", s.AuthToken)
		}
		set("client_id", s.ClientID)
		set("client_secret", s.ClientSecret)
		set("Gstin", gstin)
		set("user_name", s.UserName)
		set("AuthToken", s.AuthToken)
	}
	set("sup_gstin", r.opts.supGSTIN)
	set("irp", r.opts.crissCross)
}

// decodeResponse turns an HTTP answer into a response, an *Error (IRP said
// no) or a *TransportError (answer unreadable).
func decodeResponse(r *request, status int, raw []byte) (*response, error) {
	unreadable := func(err error) error {
		return &TransportError{API: r.api, IRP: r.irp, Sent: true, HTTPStatus: status, Err: err}
	}
	if r.kind == kindRaw {
		if status >= 500 || status == http.StatusTooManyRequests {
			return nil, unreadable(errors.New(http.StatusText(status)))
		}
		return &response{httpStatus: status, data: raw}, nil
	}
	if r.kind == kindPlain && len(bytes.TrimSpace(raw)) > 0 && raw[0] != '{' {
		if status == http.StatusOK {
			return &response{httpStatus: status, data: raw}, nil
		}
		return nil, unreadable(fmt.Errorf("answer is not a NIC envelope"))
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		if r.kind == kindPlain && status == http.StatusOK {
			return &response{httpStatus: status, data: raw}, nil
		}
		if status != http.StatusOK {
			return nil, unreadable(errors.New(http.StatusText(status)))
		}
		return nil, unreadable(err)
	}
	if !env.OK {
		return nil, &Error{API: r.api, IRP: r.irp, HTTPStatus: status, Details: env.Details, Info: env.Info}
	}
	resp := &response{httpStatus: status, info: env.Info}
	if isNull(env.Data) {
		return resp, nil
	}
	switch r.kind {
	case kindAuth, kindPlain:
		resp.data, _ = unwrapStringJSON(env.Data, 1)
		if resp.data == nil {
			resp.data = env.Data
		}
		return resp, nil
	default:
		// kindCore and kindEWBSystem: Data is an encrypted string, decrypted below
		// (kindRaw answers have no envelope and were returned above).
	}
	data, ok := jsonString(env.Data)
	if !ok {
		return nil, unreadable(errors.New("the answer's Data is not a string"))
	}
	key := r.session.SEK
	if r.kind == kindEWBSystem && env.Rek != "" {
		// The e-way-bill system encrypts data with a random key (rek), itself
		// encrypted with the SEK, and signs base64(JSON) with HMAC(rek).
		rek, err := irpcrypto.DecryptB64(key, env.Rek)
		if err != nil {
			return nil, unreadable(fmt.Errorf("decrypt rek: %w", err))
		}
		key = rek
	}
	plain, err := irpcrypto.DecryptB64(key, data)
	if err != nil {
		return nil, unreadable(fmt.Errorf("decrypt Data: %w", err))
	}
	plain = bytes.TrimSpace(plain)
	if r.kind == kindEWBSystem && len(plain) > 0 && plain[0] != '{' && plain[0] != '[' {
		if dec, err := base64.StdEncoding.DecodeString(string(plain)); err == nil {
			if env.Hmac != "" && !validHMAC(key, plain, env.Hmac) {
				return nil, unreadable(errors.New("hmac mismatch"))
			}
			plain = dec
		}
	} else if r.kind == kindEWBSystem && env.Hmac != "" && env.Rek != "" {
		if !validHMAC(key, []byte(base64.StdEncoding.EncodeToString(plain)), env.Hmac) {
			return nil, unreadable(errors.New("hmac mismatch"))
		}
	}
	resp.data = plain
	return resp, nil
}

// jsonString reads a JSON string value. Base64 needs no escapes, so the
// common case is a slice; anything with a backslash goes through encoding/json.
func jsonString(raw json.RawMessage) (string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && bytes.IndexByte(t, '\\') < 0 {
		return string(t[1 : len(t)-1]), true
	}
	var s string
	if json.Unmarshal(t, &s) != nil {
		return "", false
	}
	return s, true
}

func validHMAC(key, msg []byte, want string) bool {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	got := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(got), []byte(want))
}

// newTransport returns the pooled transport used when Config.HTTPClient is nil:
// keep-alive connections per IRP host, bounded dial and TLS times, and no
// response-header timeout of its own (the call's context bounds it).
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}
