package auth_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/sessions"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func TestGetSession_OneAuthenticateAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		dir := t.TempDir() // replicas share the master key and service key files
		replicas := []*harness{startAuth(t, db, sb, dir), startAuth(t, db, sb, dir), startAuth(t, db, sb, dir)}
		u := enabledUsers(t, sb, 1)[0]
		replicas[0].register(t, u)

		var wg sync.WaitGroup
		errs := make(chan error, 300)
		for i := range 300 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := replicas[i%len(replicas)]
				_, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, replicas[0].authCalls(u.GSTIN))
	})
}

// dumpTables returns every row of the auth tables as text, as a DBA would see them.
func dumpTables(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"auth_settings", "auth_credentials", "auth_sessions", "auth_api_keys"} {
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteString("\n")
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return b.String()
}

func TestSecrets_NeverInClear(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 2)
		h.register(t, users[0])
		wrong := users[1]
		wrong.Password = "Wrong@Pass77"
		h.register(t, wrong)

		resp, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: users[0].GSTIN, Irp: irpclient.Sandbox}, h.asService())
		require.NoError(t, err)
		sess := resp.GetSession()
		_, authErr := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: wrong.GSTIN, Irp: irpclient.Sandbox}, h.asService())
		require.Error(t, authErr)
		key, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme", Gstins: []string{users[0].GSTIN}})
		require.NoError(t, err)
		list, err := h.client.ListCredentials(h.admin(t), &authv1.ListCredentialsRequest{})
		require.NoError(t, err)
		require.Len(t, list.GetCredentials(), 2)
		require.NotNil(t, list.GetCredentials()[0].GetSessionExpireTime())
		keys, err := h.client.ListApiKeys(h.admin(t), &authv1.ListApiKeysRequest{})
		require.NoError(t, err)

		secrets := map[string]string{
			"password":            users[0].Password,
			"wrong password":      wrong.Password,
			"client secret":       users[0].ClientSecret,
			"auth token":          sess.GetAuthToken(),
			"SEK (base64)":        base64.StdEncoding.EncodeToString(sess.GetSek()),
			"SEK (hex)":           hex.EncodeToString(sess.GetSek()),
			"SEK (raw)":           string(sess.GetSek()),
			"API key":             key.GetApiKey(),
			"bootstrap admin key": testAdminKey,
		}
		h.stop() // flush spans
		places := map[string]string{
			"database":      dumpTables(t, db),
			"logs":          h.logs.String(),
			"error":         authErr.Error(),
			"list response": protojson.Format(list) + protojson.Format(keys),
			"spans":         fmt.Sprintf("%+v", h.spans.GetSpans()),
		}
		require.Contains(t, places["database"], "mk1:", "sealed values are in the database")
		for where, text := range places {
			for what, secret := range secrets {
				require.NotContains(t, text, secret, "%s found in %s", what, where)
			}
		}
	})
}

func TestAuthorization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 2)
		a, b := users[0].GSTIN, users[1].GSTIN
		h.register(t, users[0])
		h.register(t, users[1])
		keyA, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme", Gstins: []string{a}})
		require.NoError(t, err)
		keyPAN, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme", Pans: []string{b[2:12]}})
		require.NoError(t, err)
		revoked, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "gone", Gstins: []string{a}})
		require.NoError(t, err)
		_, err = h.client.RevokeApiKey(h.admin(t), &authv1.RevokeApiKeyRequest{KeyId: revoked.GetKey().GetKeyId()})
		require.NoError(t, err)
		tokA, tokPAN := h.token(t, keyA.GetApiKey()), h.token(t, keyPAN.GetApiKey())

		cases := []struct {
			name   string
			call   func() error
			code   codes.Code
			reason string
		}{
			{"key for GSTIN A acts for A", func() error { return act(withToken(t.Context(), tokA), h.conn, a) }, codes.OK, ""},
			{"key for GSTIN A cannot act for GSTIN B", func() error { return act(withToken(t.Context(), tokA), h.conn, b) }, codes.PermissionDenied, "ERROR_REASON_GSTIN_NOT_ALLOWED"},
			{"key for a PAN acts for its GSTINs", func() error { return act(withToken(t.Context(), tokPAN), h.conn, b) }, codes.OK, ""},
			{"key for a PAN cannot act for another PAN", func() error { return act(withToken(t.Context(), tokPAN), h.conn, a) }, codes.PermissionDenied, "ERROR_REASON_GSTIN_NOT_ALLOWED"},
			{"no token is UNAUTHENTICATED", func() error { return act(t.Context(), h.conn, a) }, codes.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED"},
			{"forged token is UNAUTHENTICATED", func() error { return act(withToken(t.Context(), tokA+"x"), h.conn, a) }, codes.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED"},
			{"end caller never gets its own GSTIN's IRP session", func() error {
				_, err := h.client.GetSession(withToken(t.Context(), tokA), &authv1.GetSessionRequest{Gstin: a, Irp: irpclient.Sandbox})
				return err
			}, codes.PermissionDenied, "ERROR_REASON_ADMIN_REQUIRED"},
			{"end caller cannot refresh an IRP session", func() error {
				_, err := h.client.RefreshSession(withToken(t.Context(), tokA), &authv1.RefreshSessionRequest{Gstin: b, Irp: irpclient.Sandbox, StaleAuthToken: "x"})
				return err
			}, codes.PermissionDenied, "ERROR_REASON_ADMIN_REQUIRED"},
			{"end caller cannot create API keys", func() error {
				_, err := h.client.CreateApiKey(withToken(t.Context(), tokA), &authv1.CreateApiKeyRequest{Tenant: "acme", Admin: true})
				return err
			}, codes.PermissionDenied, "ERROR_REASON_ADMIN_REQUIRED"},
			{"end caller cannot list credentials", func() error {
				_, err := h.client.ListCredentials(withToken(t.Context(), tokA), &authv1.ListCredentialsRequest{})
				return err
			}, codes.PermissionDenied, "ERROR_REASON_ADMIN_REQUIRED"},
			{"revoked key gets no token", func() error {
				_, err := h.client.IssueToken(t.Context(), &authv1.IssueTokenRequest{ApiKey: revoked.GetApiKey()})
				return err
			}, codes.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED"},
			{"service token gets a session", func() error {
				_, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: a, Irp: irpclient.Sandbox}, h.asService())
				return err
			}, codes.OK, ""},
			{"service token with the wrong key is UNAUTHENTICATED", func() error {
				_, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: a, Irp: irpclient.Sandbox},
					grpcPerRPC(callerauth.ServiceCredentials([]byte("0123456789abcdef0123456789abcdef-other"), "einvoice")))
				return err
			}, codes.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				require.Equal(t, tc.code, status.Code(err), "%v", err)
				if tc.reason != "" {
					require.Equal(t, tc.reason, errorInfo(t, err).GetReason())
				}
			})
		}
		// Only the service's GetSession reached the IRP.
		require.EqualValues(t, 1, sb.Stats().AuthCalls)
	})
}

func TestIssueToken_TakesTheKeyFromTheHeader(t *testing.T) {
	sb := sandboxtest.Start(t)
	h := startAuth(t, storetest.SQLite(t), sb, t.TempDir())
	ctx := withAPIKey(t.Context(), testAdminKey)
	resp, err := h.client.IssueToken(ctx, &authv1.IssueTokenRequest{})
	require.NoError(t, err)
	require.Equal(t, "Bearer", resp.GetTokenType())
	_, err = h.client.ListApiKeys(withToken(t.Context(), resp.GetAccessToken()), &authv1.ListApiKeysRequest{})
	require.NoError(t, err)
}

func TestBootstrapAdminKey_PrintedOnceAndWorks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		dir := t.TempDir()
		noKey := func(c *authConfig) { c.AdminKey = "" }
		first := startAuth(t, db, sb, dir, noKey)
		logs := first.logs.String()
		require.Contains(t, logs, "admin_api_key")
		i := strings.Index(logs, `"admin_api_key":"`)
		require.GreaterOrEqual(t, i, 0)
		key := logs[i+len(`"admin_api_key":"`):]
		key = key[:strings.IndexByte(key, '"')]
		require.True(t, strings.HasPrefix(key, "irpg_"))
		first.token(t, key)
		require.NotContains(t, dumpTables(t, db), key)

		second := startAuth(t, db, sb, dir, noKey)
		require.NotContains(t, second.logs.String(), "admin_api_key", "printed only once")
	})
}

func TestRotateMasterKey_ReencryptsEverySecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		dir := t.TempDir()
		h := startAuth(t, db, sb, dir)
		u := enabledUsers(t, sb, 1)[0]
		h.register(t, u)
		before, err := h.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, h.asService())
		require.NoError(t, err)

		f, err := os.OpenFile(filepath.Join(dir, "master.key"), os.O_APPEND|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		_, err = f.WriteString("mk2 " + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")) + "\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())

		_, err = h.client.RotateMasterKey(h.admin(t), &authv1.RotateMasterKeyRequest{NewKeyId: "nope"})
		require.Equal(t, codes.InvalidArgument, status.Code(err))
		resp, err := h.client.RotateMasterKey(h.admin(t), &authv1.RotateMasterKeyRequest{NewKeyId: "mk2"})
		require.NoError(t, err)
		// client secret + password + auth token + SEK + token signing key
		require.EqualValues(t, 5, resp.GetSecretsReencrypted())
		require.Equal(t, "mk2", resp.GetActiveKeyId())
		dump := dumpTables(t, db)
		require.NotContains(t, dump, "mk1:mk1:")
		require.Contains(t, dump, "mk1:mk2:")
		again, err := h.client.RotateMasterKey(h.admin(t), &authv1.RotateMasterKeyRequest{NewKeyId: "mk2"})
		require.NoError(t, err)
		require.Zero(t, again.GetSecretsReencrypted())

		// A restarted replica reads everything under the new key, tokens included.
		h.stop()
		r := startAuth(t, db, sb, dir)
		after, err := r.client.GetSession(t.Context(), &authv1.GetSessionRequest{Gstin: u.GSTIN, Irp: irpclient.Sandbox}, r.asService())
		require.NoError(t, err)
		require.Equal(t, before.GetSession().GetAuthToken(), after.GetSession().GetAuthToken())
		require.EqualValues(t, 1, r.authCalls(u.GSTIN))
	})
}

func TestAuthSource_ServesIRPCallsThroughAuth(t *testing.T) {
	sb := sandboxtest.Start(t)
	h := startAuth(t, storetest.SQLite(t), sb, t.TempDir())
	users := enabledUsers(t, sb, 2)
	h.register(t, users[0])
	src := sessions.NewAuthSource(h.conn, callerauth.ServiceCredentials(h.svc.ServiceKey(), "einvoice"))
	irp, err := irpclient.New(irpclient.Config{
		BaseURLs: map[string]string{irpclient.Sandbox: sb.URL}, Sessions: src, MaxRetries: -1,
	})
	require.NoError(t, err)

	// As inside einvoice: the incoming call carries an end caller's token,
	// which platform.DialOptions would forward; the service token must win.
	key, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme", Gstins: []string{users[0].GSTIN}})
	require.NoError(t, err)
	incoming := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+h.token(t, key.GetApiKey())))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	gstins := make(chan string, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := irp.GetGSTIN(incoming, users[0].GSTIN, users[1].GSTIN)
			if err != nil {
				errs <- err
				return
			}
			gstins <- d.Gstin
		}()
	}
	wg.Wait()
	close(errs)
	close(gstins)
	for err := range errs {
		require.NoError(t, err)
	}
	for g := range gstins {
		require.Equal(t, users[1].GSTIN, g)
	}
	require.EqualValues(t, 1, h.authCalls(users[0].GSTIN))

	s, err := src.Session(t.Context(), users[0].GSTIN, irpclient.Sandbox)
	require.NoError(t, err)
	sb.Clock.Advance(361 * time.Minute) // past a 6 h token
	fresh, err := src.Refresh(t.Context(), s)
	require.NoError(t, err)
	require.NotEqual(t, s.AuthToken, fresh.AuthToken)
	require.EqualValues(t, 2, h.authCalls(users[0].GSTIN))
}

func TestGRPCKeySource_VerifiesIssuedTokensWithoutCallingAuthAgain(t *testing.T) {
	sb := sandboxtest.Start(t)
	h := startAuth(t, storetest.SQLite(t), sb, t.TempDir())
	v := callerauth.NewVerifier(callerauth.GRPCKeySource(h.conn))
	tok := h.token(t, testAdminKey)
	for range 3 {
		c, err := v.Verify(t.Context(), "Bearer "+tok)
		require.NoError(t, err)
		require.True(t, c.Admin)
	}
	_, err := v.Verify(t.Context(), "Bearer "+tok[:len(tok)-2])
	require.Equal(t, codes.Unauthenticated, status.Code(err))
}

// TestRevokedKeyStopsItsTokens: tokens issued to a revoked API key stop working before they
// expire: at once in auth's own process (even tokens verified and cached before), and in a
// service that verifies with GetTokenKeys when it next fetches the list.
func TestRevokedKeyStopsItsTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sb := sandboxtest.Start(t)
		h := startAuth(t, db, sb, t.TempDir())
		users := enabledUsers(t, sb, 1)
		gstin := users[0].GSTIN
		key, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "acme", Gstins: []string{gstin}})
		require.NoError(t, err)
		kept, err := h.client.CreateApiKey(h.admin(t), &authv1.CreateApiKeyRequest{Tenant: "other", Gstins: []string{gstin}})
		require.NoError(t, err)
		tok, keptTok := h.token(t, key.GetApiKey()), h.token(t, kept.GetApiKey())

		own := h.svc.Verifier()
		remote := callerauth.NewVerifier(callerauth.GRPCKeySourceRefreshing(h.conn, 0))
		for _, v := range []*callerauth.Verifier{own, remote} {
			_, err := v.Verify(t.Context(), "Bearer "+tok) // verified, and so remembered
			require.NoError(t, err)
		}
		require.NoError(t, act(withToken(t.Context(), tok), h.conn, gstin))

		_, err = h.client.RevokeApiKey(h.admin(t), &authv1.RevokeApiKeyRequest{KeyId: key.GetKey().GetKeyId()})
		require.NoError(t, err)

		err = act(withToken(t.Context(), tok), h.conn, gstin)
		require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		require.Contains(t, status.Convert(err).Message(), "revoked")
		_, err = own.Verify(t.Context(), "Bearer "+tok)
		require.Equal(t, codes.Unauthenticated, status.Code(err))
		_, err = h.client.IssueToken(t.Context(), &authv1.IssueTokenRequest{ApiKey: key.GetApiKey()})
		require.Equal(t, codes.Unauthenticated, status.Code(err))

		keys, err := h.client.GetTokenKeys(t.Context(), &authv1.GetTokenKeysRequest{})
		require.NoError(t, err)
		require.Equal(t, []string{key.GetKey().GetKeyId()}, keys.GetRevokedKeyIds())

		require.Eventually(t, func() bool {
			_, err := remote.Verify(t.Context(), "Bearer "+tok)
			return status.Code(err) == codes.Unauthenticated
		}, 10*time.Second, 5*time.Millisecond, "the remote verifier never learnt of the revocation")

		// Revoking again changes nothing; a key that never existed is not found.
		_, err = h.client.RevokeApiKey(h.admin(t), &authv1.RevokeApiKeyRequest{KeyId: key.GetKey().GetKeyId()})
		require.NoError(t, err)
		_, err = h.client.RevokeApiKey(h.admin(t), &authv1.RevokeApiKeyRequest{KeyId: "no-such-key"})
		require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

		// Other keys are untouched.
		require.NoError(t, act(withToken(t.Context(), keptTok), h.conn, gstin))
		_, err = remote.Verify(t.Context(), "Bearer "+keptTok)
		require.NoError(t, err)

		// Once its tokens have all expired, the key leaves the list.
		sb.Clock.Advance(time.Hour)
		keys, err = h.client.GetTokenKeys(t.Context(), &authv1.GetTokenKeysRequest{})
		require.NoError(t, err)
		require.Empty(t, keys.GetRevokedKeyIds())
	})
}
