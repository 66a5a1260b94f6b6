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

// fieldViolations maps each field violation of err to its reason.
func fieldViolations(err error) (reasons, descriptions map[string]string) {
	reasons, descriptions = map[string]string{}, map[string]string{}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				reasons[v.GetField()], descriptions[v.GetField()] = v.GetReason(), v.GetDescription()
			}
		}
	}
	return reasons, descriptions
}

// An API key request with several faults names every one at once, each entry of a list by
// its index, and creates no key.
func TestCreateApiKey_NamesEveryFault(t *testing.T) {
	h := startAuth(t, storetest.SQLite(t), sandboxtest.Start(t), t.TempDir())
	_, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{
		Tenant: " ", Gstins: []string{"29AWGPV7107B1Z1", "29AWGPV7107B1Z"}, Pans: []string{"ABCDE1234"},
	})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	got, says := fieldViolations(err)
	require.Equal(t, map[string]string{"tenant": "REQUIRED", "gstins[1]": "INVALID_FORMAT", "pans[0]": "INVALID_FORMAT"}, got)
	require.Equal(t, `"29AWGPV7107B1Z" is not a valid GSTIN`, says["gstins[1]"])

	_, err = h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme"})
	got, _ = fieldViolations(err)
	require.Equal(t, map[string]string{"gstins": "REQUIRED"}, got, "a key for no GSTIN is not admin's by default")

	keys, err := h.client.ListApiKeys(h.admin(t), &authv1.ListApiKeysRequest{Tenant: "acme"})
	require.NoError(t, err)
	require.Empty(t, keys.GetKeys())
}

// A credential with several faults names every one at once, each with its field and rule,
// and stores nothing; one for an IRP irpgate has no URL for is refused, since it could
// never be used.
func TestRegisterCredential_NamesEveryFault(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := startAuth(t, db, sandboxtest.Start(t), t.TempDir())
		_, err := h.client.RegisterCredential(h.admin(t), &authv1.RegisterCredentialRequest{
			Gstin: "29ABC", Irp: "nic9", ClientSecret: "s", Username: "u",
		})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		got, says := fieldViolations(err)
		require.Equal(t, map[string]string{
			"gstin": "INVALID_FORMAT", "irp": "INVALID_ENUM", "client_id": "REQUIRED", "password": "REQUIRED",
		}, got)
		require.Contains(t, says["irp"], "irp NIC9 is not an IRP irpgate is configured for (NIC1, NIC2, SANDBOX")

		list, err := h.client.ListCredentials(h.admin(t), &authv1.ListCredentialsRequest{})
		require.NoError(t, err)
		require.Empty(t, list.GetCredentials())
	})
}
