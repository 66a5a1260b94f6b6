package irpclient

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/irpgate/irpgate/pkg/irpclient"

// Attribute keys on spans and metrics. None carries a secret.
const (
	attrAPI            = attribute.Key("irp.api")
	attrIRP            = attribute.Key("irp.name")
	attrGSTIN          = attribute.Key("irp.gstin")
	attrCrissCross     = attribute.Key("irp.criss_cross")
	attrSupGSTIN       = attribute.Key("irp.sup_gstin")
	attrAttempt        = attribute.Key("irp.attempt")
	attrRetryCount     = attribute.Key("irp.retry_count")
	attrReplayed       = attribute.Key("irp.session_replayed")
	attrErrorCodes     = attribute.Key("irp.error_codes")
	attrInfoCodes      = attribute.Key("irp.info_codes")
	attrOutcomeUnknown = attribute.Key("irp.outcome_unknown")
	attrOutcome        = attribute.Key("irp.outcome")
	attrErrorCode      = attribute.Key("irp.error_code")
)

type telemetry struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	tracer   trace.Tracer
	duration metric.Float64Histogram
	errors   metric.Int64Counter
	retries  metric.Int64Counter
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{tp: tp, mp: mp, tracer: tp.Tracer(instrumentationName)}
	return t, t.initMetrics()
}

// tracingExchanger opens one span per API call, named after the NIC API,
// around retries and the 1005 replay; otelhttp adds a child span per HTTP
// attempt.
type tracingExchanger struct {
	next exchanger
	tel  *telemetry
}

func (x *tracingExchanger) exchange(ctx context.Context, r *request) (*response, error) {
	attrs := []attribute.KeyValue{attrAPI.String(r.api), attrIRP.String(r.irp)}
	if r.gstin != "" {
		attrs = append(attrs, attrGSTIN.String(r.gstin))
	}
	if r.opts.crissCross != "" {
		attrs = append(attrs, attrCrissCross.String(r.opts.crissCross))
	}
	if r.opts.supGSTIN != "" {
		attrs = append(attrs, attrSupGSTIN.String(r.opts.supGSTIN))
	}
	ctx, span := x.tel.tracer.Start(ctx, "irp."+r.api, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	defer span.End()
	resp, err := x.next.exchange(ctx, r)
	span.SetAttributes(attrRetryCount.Int(max(r.attempts-1, 0)), attrReplayed.Bool(r.replayed))
	if resp != nil && len(resp.info) > 0 {
		span.SetAttributes(attrInfoCodes.StringSlice(infoCodes(resp.info)))
	}
	if err != nil {
		var ie *Error
		if errors.As(err, &ie) {
			span.SetAttributes(attrErrorCodes.StringSlice(ie.Codes()))
			if len(ie.Info) > 0 {
				span.SetAttributes(attrInfoCodes.StringSlice(infoCodes(ie.Info)))
			}
		}
		if IsOutcomeUnknown(err) {
			span.SetAttributes(attrOutcomeUnknown.Bool(true))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, outcomeOf(err))
	}
	return resp, err
}

func infoCodes(in []Info) []string {
	out := make([]string, 0, len(in))
	for _, i := range in {
		out = append(out, i.Code)
	}
	return out
}

// instrumentHTTPClient wraps the client's transport with otelhttp; a span
// per HTTP attempt named "NIC <API>". Header values (client secret,
// AuthToken) are never recorded by otelhttp.
func instrumentHTTPClient(hc *http.Client, tel *telemetry) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	inner := c.Transport
	if inner == nil {
		inner = newTransport()
	}
	c.Transport = otelhttp.NewTransport(attemptAttributes{inner},
		otelhttp.WithTracerProvider(tel.tp),
		otelhttp.WithMeterProvider(tel.mp),
		otelhttp.WithSpanNameFormatter(func(_ string, req *http.Request) string {
			if r := requestFromContext(req.Context()); r != nil {
				return "NIC " + r.api
			}
			return "NIC " + strings.ToUpper(req.Method)
		}),
	)
	return &c
}

// attemptAttributes runs inside otelhttp and labels its span.
type attemptAttributes struct{ next http.RoundTripper }

func (a attemptAttributes) RoundTrip(req *http.Request) (*http.Response, error) {
	if r := requestFromContext(req.Context()); r != nil {
		span := trace.SpanFromContext(req.Context())
		span.SetAttributes(attrAPI.String(r.api), attrIRP.String(r.irp), attrAttempt.Int(r.attempts))
		if r.gstin != "" {
			span.SetAttributes(attrGSTIN.String(r.gstin))
		}
	}
	return a.next.RoundTrip(req)
}
