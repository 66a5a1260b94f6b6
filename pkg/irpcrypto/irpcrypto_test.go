package irpcrypto_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

func TestECBRoundTripAndPadding(t *testing.T) {
	key, err := irpcrypto.NewKey()
	require.NoError(t, err)
	for _, n := range []int{0, 1, 15, 16, 17, 32, 1000} {
		msg := []byte(strings.Repeat("x", n))
		ct, err := irpcrypto.EncryptECB(key, msg)
		require.NoError(t, err)
		require.Zero(t, len(ct)%16)
		require.Greater(t, len(ct), n, "PKCS#7 always adds at least one byte")
		pt, err := irpcrypto.DecryptECB(key, ct)
		require.NoError(t, err)
		require.Equal(t, msg, pt)
	}
	other, err := irpcrypto.NewKey()
	require.NoError(t, err)
	ct, err := irpcrypto.EncryptB64(key, []byte(`{"Irn":"x"}`))
	require.NoError(t, err)
	_, err = irpcrypto.DecryptB64(other, ct)
	require.Error(t, err)
}

// The SEK on the wire is 48 bytes (64 base64 characters): 32 key bytes plus a full padding block.
func TestSEKWireSize(t *testing.T) {
	appKey, _ := irpcrypto.NewKey()
	sek, _ := irpcrypto.NewKey()
	enc, err := irpcrypto.EncryptB64(appKey, sek)
	require.NoError(t, err)
	require.Len(t, enc, 64)
}

func TestAuthPayloadRoundTrip(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	payload := []byte(`{"UserName":"u","Password":"p","AppKey":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","ForceRefreshAccessToken":false}`)
	data, err := irpcrypto.EncryptAuthPayload(&priv.PublicKey, payload)
	require.NoError(t, err)
	got, err := irpcrypto.DecryptAuthPayload(priv, data)
	require.NoError(t, err)
	require.Equal(t, payload, got)
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	pub, err := irpcrypto.ParsePublicKey([]byte(base64.StdEncoding.EncodeToString(der)))
	require.NoError(t, err)
	require.True(t, pub.Equal(&priv.PublicKey))
}

func TestThumbprintMatchesKnownPair(t *testing.T) {
	// From the reference: kid EDC57DE1…5047 pairs with x5t 7cV94TWLMAup95NApmloMfPIUEc.
	raw, err := base64.RawURLEncoding.DecodeString("7cV94TWLMAup95NApmloMfPIUEc")
	require.NoError(t, err)
	kid := strings.ToUpper(hex.EncodeToString(raw))
	require.True(t, strings.HasPrefix(kid, "EDC57DE1") && strings.HasSuffix(kid, "5047"), kid)
}

func TestSignVerify(t *testing.T) {
	signer := newSigner(t)
	tok, err := signer.Sign([]byte(`{"Irn":"abc","ItemCnt":1}`))
	require.NoError(t, err)
	got, err := irpcrypto.Verify(tok, []*x509.Certificate{signer.Cert})
	require.NoError(t, err)
	require.Equal(t, "NIC Sandbox", got.Issuer)
	kid, _ := irpcrypto.Thumbprint(signer.Cert)
	require.Equal(t, kid, got.Kid)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got.Data, &m))
	require.Equal(t, "abc", m["Irn"])

	raw, err := irpcrypto.DecodeUnverified(tok)
	require.NoError(t, err)
	require.JSONEq(t, string(got.Data), string(raw))

	other := newSigner(t)
	_, err = irpcrypto.Verify(tok, []*x509.Certificate{other.Cert})
	require.ErrorIs(t, err, irpcrypto.ErrSignature)

	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"data":"{}","iss":"NIC Sandbox"}`)) + "." + parts[2]
	_, err = irpcrypto.Verify(tampered, []*x509.Certificate{signer.Cert})
	require.ErrorIs(t, err, irpcrypto.ErrSignature)
}

func newSigner(t testing.TB) irpcrypto.Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return irpcrypto.Signer{Key: key, Cert: cert, Issuer: "NIC Sandbox"}
}
