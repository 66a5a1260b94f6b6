package platform

import (
	"context"
	"errors"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry holds the process's tracer and meter providers and the
// Prometheus registry behind /metrics.
type Telemetry struct {
	Tracer   trace.TracerProvider
	Meter    metric.MeterProvider
	Registry *prometheus.Registry
	shutdown []func(context.Context) error
}

// TelemetryOptions lets tests inject an in-memory span exporter.
type TelemetryOptions struct {
	ServiceName  string
	SpanExporter sdktrace.SpanExporter // overrides OTLP when set
}

// NewTelemetry builds the providers. Spans are exported over OTLP/gRPC when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, or to SpanExporter when given. With
// neither, spans are not recorded (nobody would read them) but still get
// trace and span ids, so logs carry trace_id and traceparent is passed on.
func NewTelemetry(ctx context.Context, o TelemetryOptions) (*Telemetry, error) {
	res := resource.NewSchemaless(semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(BuildInfo().Version))
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch {
	case o.SpanExporter != nil:
		tpOpts = append(tpOpts, sdktrace.WithSyncer(o.SpanExporter))
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	default:
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector()) // go_build_info{path,version,checksum}: which build each replica runs
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(promExp), sdkmetric.WithResource(res))

	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Telemetry{
		Tracer:   tp,
		Meter:    mp,
		Registry: reg,
		shutdown: []func(context.Context) error{mp.Shutdown, tp.Shutdown},
	}, nil
}

// Shutdown flushes and stops the providers; call it last.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
