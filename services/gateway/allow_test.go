package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The Allow header of a 405 lists what the REST API answers on the path, from the
// OpenAPI document the routes are generated with.
func TestAllowed(t *testing.T) {
	irn := "2ecc42a8e81dcbbb56923e4bd046c861ce7374060bd31875ce35447e922c9399"
	for _, tc := range []struct{ path, want string }{
		{"/v1/einvoice/irn", "POST"},
		{"/v1/einvoice/irn/" + irn, "GET"},
		{"/v1/einvoice/irn/" + irn + "/qr", "GET"},
		// "cancel" is also a valid {irn} segment as far as routing goes.
		{"/v1/einvoice/irn/cancel", "GET, POST"},
		{"/v1/auth/api-keys", "GET, POST"},
		{"/v1/auth/api-keys/ak_1", "DELETE"},
		{"/v1/auth/credentials/29AWGPV7107B1Z1/NIC1:rotate", "POST"},
		// A document number may hold "/".
		{"/v1/einvoice/documents/29AWGPV7107B1Z1/INV/INV/2026-27/001", "GET"},
		{"/v1/nothing", ""},
	} {
		require.Equal(t, tc.want, allowed(tc.path), tc.path)
	}
}
