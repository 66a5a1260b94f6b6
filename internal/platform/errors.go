package platform

import (
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every irpgate error.
const ErrorDomain = "irpgate"

// FieldViolation is one field-level problem of a request.
type FieldViolation struct {
	Field       string // NIC-style path, e.g. "TranDtls -> SupTyp"
	Description string
	Reason      string // our stable reason code
	NICCode     string // the IRP's ErrorCode, if any
}

// Status builds a gRPC status with an ErrorInfo (reason, domain irpgate,
// metadata) and, when violations are given, a BadRequest listing each one.
func Status(code codes.Code, reason errorsv1.ErrorReason, msg string, meta map[string]string, violations ...FieldViolation) *status.Status {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason.String(), Domain: ErrorDomain, Metadata: meta}}
	if len(violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field: v.Field, Description: v.Description, Reason: v.Reason,
			})
		}
		details = append(details, br)
	}
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st
	}
	return withDetails
}

// ReasonOf is the ErrorReason of an error built by Status, or UNSPECIFIED.
func ReasonOf(err error) errorsv1.ErrorReason {
	st, ok := status.FromError(err)
	if !ok {
		return errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return errorsv1.ErrorReason(errorsv1.ErrorReason_value[info.GetReason()])
		}
	}
	return errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED
}

// WithRetryDelay adds a google.rpc.RetryInfo to st: the caller should wait d
// before trying again. The gateway turns it into a Retry-After header.
func WithRetryDelay(st *status.Status, d time.Duration) *status.Status {
	withRetry, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	if err != nil {
		return st
	}
	return withRetry
}

// StoreRetryDelay is how long a caller is asked to wait after STORE_UNAVAILABLE.
const StoreRetryDelay = 5 * time.Second

// StoreUnavailable is the answer of every service whose database cannot take a request now
// (store.IsUnavailable): UNAVAILABLE, reason STORE_UNAVAILABLE, and a RetryInfo of
// StoreRetryDelay (Retry-After on REST).
func StoreUnavailable(msg string, meta map[string]string) error {
	return WithRetryDelay(Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_STORE_UNAVAILABLE, msg, meta),
		StoreRetryDelay).Err()
}

// Unimplemented is the answer of an RPC that is designed but not built yet.
func Unimplemented(rpc string) error {
	return Status(codes.Unimplemented, errorsv1.ErrorReason_ERROR_REASON_NOT_IMPLEMENTED,
		rpc+" is not implemented yet", nil).Err()
}
