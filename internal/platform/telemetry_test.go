package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/platform"
)

// Without an exporter spans are not recorded, but they have ids: logs still carry trace_id.
func TestTelemetryWithoutExporterKeepsTraceIDsInLogs(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tel, err := platform.NewTelemetry(t.Context(), platform.TelemetryOptions{ServiceName: "test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.WithoutCancel(t.Context())) })

	ctx, span := tel.Tracer.Tracer("test").Start(t.Context(), "op")
	defer span.End()
	require.False(t, span.IsRecording(), "nothing would read a recorded span")
	require.True(t, span.SpanContext().IsValid())

	var buf bytes.Buffer
	platform.NewLogger(&buf, slog.LevelInfo).InfoContext(ctx, "hello")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	require.Equal(t, span.SpanContext().TraceID().String(), line["trace_id"])
}
