package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func TestGetSession_AuthenticatesOncePerGSTIN(t *testing.T) {
	cases := []struct {
		name   string
		gstins int
		calls  int
	}{
		{"1000 concurrent calls for one GSTIN cause one authenticate call", 1, 1000},
		{"1000 concurrent calls across 10 GSTINs cause 10", 10, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				sb := sandboxtest.Start(t)
				h := startAuth(t, db, sb, t.TempDir())
				users := enabledUsers(t, sb, tc.gstins)
				for _, u := range users {
					h.register(t, u)
				}
				var wg sync.WaitGroup
				errs := make(chan error, tc.calls)
				tokens := make([]string, tc.calls)
				seks := make([][]byte, tc.calls)
				for i := range tc.calls {
					wg.Add(1)
					go func() {
						defer wg.Done()
						u := users[i%len(users)]
						resp, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
						if err != nil {
							errs <- err
							return
						}
						seks[i] = resp.GetSession().GetSek()
						tokens[i] = resp.GetSession().GetAuthToken()
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				for _, sek := range seks {
					require.Len(t, sek, 32)
				}
				for _, u := range users {
					require.EqualValues(t, 1, h.authCalls(u.GSTIN), "authenticate calls for %s", u.GSTIN)
				}
				require.EqualValues(t, tc.gstins, sb.Stats().AuthCalls)
				for i := len(users); i < tc.calls; i++ {
					require.Equal(t, tokens[i%len(users)], tokens[i], "one token per GSTIN")
				}
			})
		})
	}
}

func TestGetSession_SurvivesRestartWithoutAuthenticating(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		dir := t.TempDir()
		u := enabledUsers(t, sb, 1)[0]
		first := startAuth(t, db, sb, dir)
		first.register(t, u)
		before, err := first.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, first.asService())
		require.NoError(t, err)
		first.stop()

		second := startAuth(t, db, sb, dir)
		after, err := second.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, second.asService())
		require.NoError(t, err)
		require.Equal(t, before.GetSession().GetAuthToken(), after.GetSession().GetAuthToken())
		require.Equal(t, before.GetSession().GetSek(), after.GetSession().GetSek())
		require.EqualValues(t, 1, second.authCalls(u.GSTIN))
	})
}

func TestSession_IsReplacedOnce(t *testing.T) {
	cases := []struct {
		name    string
		advance time.Duration // on the sandbox clock, after the first session
		refresh bool          // callers report the token rejected (NIC 1005)
	}{
		{"expired session is replaced by one authenticate call", 61 * time.Minute, false},
		{"session in its last minutes is renewed with ForceRefresh", 55 * time.Minute, false},
		{"1005-invalidated session is replaced by one authenticate call", 51 * time.Minute, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				sb := sandboxtest.Start(t, sandboxtest.WithTokenLifetime(time.Hour))
				h := startAuth(t, db, sb, t.TempDir())
				u := enabledUsers(t, sb, 1)[0]
				h.register(t, u)
				first, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
				require.NoError(t, err)
				stale := first.GetSession().GetAuthToken()
				sb.Clock.Advance(tc.advance)

				const callers = 50
				var wg sync.WaitGroup
				got := make([]string, callers)
				errs := make([]error, callers)
				for i := range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var s *authv1.Session
						if tc.refresh {
							resp, err := h.client.RefreshSession(t.Context(), &authv1.RefreshSessionRequest{
								Gstin: u.GSTIN, Irp: irpclient.Sandbox, StaleAuthToken: stale,
							}, h.asService())
							s, errs[i] = resp.GetSession(), err
						} else {
							resp, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
							s, errs[i] = resp.GetSession(), err
						}
						got[i] = s.GetAuthToken()
					}()
				}
				wg.Wait()
				for i := range callers {
					require.NoError(t, errs[i])
					require.NotEqual(t, stale, got[i])
					require.Equal(t, got[0], got[i])
				}
				require.EqualValues(t, 2, h.authCalls(u.GSTIN))

				// A late caller reporting the old token gets the new one without a new authenticate call.
				late, err := h.client.RefreshSession(t.Context(), &authv1.RefreshSessionRequest{
					Gstin: u.GSTIN, Irp: irpclient.Sandbox, StaleAuthToken: stale,
				}, h.asService())
				require.NoError(t, err)
				require.Equal(t, got[0], late.GetSession().GetAuthToken())
				require.EqualValues(t, 2, h.authCalls(u.GSTIN))
			})
		})
	}
}

func TestGetSession_Errors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 2)
		wrong := users[0]
		wrong.Password = "Wrong@Pass1"
		h.register(t, wrong)

		cases := []struct {
			name     string
			gstin    string
			code     codes.Code
			reason   string
			nicCodes string
		}{
			{"wrong password surfaces NIC 1019", wrong.GSTIN, codes.FailedPrecondition, "ERROR_REASON_IRP_AUTH_FAILED", "1019"},
			{"unregistered GSTIN is CREDENTIALS_MISSING", users[1].GSTIN, codes.FailedPrecondition, "ERROR_REASON_CREDENTIALS_MISSING", ""},
			{"malformed GSTIN is INVALID_REQUEST", "29ABC", codes.InvalidArgument, "ERROR_REASON_INVALID_REQUEST", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: tc.gstin, Irp: irpclient.Sandbox}, h.asService())
				require.Equal(t, tc.code, status.Code(err), "%v", err)
				ei := errorInfo(t, err)
				require.Equal(t, tc.reason, ei.GetReason())
				require.Equal(t, tc.nicCodes, ei.GetMetadata()["irp_error_code"])
				require.NotContains(t, err.Error(), wrong.Password)
			})
		}
	})
}

// A session in its refresh window whose renewal the IRP refuses (its password was changed
// on the portal, say, or the IRP is down) keeps being served while it lasts: the renewal is
// tried again a minute later, by no replica sooner, and with under a minute left the IRP's
// refusal is the answer.
func TestGetSession_ServesTheCurrentTokenWhileRenewalFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		dir := t.TempDir() // replicas share the master key and service key files
		h := startAuth(t, db, sb, dir)
		u := enabledUsers(t, sb, 1)[0]
		h.register(t, u)
		get := func(h *harness) (*authv1.Session, error) {
			res, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
			return res.GetSession(), err
		}
		first, err := get(h)
		require.NoError(t, err)
		_, err = h.client.RotateCredential(h.admin(t), &authv1.RotateCredentialRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox, Password: "Changed@Portal9"})
		require.NoError(t, err)
		expiry := first.GetExpireTime().AsTime()

		sb.Clock.Set(expiry.Add(-5 * time.Minute)) // inside the 8-minute refresh window
		calls := h.authCalls(u.GSTIN)
		s, err := get(h)
		require.NoError(t, err)
		require.Equal(t, first.GetAuthToken(), s.GetAuthToken())
		require.Equal(t, calls+1, h.authCalls(u.GSTIN), "the renewal was tried")
		require.Contains(t, h.logs.String(), "renewing IRP session failed; serving the current one")

		other := startAuth(t, db, sb, dir)
		for _, r := range []*harness{h, other} {
			s, err := get(r)
			require.NoError(t, err)
			require.Equal(t, first.GetAuthToken(), s.GetAuthToken())
		}
		require.Equal(t, calls+1, h.authCalls(u.GSTIN), "within a minute no replica tries again")

		sb.Clock.Advance(61 * time.Second)
		s, err = get(h)
		require.NoError(t, err)
		require.Equal(t, first.GetAuthToken(), s.GetAuthToken())
		require.Equal(t, calls+2, h.authCalls(u.GSTIN), "a minute later the renewal is tried again")

		sb.Clock.Set(expiry.Add(-30 * time.Second))
		_, err = get(h)
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		require.Equal(t, "1019", errorInfo(t, err).GetMetadata()["irp_error_code"])
	})
}
