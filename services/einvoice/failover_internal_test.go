package einvoice

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Only failures that say the document cannot have reached the IRP count towards failover.
func TestUnreached(t *testing.T) {
	refused := &irpclient.TransportError{API: "GenerateIRN", IRP: "NIC1", Err: syscall.ECONNREFUSED}
	noSession := platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE,
		"the IRP could not be reached to authenticate", nil).Err()
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"connection refused":                     {refused, true},
		"auth call not answered (local session)": {fmt.Errorf("session: %w", &irpclient.TransportError{API: "Auth", Sent: true, Err: errors.New("EOF")}), true},
		"no session from auth: IRP unreachable":  {fmt.Errorf("irpclient: GenerateIRN: session for X on NIC1: %w", noSession), true},
		"generate sent, answer lost":             {&irpclient.TransportError{API: "GenerateIRN", Sent: true, OutcomeUnknown: true, Err: errors.New("EOF")}, false},
		"the IRP answered with an error":         {&irpclient.Error{}, false},
		"no credentials for the other IRP":       {platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_CREDENTIALS_MISSING, "none", nil).Err(), false},
	} {
		require.Equal(t, c.want, unreached(c.err), name)
	}
}
