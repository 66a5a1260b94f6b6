package irpclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func (t *telemetry) initMetrics() error {
	m := t.mp.Meter(instrumentationName)
	var err error
	if t.duration, err = m.Float64Histogram("irpclient.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of IRP API calls, retries included."),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)); err != nil {
		return fmt.Errorf("irpclient: metrics: %w", err)
	}
	if t.errors, err = m.Int64Counter("irpclient.call.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed IRP API calls by NIC error code (transport, outcome_unknown for failures without one).")); err != nil {
		return fmt.Errorf("irpclient: metrics: %w", err)
	}
	if t.retries, err = m.Int64Counter("irpclient.call.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("HTTP attempts beyond the first (retries and 1005 replays).")); err != nil {
		return fmt.Errorf("irpclient: metrics: %w", err)
	}
	return nil
}

// metricsExchanger records latency, errors by code and retries per API call.
type metricsExchanger struct {
	next exchanger
	tel  *telemetry
}

func (x *metricsExchanger) exchange(ctx context.Context, r *request) (*response, error) {
	start := time.Now()
	resp, err := x.next.exchange(ctx, r)
	base := []attribute.KeyValue{attrAPI.String(r.api), attrIRP.String(r.irp)}
	x.tel.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(append(base, attrOutcome.String(outcomeOf(err)))...))
	if r.attempts > 1 {
		x.tel.retries.Add(ctx, int64(r.attempts-1), metric.WithAttributes(base...))
	}
	if err != nil {
		for _, code := range errorCodesForMetrics(err) {
			x.tel.errors.Add(ctx, 1, metric.WithAttributes(append(base, attrErrorCode.String(code))...))
		}
	}
	return resp, err
}

// outcomeOf classifies a call result in a few stable words.
func outcomeOf(err error) string {
	var ie *Error
	var te *TransportError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ie):
		return "irp_error"
	case IsOutcomeUnknown(err):
		return "outcome_unknown"
	case errors.As(err, &te):
		return "transport"
	default:
		return "client"
	}
}

func errorCodesForMetrics(err error) []string {
	if codes := Codes(err); len(codes) > 0 {
		return codes
	}
	return []string{outcomeOf(err)}
}
