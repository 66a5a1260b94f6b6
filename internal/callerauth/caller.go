package callerauth

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
)

// Caller is who an RPC runs for: an API key's token, or another irpgate service.
type Caller struct {
	KeyID   string // API key id, or the service name for service tokens
	Tenant  string
	GSTINs  []string
	PANs    []string
	Admin   bool
	Service bool
}

type callerKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller the verifier attached to ctx.
func FromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// MayActFor reports whether the caller may act for gstin: it is listed, its
// PAN (characters 3 to 12) is listed, or the caller is an admin or a service.
func (c Caller) MayActFor(gstin string) bool {
	if c.Admin || c.Service {
		return true
	}
	gstin = strings.ToUpper(strings.TrimSpace(gstin))
	if gstin == "" {
		return false
	}
	if slices.Contains(c.GSTINs, gstin) {
		return true
	}
	return len(gstin) == 15 && slices.Contains(c.PANs, gstin[2:12])
}

// RequireGSTIN returns nil when the caller in ctx may act for gstin, and
// otherwise the PERMISSION_DENIED (or UNAUTHENTICATED, without a caller)
// status every service answers with before anything is sent to the IRP.
func RequireGSTIN(ctx context.Context, gstin string) error {
	c, ok := FromContext(ctx)
	if !ok {
		return platform.Status(codes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"a token is required", nil).Err()
	}
	if !c.MayActFor(gstin) {
		return platform.Status(codes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_GSTIN_NOT_ALLOWED,
			"the caller may not act for GSTIN "+gstin, map[string]string{"gstin": gstin}).Err()
	}
	return nil
}

// RequireAdmin returns nil when the caller in ctx holds an admin key.
func RequireAdmin(ctx context.Context) error {
	c, ok := FromContext(ctx)
	if !ok {
		return platform.Status(codes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"a token is required", nil).Err()
	}
	if !c.Admin {
		return platform.Status(codes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_ADMIN_REQUIRED,
			"this RPC needs an admin key", nil).Err()
	}
	return nil
}
