package einvoice

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/irpgate/irpgate/pkg/irpclient"
)

func TestIRPFailureTranslation(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		code     codes.Code
		reason   string
		metadata map[string]string
	}{
		{
			name: "Status 0 answer keeps the IRP's codes, details and InfoDtls (2150)",
			ctx:  t.Context(),
			err: &irpclient.Error{
				API: "GenerateIRN", IRP: "NIC1",
				Details: []irpclient.ErrorDetail{{Code: "2150", Message: "Duplicate IRN"}},
				Info:    []irpclient.Info{{Code: "DUPIRN", Raw: []byte(`{"AckNo":1,"AckDt":"2024-01-01 10:00:00","Irn":"ab"}`)}},
			},
			code: codes.FailedPrecondition, reason: "ERROR_REASON_IRP_ERROR",
			metadata: map[string]string{
				"irp_error_codes":   "2150",
				"irp_error_details": `[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]`,
				"irp_info_details":  `[{"InfCd":"DUPIRN","Desc":{"AckNo":1,"AckDt":"2024-01-01 10:00:00","Irn":"ab"}}]`,
				"irp":               "NIC1",
			},
		},
		{
			name: "a sent request without a readable answer is OUTCOME_UNKNOWN, never a failure",
			ctx:  t.Context(),
			err:  &irpclient.TransportError{API: "GenerateIRN", Sent: true, OutcomeUnknown: true, Err: errors.New("EOF")},
			code: codes.Unavailable, reason: "ERROR_REASON_OUTCOME_UNKNOWN",
		},
		{
			name: "a request that never reached the IRP is IRP_UNAVAILABLE",
			ctx:  t.Context(),
			err:  &irpclient.TransportError{API: "GetIRN", Err: errors.New("connection refused")},
			code: codes.Unavailable, reason: "ERROR_REASON_IRP_UNAVAILABLE",
		},
		{
			name: "an ended request context is DEADLINE_EXCEEDED",
			ctx:  cancelled,
			err:  context.Canceled,
			code: codes.DeadlineExceeded, reason: "ERROR_REASON_IRP_UNAVAILABLE",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(irpFailure(tt.ctx, tt.err))
			require.Equal(t, tt.code, st.Code())
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if d, ok := d.(*errdetails.ErrorInfo); ok {
					info = d
				}
			}
			require.NotNil(t, info)
			require.Equal(t, tt.reason, info.GetReason())
			require.Equal(t, "irpgate", info.GetDomain())
			for k, v := range tt.metadata {
				require.JSONEq(t, jsonish(v), jsonish(info.GetMetadata()[k]), k)
			}
		})
	}
}

// jsonish quotes plain strings so JSONEq compares both kinds of metadata values.
func jsonish(s string) string {
	if len(s) > 0 && (s[0] == '[' || s[0] == '{') {
		return s
	}
	return `"` + s + `"`
}
