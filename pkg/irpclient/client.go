package irpclient

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// IRP is the one interface services code against; *Client implements it.
type IRP interface {
	Authenticate(ctx context.Context, cr Credentials, forceRefresh bool) (*Session, error)
	GenerateIRN(ctx context.Context, gstin string, invoiceJSON []byte, opts ...CallOption) (*IRNDetails, error)
	CancelIRN(ctx context.Context, gstin string, req CancelIRNRequest, opts ...CallOption) (*CancelIRNResult, error)
	GetIRN(ctx context.Context, gstin, irn string, opts ...CallOption) (*IRNDetails, error)
	GetIRNByDocument(ctx context.Context, gstin, docType, docNo, docDate string, opts ...CallOption) (*IRNDetails, error)
	GenerateEWB(ctx context.Context, gstin string, req GenerateEWBRequest, opts ...CallOption) (*EWBDetails, error)
	GetEWBByIRN(ctx context.Context, gstin, irn string, opts ...CallOption) (*EWBStatus, error)
	CancelEWB(ctx context.Context, gstin string, req CancelEWBRequest, opts ...CallOption) (*CancelEWBResult, error)
	GetGSTIN(ctx context.Context, gstin, target string, opts ...CallOption) (*GSTINDetails, error)
	SyncGSTIN(ctx context.Context, gstin, target string, opts ...CallOption) (*GSTINDetails, error)
	Health(ctx context.Context, irp string) error
}

var _ IRP = (*Client)(nil)

// Well-known IRP names; any other key of Config.BaseURLs works too.
const (
	NIC1    = "NIC1"
	NIC2    = "NIC2"
	Sandbox = "SANDBOX"
)

// Config configures a Client. Build one Client per process and share it.
type Config struct {
	// BaseURLs maps an IRP name ("NIC1", "NIC2", "SANDBOX", a private IRP) to
	// its base URL, onto which the NIC paths are appended.
	BaseURLs   map[string]string
	DefaultIRP string
	// PublicKeys holds each IRP's encryption public key (for Authenticate).
	PublicKeys map[string]*rsa.PublicKey
	// Sessions supplies sessions for every call but Authenticate and Health.
	Sessions SessionSource
	// HTTPClient is optional; its Transport is wrapped with otelhttp.
	HTTPClient *http.Client
	// MaxRetries is the number of retries after the first attempt where a
	// retry is safe: 0 means the default (3), a negative value disables them.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff (full
	// jitter). Defaults 200ms and 5s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// Timeout bounds a whole call (retries included) when the context has no
	// deadline. Default 60s, as india-compliance uses towards NIC.
	Timeout        time.Duration
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Logger receives debug lines per attempt (never a secret). Optional.
	Logger *slog.Logger
}

// Client speaks the NIC IRP protocol. It is safe for concurrent use.
type Client struct {
	cfg   Config
	bases map[string]*url.URL
	chain exchanger
	http  *http.Client
	log   *slog.Logger
	tel   *telemetry
}

// New builds a Client.
func New(cfg Config) (*Client, error) {
	if len(cfg.BaseURLs) == 0 {
		return nil, errors.New("irpclient: Config.BaseURLs is empty")
	}
	bases := make(map[string]*url.URL, len(cfg.BaseURLs))
	for name, raw := range cfg.BaseURLs {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("irpclient: base URL of %s is not an absolute URL", name)
		}
		bases[strings.ToUpper(name)] = u
	}
	if cfg.DefaultIRP == "" {
		if len(bases) != 1 {
			return nil, errors.New("irpclient: Config.DefaultIRP is required with several IRPs")
		}
		for name := range bases {
			cfg.DefaultIRP = name
		}
	}
	cfg.DefaultIRP = strings.ToUpper(cfg.DefaultIRP)
	if _, ok := bases[cfg.DefaultIRP]; !ok {
		return nil, fmt.Errorf("irpclient: DefaultIRP %s has no base URL", cfg.DefaultIRP)
	}
	keys := make(map[string]*rsa.PublicKey, len(cfg.PublicKeys))
	for name, k := range cfg.PublicKeys {
		keys[strings.ToUpper(name)] = k
	}
	cfg.PublicKeys = keys
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 3
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.RetryBaseDelay <= 0 {
		cfg.RetryBaseDelay = 200 * time.Millisecond
	}
	if cfg.RetryMaxDelay <= 0 {
		cfg.RetryMaxDelay = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tel, err := newTelemetry(cfg.TracerProvider, cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, bases: bases, log: log, tel: tel}
	c.http = instrumentHTTPClient(cfg.HTTPClient, tel)
	c.buildChain()
	return c, nil
}

// buildChain composes the exchangers; the order is the contract:
// tracing (whole call) → metrics → sessions (1005 replay) → retry → HTTP.
func (c *Client) buildChain() {
	var ex exchanger = &baseExchanger{http: c.http, bases: c.bases, log: c.log}
	ex = &retryExchanger{next: ex, max: c.cfg.MaxRetries, base: c.cfg.RetryBaseDelay, cap: c.cfg.RetryMaxDelay, log: c.log}
	ex = &sessionExchanger{next: ex, sessions: c.cfg.Sessions}
	ex = &metricsExchanger{next: ex, tel: c.tel}
	ex = &tracingExchanger{next: ex, tel: c.tel}
	c.chain = ex
}

// WithSessions returns a Client that shares c's configuration, connection
// pool and telemetry but takes sessions from src. It breaks the cycle of a
// SessionSource that itself authenticates through a Client:
//
//	c, _ := irpclient.New(cfg)
//	c = c.WithSessions(irpclient.NewLocalSessions(c, credsFor))
func (c *Client) WithSessions(src SessionSource) *Client {
	cp := *c
	cp.cfg.Sessions = src
	cp.buildChain()
	return &cp
}

// DefaultIRP is the IRP calls go to without WithIRP.
func (c *Client) DefaultIRP() string { return c.cfg.DefaultIRP }

// IRPs names the IRPs the client has a base URL for, sorted.
func (c *Client) IRPs() []string { return slices.Sorted(maps.Keys(c.bases)) }

func (c *Client) irpFor(o callOptions) string {
	if o.irp != "" {
		return strings.ToUpper(o.irp)
	}
	return c.cfg.DefaultIRP
}

func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	if _, ok := c.bases[r.irp]; !ok {
		return nil, fmt.Errorf("irpclient: no base URL configured for IRP %q", r.irp)
	}
	return c.chain.exchange(ctx, r)
}

// call runs a session-bearing IRP API and unmarshals the decrypted Data into out.
func (c *Client) call(ctx context.Context, r *request, out any) (*response, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if len(resp.data) == 0 {
			return nil, c.unreadable(r, resp, errors.New("success without Data"))
		}
		var err error
		if u, ok := out.(json.Unmarshaler); ok {
			// Skips json.Unmarshal's own validation pass; UnmarshalJSON validates.
			err = u.UnmarshalJSON(resp.data)
		} else {
			err = json.Unmarshal(resp.data, out)
		}
		if err != nil {
			return nil, c.unreadable(r, resp, fmt.Errorf("decode Data: %w", err))
		}
	}
	return resp, nil
}

// unreadable turns a success the client cannot read into a transport error;
// for a write, the IRP has acted, so its outcome is unknown to the caller.
func (c *Client) unreadable(r *request, resp *response, err error) error {
	return &TransportError{API: r.api, IRP: r.irp, Sent: true, HTTPStatus: resp.httpStatus, OutcomeUnknown: !r.idempotent, Err: err}
}

func (c *Client) coreRequest(api, method, path, gstin string, o callOptions, idempotent bool) *request {
	return &request{api: api, method: method, path: path, irp: c.irpFor(o), gstin: gstin, opts: o, kind: kindCore, idempotent: idempotent, needsSession: true}
}

// Paths of the NIC APIs (reference §2).
const (
	pathAuth        = "/eivital/v1.04/auth"
	pathInvoice     = "/eicore/v1.03/Invoice"
	pathCancel      = "/eicore/v1.03/Invoice/Cancel"
	pathGetIRN      = "/eicore/v1.03/Invoice/irn/"
	pathIRNByDoc    = "/eicore/v1.03/Invoice/irnbydocdetails"
	pathEWB         = "/eiewb/v1.03/ewaybill"
	pathEWBByIRN    = "/eiewb/v1.03/ewaybill/irn/"
	pathEWBSystem   = "/ewaybillapi/v1.03/ewayapi"
	pathGSTIN       = "/eivital/v1.03/Master/gstin/"
	pathSyncGSTIN   = "/eivital/v1.03/Master/syncgstin/"
	pathHealth      = "/eivital/v1.04/heartbeat/ping"
	tokenTimeLayout = "2006-01-02 15:04:05"
)

// IST is India Standard Time, the zone of every IRP timestamp.
var IST = time.FixedZone("IST", 5*3600+1800)

// GenerateIRN registers an invoice (schema v1.1 JSON, sent as is). A 2150
// answer comes back as *Error with DUPIRN info (see DuplicateIRN); an answer
// lost after sending comes back as ErrOutcomeUnknown, never retried here.
func (c *Client) GenerateIRN(ctx context.Context, gstin string, invoiceJSON []byte, opts ...CallOption) (*IRNDetails, error) {
	if !json.Valid(invoiceJSON) {
		return nil, errors.New("irpclient: GenerateIRN: invoice is not valid JSON")
	}
	r := c.coreRequest("GenerateIRN", http.MethodPost, pathInvoice, gstin, applyOptions(opts), false)
	r.payload = invoiceJSON
	return c.irnDetails(ctx, r)
}

// irnDetails runs r and returns the IRN details it answers, with the IRP's InfoDtls.
func (c *Client) irnDetails(ctx context.Context, r *request) (*IRNDetails, error) {
	var out IRNDetails
	resp, err := c.call(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	out.Info = resp.info
	return &out, nil
}

// CancelIRN cancels an IRN (within 24 h of AckDt, without an active EWB).
func (c *Client) CancelIRN(ctx context.Context, gstin string, req CancelIRNRequest, opts ...CallOption) (*CancelIRNResult, error) {
	r := c.coreRequest("CancelIRN", http.MethodPost, pathCancel, gstin, applyOptions(opts), false)
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r.payload = body
	var out struct{ Irn, CancelDate flexString }
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &CancelIRNResult{Irn: string(out.Irn), CancelDate: string(out.CancelDate)}, nil
}

// GetIRN reads an e-invoice by IRN (only its generator, within the IRP's window).
func (c *Client) GetIRN(ctx context.Context, gstin, irn string, opts ...CallOption) (*IRNDetails, error) {
	r := c.coreRequest("GetIRN", http.MethodGet, pathGetIRN+url.PathEscape(irn), gstin, applyOptions(opts), true)
	return c.irnDetails(ctx, r)
}

// GetIRNByDocument reads an e-invoice by document type, number and date (dd/MM/yyyy).
func (c *Client) GetIRNByDocument(ctx context.Context, gstin, docType, docNo, docDate string, opts ...CallOption) (*IRNDetails, error) {
	r := c.coreRequest("GetIRNByDocument", http.MethodGet, pathIRNByDoc, gstin, applyOptions(opts), true)
	r.query = url.Values{"doctype": {docType}, "docnum": {docNo}, "docdate": {docDate}}
	return c.irnDetails(ctx, r)
}

// GenerateEWB generates an e-way bill for an IRN. Like GenerateIRN, an
// answer lost after sending is ErrOutcomeUnknown (a retry would meet 4002).
func (c *Client) GenerateEWB(ctx context.Context, gstin string, req GenerateEWBRequest, opts ...CallOption) (*EWBDetails, error) {
	r := c.coreRequest("GenerateEWB", http.MethodPost, pathEWB, gstin, applyOptions(opts), false)
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r.payload = body
	var out EWBDetails
	resp, err := c.call(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	out.Info = resp.info
	return &out, nil
}

// GetEWBByIRN reads the e-way bill of an IRN.
func (c *Client) GetEWBByIRN(ctx context.Context, gstin, irn string, opts ...CallOption) (*EWBStatus, error) {
	r := c.coreRequest("GetEWBByIRN", http.MethodGet, pathEWBByIRN+url.PathEscape(irn), gstin, applyOptions(opts), true)
	var out EWBStatus
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelEWB cancels an e-way bill through the e-way-bill system API
// (action CANEWB), which the IRP sandbox also serves.
func (c *Client) CancelEWB(ctx context.Context, gstin string, req CancelEWBRequest, opts ...CallOption) (*CancelEWBResult, error) {
	r := c.coreRequest("CancelEWB", http.MethodPost, pathEWBSystem, gstin, applyOptions(opts), false)
	r.kind = kindEWBSystem
	r.action = "CANEWB"
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r.payload = body
	var out CancelEWBResult
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetGSTIN reads a taxpayer's details from the IRP's GSTIN master.
func (c *Client) GetGSTIN(ctx context.Context, gstin, target string, opts ...CallOption) (*GSTINDetails, error) {
	r := c.coreRequest("GetGSTIN", http.MethodGet, pathGSTIN+url.PathEscape(target), gstin, applyOptions(opts), true)
	var out GSTINDetails
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SyncGSTIN asks the IRP to refresh a taxpayer's details from the common portal.
func (c *Client) SyncGSTIN(ctx context.Context, gstin, target string, opts ...CallOption) (*GSTINDetails, error) {
	r := c.coreRequest("SyncGSTIN", http.MethodGet, pathSyncGSTIN+url.PathEscape(target), gstin, applyOptions(opts), true)
	var out GSTINDetails
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Health pings the IRP's heartbeat; nil means it answered with success.
func (c *Client) Health(ctx context.Context, irp string) error {
	if irp == "" {
		irp = c.cfg.DefaultIRP
	}
	r := &request{api: "Health", method: http.MethodGet, path: pathHealth, irp: strings.ToUpper(irp), kind: kindPlain, idempotent: true}
	_, err := c.do(ctx, r)
	return err
}
