package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// With its database down, auth tells the caller to retry (STORE_UNAVAILABLE with a retry
// delay) instead of answering an internal error, and works again once it is back.
func TestDatabaseOutageIsUnavailable(t *testing.T) {
	storetest.EachWithOutage(t, func(t *testing.T, db *store.DB, o storetest.Outage) {
		h := startAuth(t, db, sandboxtest.Start(t), t.TempDir())
		admin := h.admin(t)
		req := &authv1.CreateApiKeyRequest{Tenant: "acme", Gstins: []string{"29AAACP7879D1Z0"}}

		o.Start()
		_, err := h.client.CreateApiKey(admin, req)
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		var reason string
		var retry bool
		for _, d := range status.Convert(err).Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				reason = d.GetReason()
			case *errdetails.RetryInfo:
				retry = true
			}
		}
		require.Equal(t, "ERROR_REASON_STORE_UNAVAILABLE", reason)
		require.True(t, retry)

		o.End()
		key, err := h.client.CreateApiKey(admin, req)
		require.NoError(t, err)
		require.NotEmpty(t, key.GetApiKey())
		require.NotContains(t, h.logs.String(), key.GetApiKey())
	})
}
