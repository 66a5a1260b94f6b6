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
	"github.com/irpgate/irpgate/pkg/irpclient"
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

// Rotating a credential keeps the live IRP session (NIC tokens outlive a password change)
// and seals the new secret, which the next authentication uses: rotated to a password the
// IRP does not know, the session still answers, a refresh is refused (NIC 1019), and rotated
// back, a refresh authenticates again. Rotation asks for something to rotate, an admin, and
// a credential that exists.
func TestRotateCredential_NextAuthenticationUsesTheNewSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 2)
		u, unregistered := users[0], users[1]
		h.register(t, u)
		ctx := t.Context()
		key := &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}
		first, err := h.client.GetSession(ctx, key, h.asService())
		require.NoError(t, err)
		refresh := func(stale string) (*authv1.RefreshSessionResponse, error) {
			return h.client.RefreshSession(ctx, &authv1.RefreshSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, StaleAuthToken: stale}, h.asService())
		}

		const unknown = "Rotated@Pass42"
		rot, err := h.client.RotateCredential(h.admin(t), &authv1.RotateCredentialRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, Password: unknown})
		require.NoError(t, err)
		require.Equal(t, u.GSTIN, rot.GetCredential().GetGstin())
		require.Equal(t, u.UserName, rot.GetCredential().GetUsername())
		require.NotNil(t, rot.GetCredential().GetSessionExpireTime(), "the live session is kept")
		require.NotContains(t, dumpTables(t, db), unknown, "the new password is sealed")

		calls := h.authCalls(u.GSTIN)
		kept, err := h.client.GetSession(ctx, key, h.asService())
		require.NoError(t, err)
		require.Equal(t, first.GetSession().GetAuthToken(), kept.GetSession().GetAuthToken())
		require.Equal(t, calls, h.authCalls(u.GSTIN), "no authentication for a live session")

		_, err = refresh(first.GetSession().GetAuthToken())
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		require.Equal(t, "ERROR_REASON_IRP_AUTH_FAILED", errorInfo(t, err).GetReason())
		require.Equal(t, "1019", errorInfo(t, err).GetMetadata()["irp_error_code"], "the IRP saw the rotated password")
		require.NotContains(t, err.Error(), unknown)

		_, err = h.client.RotateCredential(h.admin(t), &authv1.RotateCredentialRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, Password: u.Password, ClientSecret: u.ClientSecret})
		require.NoError(t, err)
		calls = h.authCalls(u.GSTIN)
		fresh, err := refresh(first.GetSession().GetAuthToken())
		require.NoError(t, err)
		require.Greater(t, h.authCalls(u.GSTIN), calls, "the refresh authenticated with the rotated secrets")
		require.NotEmpty(t, fresh.GetSession().GetAuthToken()) // NIC answers the same token while it lives

		t.Run("refusals", func(t *testing.T) {
			_, err := h.client.RotateCredential(h.admin(t), &authv1.RotateCredentialRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox})
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			got, _ := fieldViolations(err)
			require.Equal(t, map[string]string{"password": "REQUIRED"}, got)

			_, err = h.client.RotateCredential(h.admin(t), &authv1.RotateCredentialRequest{Gstin: unregistered.GSTIN, Irp: irpclient.Sandbox, Password: "x"})
			require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

			_, err = h.client.RotateCredential(ctx, &authv1.RotateCredentialRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, Password: "x"}, h.asService())
			require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
			_, err = h.client.RefreshSession(ctx, &authv1.RefreshSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, StaleAuthToken: "stale"}, h.asService())
			require.NoError(t, err, "a service's refused rotation changed nothing")
		})
	})
}

// Deleting a credential removes it and its session: the GSTIN's sessions answer
// CREDENTIALS_MISSING at once, in this process too, and a second delete is NOT_FOUND.
func TestDeleteCredential_RemovesTheSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 2)
		h.register(t, users[0])
		h.register(t, users[1])
		ctx := t.Context()
		for _, u := range users {
			_, err := h.client.GetSession(ctx, &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
			require.NoError(t, err)
		}
		del := &authv1.DeleteCredentialRequest{Gstin: users[0].GSTIN, Irp: irpclient.Sandbox}
		_, err := h.client.DeleteCredential(ctx, del, h.asService())
		require.Equal(t, codes.PermissionDenied, status.Code(err), "only an admin deletes: %v", err)

		_, err = h.client.DeleteCredential(h.admin(t), del)
		require.NoError(t, err)
		_, err = h.client.GetSession(ctx, &authv1.GetSessionRequest{Gstin: users[0].GSTIN, Irp: irpclient.Sandbox}, h.asService())
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		require.Equal(t, "ERROR_REASON_CREDENTIALS_MISSING", errorInfo(t, err).GetReason())
		list, err := h.client.ListCredentials(h.admin(t), &authv1.ListCredentialsRequest{})
		require.NoError(t, err)
		require.Len(t, list.GetCredentials(), 1)
		require.Equal(t, users[1].GSTIN, list.GetCredentials()[0].GetGstin(), "the other GSTIN keeps its credential")
		_, err = h.client.GetSession(ctx, &authv1.GetSessionRequest{Gstin: users[1].GSTIN, Irp: irpclient.Sandbox}, h.asService())
		require.NoError(t, err)
		require.NotContains(t, dumpTables(t, db), users[0].GSTIN, "no row of the deleted credential is left")

		_, err = h.client.DeleteCredential(h.admin(t), del)
		require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	})
}
