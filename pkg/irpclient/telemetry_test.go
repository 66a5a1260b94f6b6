package irpclient

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestSpansAndMetricsNameTheNICAPIAndErrorCodes(t *testing.T) {
	f := newFakeIRP(t)
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	c, ls := newTestClient(t, f.srv.URL, func(cfg *Config) {
		cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
	require.NoError(t, err)
	f.hook = func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
		if n == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"429","ErrorMessage":"slow down"}]}`))
			return true
		}
		_, _ = w.Write([]byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]}`))
		return true
	}
	_, err = c.GenerateIRN(t.Context(), testCreds.GSTIN, invoice)
	require.Equal(t, []string{"2150"}, Codes(err))

	attrs := map[string]map[attribute.Key]attribute.Value{}
	var httpSpans int
	for _, s := range spans.Ended() {
		m := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes() {
			m[a.Key] = a.Value
		}
		attrs[s.Name()] = m
		if s.Name() == "NIC GenerateIRN" {
			httpSpans++
		}
	}
	require.Equal(t, 2, httpSpans, "one otelhttp span per attempt")
	call := attrs["irp.GenerateIRN"]
	require.Equal(t, []string{"2150"}, call[attrErrorCodes].AsStringSlice())
	require.Equal(t, int64(1), call[attrRetryCount].AsInt64())
	require.Equal(t, NIC1, call[attrIRP].AsString())
	require.Equal(t, testCreds.GSTIN, call[attrGSTIN].AsString())

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	found := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			found[m.Name] = true
			if m.Name == "irpclient.call.errors" {
				sum := m.Data.(metricdata.Sum[int64])
				v, _ := sum.DataPoints[0].Attributes.Value(attrErrorCode)
				require.Equal(t, "2150", v.AsString())
			}
		}
	}
	require.True(t, found["irpclient.call.duration"])
	require.True(t, found["irpclient.call.errors"])
	require.True(t, found["irpclient.call.retries"])
}
