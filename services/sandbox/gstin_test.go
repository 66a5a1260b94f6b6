package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func TestGSTINDetailsAndSync(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	for _, p := range []string{"/eivital/v1.03/Master/gstin/", "/eivital/v1.04/Master/gstin/", "/eivital/v1.03/Master/syncgstin/", "/eivital/v1.04/Master/syncgstin/"} {
		t.Run(p, func(t *testing.T) {
			var d map[string]any
			env := c.call(http.MethodGet, p+"29AWGPV7107B1Z1", nil, &d)
			require.Equal(t, 1, env.Status, env.ErrorDetails)
			require.Equal(t, "29AWGPV7107B1Z1", d["Gstin"])
			require.Equal(t, float64(29), d["StateCode"], "StateCode is a number")
			require.Equal(t, float64(560001), d["AddrPncd"])
			require.Equal(t, "ACT", d["Status"])
			require.Nil(t, d["DtDReg"])
			require.Equal(t, []string{"3001"}, c.call(http.MethodGet, p+"27AABCU9603R1ZN", nil, nil).codes(), "unknown")
			require.Equal(t, []string{"3030"}, c.call(http.MethodGet, p+"NOTAGSTIN", nil, nil).codes(), "malformed")
		})
	}
	var d map[string]any
	c.call(http.MethodGet, "/eivital/v1.04/Master/gstin/"+sandbox.GSTINCancelled, nil, &d)
	require.Equal(t, "CNL", d["Status"])
	require.Equal(t, "2024-03-31", d["DtDReg"])
	c.call(http.MethodGet, "/eivital/v1.04/Master/gstin/"+sandbox.GSTINBlocked, nil, &d)
	require.Equal(t, "B", d["BlkStatus"])
}

func TestValueAddedAPIs(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	dt := today(srv)
	_, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "V-1", dt, 1))

	t.Run("e-invoice enablement status", func(t *testing.T) {
		var d map[string]any
		require.Equal(t, 1, c.call(http.MethodGet, "/sandbox/v1/einvoice/status/"+sandbox.GSTINNotEnabled, nil, &d).Status)
		require.Equal(t, "N", d["EInvoiceStatus"])
		require.Equal(t, 1, c.call(http.MethodGet, "/sandbox/v1/einvoice/status/"+seller, nil, &d).Status)
		require.Equal(t, "Y", d["EInvoiceStatus"])
	})
	t.Run("e-invoices against a buyer GSTIN", func(t *testing.T) {
		b := login(t, srv, srv.URL, "29AWGPV7107B1Z1")
		var rows []map[string]any
		env := b.call(http.MethodGet, "/sandbox/v1/einvoice/buyer/29AWGPV7107B1Z1?from="+url.QueryEscape(dt)+"&to="+url.QueryEscape(dt), nil, &rows)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		require.Len(t, rows, 1)
		require.Equal(t, r.Irn, rows[0]["Irn"])
		require.Equal(t, []string{"2226"}, c.call(http.MethodGet, "/sandbox/v1/einvoice/buyer/29AWGPV7107B1Z1", nil, nil).codes(), "only the buyer itself")
		require.Equal(t, []string{"2156"}, b.call(http.MethodGet, "/sandbox/v1/einvoice/buyer/29AWGPV7107B1Z1?from=x", nil, nil).codes())
	})
	t.Run("GSTIN search by PAN and by name", func(t *testing.T) {
		var rows []map[string]any
		require.Equal(t, 1, c.call(http.MethodGet, "/sandbox/v1/gstin/search?pan=AAAPI3182M", nil, &rows).Status)
		require.Len(t, rows, 3)
		require.Equal(t, 1, c.call(http.MethodGet, "/sandbox/v1/gstin/search?name=marketplace", nil, &rows).Status)
		require.Equal(t, sandbox.GSTINECO, rows[0]["Gstin"])
		require.Equal(t, []string{"3001"}, c.call(http.MethodGet, "/sandbox/v1/gstin/search?pan=ZZZZZ9999Z", nil, nil).codes())
		require.Equal(t, []string{"2142"}, c.call(http.MethodGet, "/sandbox/v1/gstin/search", nil, nil).codes())
	})
	t.Run("verify a signed invoice and a QR code", func(t *testing.T) {
		for _, jws := range []string{r.SignedInvoice, r.SignedQRCode} {
			body, _ := json.Marshal(map[string]string{"Jws": jws})
			resp, err := srv.HTTP.Client().Post(srv.URL+"/sandbox/v1/verify", "application/json", bytes.NewReader(body))
			require.NoError(t, err)
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			resp.Body.Close()
			require.Equal(t, true, out["Valid"])
			require.Equal(t, true, out["Registered"])
			require.Equal(t, r.Irn, out["Irn"])
		}
		tampered := r.SignedQRCode[:len(r.SignedQRCode)-4] + "AAAA"
		body, _ := json.Marshal(map[string]string{"SignedQRCode": tampered})
		resp, err := srv.HTTP.Client().Post(srv.URL+"/sandbox/v1/verify", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		require.Equal(t, false, out["Valid"])
	})
}

func TestPublicKeysEndpoint(t *testing.T) {
	srv := sandboxtest.Start(t)
	resp, err := srv.HTTP.Client().Get(srv.URL + "/sandbox/publickeys")
	require.NoError(t, err)
	defer resp.Body.Close()
	var keys map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&keys))
	pub, err := irpcrypto.ParsePublicKey([]byte(keys["EncryptionPublicKey"]))
	require.NoError(t, err)
	require.True(t, pub.Equal(srv.PublicKey()))
	certs, err := irpcrypto.ParseCertificates([]byte(keys["SigningCertificate"]))
	require.NoError(t, err)
	require.True(t, certs[0].Equal(srv.Certificate()))
	kid, x5t := irpcrypto.Thumbprint(certs[0])
	require.Equal(t, kid, keys["Kid"])
	require.Equal(t, x5t, keys["X5t"])
	for _, p := range []string{"/sandbox/publickeys/encryption.pem", "/sandbox/publickeys/signing.pem"} {
		resp, err := srv.HTTP.Client().Get(srv.URL + p)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, string(b), "-----BEGIN ")
	}

	t.Run("a client using the downloaded key authenticates on the NIC1 and NIC2 paths", func(t *testing.T) {
		for _, base := range []string{srv.URL, srv.URL + "/irp/nic1", srv.NIC2URL} {
			c := newClient(t, srv, base, seller)
			c.pub = pub
			require.Equal(t, 1, c.auth(false).Status, base)
		}
	})
}

func TestKeysPersistInDataDir(t *testing.T) {
	dir := t.TempDir()
	a, err := sandbox.New(sandbox.Config{DataDir: dir})
	require.NoError(t, err)
	b, err := sandbox.New(sandbox.Config{DataDir: dir})
	require.NoError(t, err)
	require.True(t, a.PublicKey().Equal(b.PublicKey()))
	require.True(t, a.Certificate().Equal(b.Certificate()))
}

func TestTaxpayerMasterFromFile(t *testing.T) {
	path := t.TempDir() + "/master.json"
	m := sandbox.Master{Taxpayers: []sandbox.Taxpayer{{Gstin: "29AAACP7879D1Z0", LegalName: "Only One", StateCode: 29, AddrPncd: 560001, TxpType: "REG", Status: "ACT", EInvoiceEnabled: true}}}
	b, _ := json.Marshal(m)
	require.NoError(t, writeFile(path, b))
	got, err := sandbox.LoadMaster(path)
	require.NoError(t, err)
	srv := sandboxtest.Start(t, sandboxtest.WithTaxpayers(got.Taxpayers))
	require.Len(t, srv.Users(), 1)
	c := login(t, srv, srv.URL, "29AAACP7879D1Z0")
	require.Equal(t, []string{"3001"}, c.call(http.MethodGet, "/eivital/v1.04/Master/gstin/29AWGPV7107B1Z1", nil, nil).codes())
}
