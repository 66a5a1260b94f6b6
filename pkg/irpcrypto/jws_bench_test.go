package irpcrypto_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// BenchmarkVerify checks one SignedInvoice-sized JWS (a 2.5 KB data claim), as einvoice
// does for every registration: with a Verifier built once, and with Verify building one.
func BenchmarkVerify(b *testing.B) {
	signer := newSigner(b)
	tok, err := signer.Sign([]byte(`{"Irn":"` + strings.Repeat("a", 64) + `","Note":"` + strings.Repeat("x", 2500) + `"}`))
	require.NoError(b, err)
	certs := []*x509.Certificate{signer.Cert}
	b.Run("Verifier", func(b *testing.B) {
		v, err := irpcrypto.NewVerifier(certs)
		require.NoError(b, err)
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := irpcrypto.Verify(tok, certs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
