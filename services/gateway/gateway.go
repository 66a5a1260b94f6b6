package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/irpgate/irpgate/gen"
	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	ewaybillv1 "github.com/irpgate/irpgate/gen/go/irpgate/ewaybill/v1"
	gstinv1 "github.com/irpgate/irpgate/gen/go/irpgate/gstin/v1"
)

// Options configures the gateway.
type Options struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider // REST request metrics (http.server.*), by route
	Registry       *prometheus.Registry // served at /metrics when set
}

// forwardedHeaders are the request headers passed on to the services as
// gRPC metadata (lower-cased).
var forwardedHeaders = map[string]bool{
	"idempotency-key":   true,
	"x-api-key":         true,
	"x-request-id":      true,
	"x-response-format": true,
	"authorization":     true,
}

// Conns are the gateway's upstreams, one per service: a gRPC connection to
// the service, or this process's in-process channel when it runs the
// service. Either way every server interceptor and stats handler runs as it
// does for gRPC callers.
type Conns struct {
	Auth, EInvoice, EwayBill, Gstin grpc.ClientConnInterface
}

// New returns the REST handler.
func New(ctx context.Context, conns Conns, o Options) (http.Handler, error) {
	jsonpb := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: nicJSON{jsonpb}}),
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			h = strings.ToLower(h)
			return h, forwardedHeaders[h]
		}),
		// withRequestID has put the request's id on the answer already, and the services
		// echo that same id: passing their header on would write X-Request-Id twice.
		// Only a printout's file name passes, as Content-Disposition.
		runtime.WithOutgoingHeaderMatcher(func(k string) (string, bool) {
			if k == "content-disposition" { // einvoice.ContentDispositionKey
				return "Content-Disposition", true
			}
			return "", false
		}),
		// Answers carry their length rather than being chunked.
		runtime.WithWriteContentLength(),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			if r.Header.Get("X-Request-Id") == "" {
				// The gateway names the request when the caller did not, so
				// that logs and the answer agree on one id.
				id := requestIDFrom(r)
				return metadata.Pairs("x-request-id", id)
			}
			return nil
		}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		// X-Response-Format: v3 wraps successful answers too (errors: writeEnvelopeInfo).
		runtime.WithForwardResponseRewriter(v3Rewriter),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(conns.EInvoice)),
		// Document numbers may hold "/" (INV/2026-27/001): sent as %2F in a path
		// segment, it is decoded after routing.
		runtime.WithUnescapingMode(runtime.UnescapingModeAllCharacters),
		runtime.WithMiddlewares(routeLabel),
	)
	for _, err := range []error{
		authv1.RegisterAuthServiceHandlerClient(ctx, mux, authv1.NewAuthServiceClient(conns.Auth)),
		einvoicev1.RegisterEInvoiceServiceHandlerClient(ctx, mux, einvoicev1.NewEInvoiceServiceClient(conns.EInvoice)),
		ewaybillv1.RegisterEwayBillServiceHandlerClient(ctx, mux, ewaybillv1.NewEwayBillServiceClient(conns.EwayBill)),
		gstinv1.RegisterGstinServiceHandlerClient(ctx, mux, gstinv1.NewGstinServiceClient(conns.Gstin)),
	} {
		if err != nil {
			return nil, fmt.Errorf("gateway: register: %w", err)
		}
	}

	root := http.NewServeMux()
	root.Handle("/v1/", headAsGet(checkQuery(mux)))
	root.Handle(csvRoute, getOnly(irnsCSV(einvoicev1.NewEInvoiceServiceClient(conns.EInvoice))))
	root.Handle("/healthz", getOnly(headAsGet(mux)))
	root.Handle("/healthz/services", getOnly(readiness(map[string]grpc.ClientConnInterface{
		authv1.AuthService_ServiceDesc.ServiceName:         conns.Auth,
		einvoicev1.EInvoiceService_ServiceDesc.ServiceName: conns.EInvoice,
	})))
	doc, err := openAPI(gen.OpenAPI)
	if err != nil {
		return nil, err
	}
	root.Handle("/openapi.json", getOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})))
	if o.Registry != nil {
		root.Handle("/metrics", getOnly(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{DisableCompression: true})))
	}
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, r, http.StatusNotFound, "err-route-not-found", "ClientRequest", map[string]any{"path": r.URL.Path})
	})
	h, err := compression(limitBody(newAPIKeyExchanger(conns.Auth).wrap(root)))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return otelhttp.NewHandler(withRequestID(h), "gateway",
		otelhttp.WithTracerProvider(o.TracerProvider),
		otelhttp.WithMeterProvider(o.MeterProvider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }),
	), nil
}

// routeLabel names the request by its route's template (/v1/einvoice/irn/{irn}): the
// metrics' http.route, so they count requests per route and not per IRN, and the span's name
// and http.route, as OpenTelemetry's HTTP conventions ask.
func routeLabel(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pat, ok := runtime.HTTPPattern(r.Context()); ok {
			// The pattern writes a variable as {irn=*}; the route template is {irn}.
			nameRoute(r, strings.ReplaceAll(pat.String(), "=*}", "}"))
		}
		next(w, r, params)
	}
}

// checkQuery refuses a query string the route does not take (queryViolations), and an
// X-Response-Format other than v3, with a 400 in the envelope naming each parameter. Most
// requests carry neither and pass at no cost.
func checkQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var vs []fieldViolation
		detail := "the query string is invalid"
		if f := r.Header.Get("X-Response-Format"); f != "" && !wantsV3(r) {
			// A misspelt format would otherwise get the default shape, which the caller's
			// parser then fails on far from the cause.
			vs = append(vs, fieldViolation{
				"X-Response-Format", "INVALID_ENUM",
				"X-Response-Format must be v3 (the v3 shape) or left out (the default shape), not " + strconv.Quote(f),
			})
			detail = "the X-Response-Format header is invalid"
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			qvs := queryViolations(r.Method, r.URL.Path, q)
			if err != nil {
				qvs = append(qvs, fieldViolation{"", "INVALID_FORMAT", "the query string is not valid URL encoding: " + err.Error()})
			}
			if len(qvs) > 0 {
				vs, detail = append(vs, qvs...), "the query string is invalid"
			}
		}
		if len(vs) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		writeQueryViolations(w, r, detail, vs)
	})
}

// writeQueryViolations answers 400 in the envelope, naming every violation.
func writeQueryViolations(w http.ResponseWriter, r *http.Request, detail string, vs []fieldViolation) {
	locs := make([]string, len(vs))
	list := make([]map[string]string, len(vs))
	for i, v := range vs {
		locs[i] = v.Message
		list[i] = map[string]string{"field": v.Field, "message": v.Message, "reason": v.Reason}
	}
	writeEnvelope(w, r, http.StatusBadRequest, "err-invalid-request-body", "ClientRequest", map[string]any{
		"detail": detail, "errorLocation": strings.Join(locs, "; "), "errors": list,
		"reason": "ERROR_REASON_INVALID_REQUEST",
	})
}

// headAsGet answers HEAD as GET (RFC 9110 §9.3.2): the same status and headers, and
// net/http drops the body. grpc-gateway routes GET only, so probes and `curl -I` would
// otherwise get 405.
func headAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
		}
		h.ServeHTTP(w, r)
	})
}

// getOnly answers 405 (in the envelope, with Allow) to anything but GET and HEAD.
func getOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, "GET, HEAD")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// MaxBodyBytes caps a REST request body: the gRPC receive limit, so a body
// is refused alike whether the service runs in this process or behind a
// connection. A 1000-item invoice is about 1 MiB.
const MaxBodyBytes = 4 << 20

// limitBody answers 413 to a body declared larger than MaxBodyBytes and cuts
// off one that turns out larger while it is read (then a 400 names the limit).
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeEnvelope(w, r, http.StatusRequestEntityTooLarge, "err-request-too-large", "ClientRequest",
				map[string]any{"limitBytes": MaxBodyBytes})
			return
		}
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, MaxBodyBytes)}
		next.ServeHTTP(w, r)
	})
}

// limitedBody remembers that a body without a declared length ran over MaxBodyBytes, so
// the error handler answers 413, not the 400 of the decode error it causes.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if err != nil && errors.As(err, &tooLarge) {
		b.exceeded = true
	}
	return n, err
}

// bodyTooLarge reports whether r's body ran over MaxBodyBytes.
func bodyTooLarge(r *http.Request) bool {
	b, ok := r.Body.(*limitedBody)
	return ok && b.exceeded
}

type ridKey struct{}

// withRequestID gives every request an id (the caller's X-Request-Id or a
// new one) and puts it on every response, errors included.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newID()
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), ridKey{}, id)
		if wantsV3(r) {
			ctx = context.WithValue(ctx, v3Key{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func requestIDFrom(r *http.Request) string {
	if id, ok := r.Context().Value(ridKey{}).(string); ok {
		return id
	}
	return newID()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // errorLocation reads "TranDtls -> SupTyp", not "-\u003e"
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
