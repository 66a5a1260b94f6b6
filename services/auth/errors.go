package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// errCredentialsMissing: no credentials are registered for a GSTIN and IRP.
var errCredentialsMissing = errors.New("auth: no IRP credentials registered")

// invalidArgument names the field and the rule it breaks (reason: pkg/einvoice's
// vocabulary, docs/errors.md).
func invalidArgument(field, reason, msg string) error {
	return platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST, msg, nil,
		platform.FieldViolation{Field: field, Reason: reason, Description: msg}).Err()
}

func notFound(what string) error {
	return platform.Status(codes.NotFound, errorsv1.ErrorReason_ERROR_REASON_NOT_FOUND, what+" not found", nil).Err()
}

// internal logs err (which never carries a secret: the vault's errors name
// keys and columns, not values) and answers with a generic message.
func internal(ctx context.Context, s *Service, what string, err error) error {
	s.log.ErrorContext(ctx, "auth: "+what+" failed", "error", err.Error())
	if store.IsUnavailable(err) {
		return platform.StoreUnavailable("irpgate's database is unavailable; send the request again later", nil)
	}
	return platform.Status(codes.Internal, errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "internal error", nil).Err()
}

// sessionError translates the failure to obtain an IRP session.
func sessionError(ctx context.Context, s *Service, gstin, irp string, err error) error {
	meta := map[string]string{"gstin": gstin, "irp": irp}
	var ie *irpclient.Error
	switch {
	case errors.Is(err, errCredentialsMissing):
		return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_CREDENTIALS_MISSING,
			"no IRP credentials are registered for "+gstin+" on "+irp+
				"; an admin registers them with AuthService.RegisterCredential (POST /v1/auth/credentials)", meta).Err()
	case errors.As(err, &ie):
		meta["irp_error_code"] = strings.Join(ie.Codes(), ",")
		msg := "the IRP refused the registered credentials"
		if len(ie.Details) > 0 {
			msg += ": " + ie.Details[0].Code + " " + ie.Details[0].Message
		}
		return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_IRP_AUTH_FAILED, msg, meta).Err()
	case irpclient.IsTransport(err), errors.Is(err, context.DeadlineExceeded):
		return platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE,
			"the IRP could not be reached to authenticate", meta).Err()
	case errors.Is(err, context.Canceled):
		return platform.Status(codes.Canceled, errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "canceled", meta).Err()
	default:
		return internal(ctx, s, "obtain IRP session", err)
	}
}

var errNoRows = store.ErrNotFound
