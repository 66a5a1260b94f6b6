package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
)

func TestTranslate(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantHTTP int
		wantMsg  string
		check    func(t *testing.T, args map[string]any, info any)
	}{
		{
			name: "validation lists every violation in errorLocation",
			err: platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST, "2 problems", nil,
				platform.FieldViolation{Field: "TranDtls -> SupTyp", Description: "TranDtls -> SupTyp is invalid", Reason: "INVALID_ENUM"},
				platform.FieldViolation{Field: "ItemList[3] -> GstRt", Description: "ItemList[3] -> GstRt is not a valid GST rate", Reason: "INVALID_RATE"},
			).Err(),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "TranDtls -> SupTyp is invalid; ItemList[3] -> GstRt is not a valid GST rate", args["errorLocation"])
				require.Len(t, args["errors"], 2)
			},
		},
		{
			name:     "a body field the request does not have is named",
			err:      status.Error(codes.InvalidArgument, `proto: (line 1:2): unknown field "signedInvoice"`),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "signedInvoice is not a field of this request", args["errorLocation"])
				require.Equal(t, []map[string]string{{"field": "signedInvoice", "message": "signedInvoice is not a field of this request", "reason": "UNKNOWN_FIELD"}}, args["errors"])
			},
		},
		{
			name:     "a body value of the wrong type is named, without protojson's words",
			err:      status.Error(codes.InvalidArgument, "proto:\u00a0(line 1:84): invalid value for string field CnlRsn: 1"),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "CnlRsn must be a string, not a number", args["errorLocation"])
				require.Equal(t, []map[string]string{{"field": "CnlRsn", "message": "CnlRsn must be a string, not a number", "reason": "INVALID_TYPE"}}, args["errors"])
				require.Equal(t, "ERROR_REASON_INVALID_REQUEST", args["reason"])
				require.NotContains(t, args["detail"], "proto")
			},
		},
		{
			name:     "a body field given twice is named",
			err:      status.Error(codes.InvalidArgument, `proto: (line 1:20): duplicate field "irn"`),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, []map[string]string{{"field": "irn", "message": "irn is given more than once", "reason": "DUPLICATE_FIELD"}}, args["errors"])
			},
		},
		{
			name:     "a body that is not JSON says where",
			err:      status.Error(codes.InvalidArgument, `proto: syntax error (line 2:5): unexpected token }`),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "the request is not valid JSON at line 2, column 5", args["errorLocation"])
				require.Equal(t, "INVALID_JSON", args["errors"].([]map[string]string)[0]["reason"])
			},
		},
		{
			name:     "an enum value out of its set is named",
			err:      status.Error(codes.InvalidArgument, `proto: (line 1:9): invalid value for enum field irp: "NIC9"`),
			wantHTTP: http.StatusBadRequest,
			wantMsg:  "err-invalid-request-body",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, []map[string]string{{"field": "irp", "message": `irp must be one of its allowed values, not "NIC9"`, "reason": "INVALID_ENUM"}}, args["errors"])
			},
		},
		{
			name: "the database down is a 503 naming what the IRP did",
			err: platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE, "the IRP registered the document but irpgate's database is unavailable",
				map[string]string{"irn": "abc", "ack_no": "1126"}).Err(),
			wantHTTP: http.StatusServiceUnavailable,
			wantMsg:  "err-service-unavailable",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "ERROR_REASON_STORE_UNAVAILABLE", args["reason"])
				require.Equal(t, "abc", args["irn"])
				require.Equal(t, "1126", args["ack_no"])
			},
		},
		{
			name: "IRP error is a 502 with the IRP's details and info",
			err: platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_IRP_ERROR, "IRP refused", map[string]string{
				"irp_error_codes":   "2150",
				"irp_error_details": `[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]`,
				"irp_info_details":  `[{"InfCd":"DUPIRN","Desc":{"Irn":"abc"}}]`,
			}).Err(),
			wantHTTP: http.StatusBadGateway,
			wantMsg:  "err-irp-returned-error",
			check: func(t *testing.T, args map[string]any, info any) {
				require.Equal(t, []any{map[string]any{"ErrorCode": "2150", "ErrorMessage": "Duplicate IRN"}}, args["details"])
				require.Equal(t, "2150", args["irp_error_codes"])
				require.NotNil(t, info)
			},
		},
		{
			name:     "forbidden GSTIN is a 403",
			err:      platform.Status(codes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_GSTIN_NOT_ALLOWED, "caller may not act for 29AWGPV7107B1Z1", nil).Err(),
			wantHTTP: http.StatusForbidden,
			wantMsg:  "err-forbidden",
		},
		{
			name:     "idempotency key reuse is a 409",
			err:      platform.Status(codes.AlreadyExists, errorsv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED, "different body", nil).Err(),
			wantHTTP: http.StatusConflict,
			wantMsg:  "err-conflict",
		},
		{
			name:     "not built yet is a 501",
			err:      platform.Unimplemented("GetQrImage"),
			wantHTTP: http.StatusNotImplemented,
			wantMsg:  "err-not-implemented",
		},
		{
			name:     "outcome unknown is a 504",
			err:      platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN, "no answer", nil).Err(),
			wantHTTP: http.StatusGatewayTimeout,
			wantMsg:  "err-irp-outcome-unknown",
		},
		{
			name: "a signed answer that does not verify is a 502 naming the stored IRN",
			err: platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_SIGNATURE_INVALID, "did not verify",
				map[string]string{"irn": "abc"}).Err(),
			wantHTTP: http.StatusBadGateway,
			wantMsg:  "err-irp-signature-invalid",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "abc", args["irn"])
			},
		},
		{
			name: "the IRP limiting requests is a 429 saying when to come back",
			err: platform.WithRetryDelay(platform.Status(codes.ResourceExhausted, errorsv1.ErrorReason_ERROR_REASON_IRP_RATE_LIMITED, "slow down",
				map[string]string{"retry_after_seconds": "2"}), 1500*time.Millisecond).Err(),
			wantHTTP: http.StatusTooManyRequests,
			wantMsg:  "err-irp-rate-limited",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.Equal(t, "2", args["retry_after_seconds"])
			},
		},
		{
			name:     "internal errors do not leak their text",
			err:      platform.Status(codes.Internal, errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "db password is hunter2", nil).Err(),
			wantHTTP: http.StatusInternalServerError,
			wantMsg:  "err-internal",
			check: func(t *testing.T, args map[string]any, _ any) {
				require.NotContains(t, args, "detail")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := statusOf(tc.err)
			code, msg, _, args, info := translate(st)
			require.Equal(t, tc.wantHTTP, code)
			require.Equal(t, tc.wantMsg, msg)
			if tc.check != nil {
				tc.check(t, args, info)
			}
		})
	}
}

// RetryInfo on an error becomes the Retry-After header, in whole seconds rounded up.
func TestErrorHandlerSetsRetryAfter(t *testing.T) {
	err := platform.WithRetryDelay(platform.Status(codes.ResourceExhausted, errorsv1.ErrorReason_ERROR_REASON_IRP_RATE_LIMITED, "slow down", nil),
		1500*time.Millisecond).Err()
	w := httptest.NewRecorder()
	errorHandler(t.Context(), nil, nil, w, httptest.NewRequest(http.MethodPost, "/v1/einvoice/irn", nil), err)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "2", w.Header().Get("Retry-After"))

	w = httptest.NewRecorder()
	errorHandler(t.Context(), nil, nil, w, httptest.NewRequest(http.MethodPost, "/v1/einvoice/irn", nil),
		platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE, "down", nil).Err())
	require.Empty(t, w.Header().Get("Retry-After"), "no RetryInfo, no header")
}

// TestEveryErrorReasonIsDocumented: clients switch on ErrorInfo.reason, so docs/errors.md has a
// row for each one.
func TestEveryErrorReasonIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/errors.md")
	require.NoError(t, err)
	for n, name := range errorsv1.ErrorReason_name {
		if n == 0 {
			continue
		}
		row := "| " + strings.TrimPrefix(name, "ERROR_REASON_") + " |"
		require.Contains(t, string(doc), row, "docs/errors.md has no row %q", row)
	}
}
