package sandbox_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/proctest"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func TestLegacyV103Auth(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := newClient(t, srv, srv.URL, seller)
	appKey := make([]byte, 32)
	_, _ = rand.Read(appKey)
	enc := func(b []byte) string {
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, srv.PublicKey(), b) //nolint:staticcheck // SA1019: the NIC IRP v1.03 auth protocol mandates RSA/ECB/PKCS1Padding for the AppKey and password; this test plays the IRP's client
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(ct)
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"UserName": c.user.UserName, "Password": enc([]byte(c.user.Password)), "AppKey": enc(appKey), "ForceRefreshAccessToken": false}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/eivital/v1.03/auth", bytes.NewReader(body))
	for k, v := range c.authHeaders() {
		req.Header[k] = []string{v}
	}
	env, _ := c.send(req)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	var d struct{ Sek string }
	require.NoError(t, json.Unmarshal(env.Data, &d))
	ct, _ := base64.StdEncoding.DecodeString(d.Sek)
	require.Len(t, ecb(appKey, ct, false), 32)
}

func TestECOGeneratesForASupplier(t *testing.T) {
	srv := sandboxtest.Start(t)
	eco := login(t, srv, srv.URL, sandbox.GSTINECO)
	inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "ECO-1", today(srv), 1)
	inv["TranDtls"].(map[string]any)["EcmGstin"] = sandbox.GSTINECO
	env, r := eco.generate(inv)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	eco.extra["sup_gstin"] = seller
	var got irnResp
	require.Equal(t, 1, eco.call(http.MethodGet, "/eicore/v1.03/Invoice/irn/"+r.Irn, nil, &got).Status)
	env = eco.call(http.MethodGet, "/eicore/v1.03/Invoice/irnbydocdetails?doctype=INV&docnum=ECO-1&docdate="+strings.ReplaceAll(today(srv), "/", "%2F"), nil, &got)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, r.Irn, got.Irn)
}

func TestCancelEWBOnlyOnItsIRP(t *testing.T) {
	srv := sandboxtest.Start(t)
	c1 := login(t, srv, srv.URL, seller)
	c2 := login(t, srv, srv.NIC2URL, seller)
	inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "CC-1", today(srv), 1)
	inv["EwbDtls"] = map[string]any{"TransMode": "1", "Distance": 0, "VehNo": "JK01AB1234", "VehType": "R"}
	env, r := c1.generate(inv)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.NotNil(t, r.EwbNo)
	_, codes, _ := ewayapi(c2, "CANEWB", map[string]any{"ewbNo": *r.EwbNo, "cancelRsnCode": 1, "cancelRmrk": "x"})
	require.Equal(t, "444,", codes)
	_, codes, _ = ewayapi(c1, "XYZ", map[string]any{})
	require.Equal(t, "5001,", codes)
	c1.token = "bogus"
	_, codes, _ = ewayapi(c1, "CANEWB", map[string]any{"ewbNo": *r.EwbNo, "cancelRsnCode": 1, "cancelRmrk": "x"})
	require.Equal(t, "238,", codes)
}

func TestServesTLS(t *testing.T) {
	keys, err := sandbox.ProcessKeys()
	require.NoError(t, err)
	dir := t.TempDir()
	tmpl := &x509.Certificate{
		SerialNumber: keys.Certificate.SerialNumber, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &keys.Signing.PublicKey, keys.Signing)
	require.NoError(t, err)
	kder, _ := x509.MarshalPKCS8PrivateKey(keys.Signing)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))

	sb, err := sandbox.New(sandbox.Config{})
	require.NoError(t, err)
	var banner proctest.Output
	done := make(chan error, 1)
	ctx, cancel := contextWithCancel(t)
	go func() {
		done <- sb.ListenAndServe(ctx, sandbox.ServeOptions{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, Banner: &banner})
	}()
	require.Eventually(t, func() bool { return strings.Contains(banner.String(), "https://") }, 5*time.Second, 10*time.Millisecond)
	addr := strings.Fields(strings.TrimPrefix(strings.SplitN(banner.String(), "\n", 2)[0], "IRP sandbox NIC1: "))[0]
	pool := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Get(addr + "/eivital/v1.04/heartbeat/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)
}
