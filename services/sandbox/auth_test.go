package sandbox_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

const seller = "01AMBPG7773M002"

func TestAuthIssuesTokenAndSEK(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := newClient(t, srv, srv.URL, seller)
	env := c.auth(false)
	require.Equal(t, 1, env.Status)
	require.Empty(t, env.ErrorDetails)
	require.Equal(t, srv.Clock.Now().Add(360*time.Minute).In(sandbox.IST).Format("2006-01-02 15:04:05"), c.expiry)

	t.Run("same token on re-auth inside validity, SEK re-wrapped with the new AppKey", func(t *testing.T) {
		c2 := newClient(t, srv, srv.URL, seller)
		require.Equal(t, 1, c2.auth(false).Status)
		require.Equal(t, c.token, c2.token)
		require.Equal(t, c.sek, c2.sek)
	})
	t.Run("ForceRefresh outside the last 10 minutes keeps the token", func(t *testing.T) {
		c2 := newClient(t, srv, srv.URL, seller)
		require.Equal(t, 1, c2.auth(true).Status)
		require.Equal(t, c.token, c2.token)
	})
	t.Run("ForceRefresh in the last 10 minutes gives a new token", func(t *testing.T) {
		srv.Clock.Advance(351 * time.Minute)
		c2 := newClient(t, srv, srv.URL, seller)
		require.Equal(t, 1, c2.auth(false).Status)
		require.Equal(t, c.token, c2.token)
		require.Equal(t, 1, c2.auth(true).Status)
		require.NotEqual(t, c.token, c2.token)
		c.token = c2.token
	})
	t.Run("expired token is replaced", func(t *testing.T) {
		srv.Clock.Advance(361 * time.Minute)
		c2 := newClient(t, srv, srv.URL, seller)
		require.Equal(t, 1, c2.auth(false).Status)
		require.NotEqual(t, c.token, c2.token)
	})
	st := srv.Stats()
	require.Equal(t, int64(6), st.AuthCalls)
	require.Equal(t, int64(6), st.AuthCallsByGSTIN[seller])
	require.Equal(t, int64(3), st.TokensIssued)
}

func TestAuthTokenLifetimeConfigurable(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithTokenLifetime(time.Hour))
	c := login(t, srv, srv.URL, seller)
	require.Equal(t, srv.Clock.Now().Add(time.Hour).In(sandbox.IST).Format("2006-01-02 15:04:05"), c.expiry)
}

func TestAuthErrors(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := newClient(t, srv, srv.URL, seller)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	good := c.authPayload(c.user.UserName, c.user.Password, key, false)
	hdr := func(edit func(map[string]string)) map[string]string {
		h := c.authHeaders()
		edit(h)
		return h
	}
	other, _ := srv.UserFor("29AWGPV7107B1Z1")
	notEnabled, _ := srv.UserFor(sandbox.GSTINNotEnabled)
	inactive, _ := srv.UserFor(sandbox.GSTINInactive)
	cases := []struct {
		name string
		hdr  map[string]string
		data string
		code string
	}{
		{"1011 client id missing", hdr(func(h map[string]string) { delete(h, "client_id") }), good, "1011"},
		{"1012 client secret missing", hdr(func(h map[string]string) { delete(h, "client_secret") }), good, "1012"},
		{"1004 GSTIN header missing", hdr(func(h map[string]string) { delete(h, "Gstin") }), good, "1004"},
		{"1010 wrong client secret", hdr(func(h map[string]string) { h["client_secret"] = "nope" }), good, "1010"},
		{"1010 unknown client id", hdr(func(h map[string]string) { h["client_id"] = "nope" }), good, "1010"},
		{"1013 payload not encrypted with the sandbox key", c.authHeaders(), base64.StdEncoding.EncodeToString(make([]byte, 256)), "1013"},
		{"1013 payload not base64", c.authHeaders(), "%%%", "1013"},
		{"1006 user name missing", c.authHeaders(), c.authPayload("", "x", key, false), "1006"},
		{"1016 AppKey not 32 bytes", c.authHeaders(), c.authPayload(c.user.UserName, c.user.Password, key[:16], false), "1016"},
		{"1017 unknown user", c.authHeaders(), c.authPayload("nobody", "x", key, false), "1017"},
		{"1018 client id not mapped to the user", c.authHeaders(), c.authPayload(other.UserName, other.Password, key, false), "1018"},
		{"1019 wrong password", c.authHeaders(), c.authPayload(c.user.UserName, "wrong", key, false), "1019"},
		{"1015 GSTIN of another user", hdr(func(h map[string]string) { h["Gstin"] = "29AWGPV7107B1Z1" }), good, "1015"},
		{"1014 e-invoicing not enabled", map[string]string{"client_id": notEnabled.ClientID, "client_secret": notEnabled.ClientSecret, "Gstin": notEnabled.GSTIN}, c.authPayload(notEnabled.UserName, notEnabled.Password, key, false), "1014"},
		{"1014 inactive GSTIN", map[string]string{"client_id": inactive.ClientID, "client_secret": inactive.ClientSecret, "Gstin": inactive.GSTIN}, c.authPayload(inactive.UserName, inactive.Password, key, false), "1014"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := c.authWith(tc.hdr, tc.data)
			require.Equal(t, http.StatusOK, env.HTTPStatus)
			require.Equal(t, 0, env.Status)
			require.Equal(t, []string{tc.code}, env.codes())
			require.NotEmpty(t, env.ErrorDetails[0].ErrorMessage)
		})
	}
	t.Run("hyphenated and odd-case header spellings are accepted", func(t *testing.T) {
		env, _ := c.authWith(map[string]string{"CLIENT-ID": c.user.ClientID, "Client-Secret": c.user.ClientSecret, "gstin": c.user.GSTIN}, good)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
	})
}

func TestAuthorizeErrors(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	get := func(edit func(*client)) []string {
		cc := *c
		cc.extra = map[string]string{}
		edit(&cc)
		return cc.call(http.MethodGet, "/eivital/v1.04/Master/gstin/29AWGPV7107B1Z1", nil, nil).codes()
	}
	require.Nil(t, get(func(*client) {}))
	require.Equal(t, []string{"1005"}, get(func(c *client) { c.token = "bogus" }))
	require.Equal(t, []string{"1005"}, get(func(c *client) { c.extra["user_name"] = "someone" }))
	require.Equal(t, []string{"1015"}, get(func(c *client) { c.extra["Gstin"] = "29AWGPV7107B1Z1" }))
	require.Equal(t, []string{"1010"}, get(func(c *client) { c.extra["client_secret"] = "x" }))
	require.Equal(t, []string{"1005"}, get(func(c *client) { c.base = srv.NIC2URL }), "a NIC1 token is not valid on NIC2")
	srv.Clock.Advance(361 * time.Minute)
	require.Equal(t, []string{"1005"}, get(func(*client) {}), "expired")
}
