package gateway

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Allow header of a 405 lists what the REST API answers on the path, from the
// OpenAPI document the routes are generated with.
func TestAllowed(t *testing.T) {
	irn := "2ecc42a8e81dcbbb56923e4bd046c861ce7374060bd31875ce35447e922c9399"
	for _, tc := range []struct{ path, want string }{
		{"/v1/einvoice/irn", "POST"},
		{"/v1/einvoice/irn/" + irn, "GET, HEAD"},
		{"/v1/einvoice/irn/" + irn + "/qr", "GET, HEAD"},
		// "cancel" is also a valid {irn} segment as far as routing goes.
		{"/v1/einvoice/irn/cancel", "GET, HEAD, POST"},
		{"/v1/auth/api-keys", "GET, HEAD, POST"},
		{"/v1/auth/api-keys/ak_1", "DELETE"},
		{"/v1/auth/credentials/29AWGPV7107B1Z1/NIC1:rotate", "POST"},
		// A document number may hold "/".
		{"/v1/einvoice/documents/29AWGPV7107B1Z1/INV/INV/2026-27/001", "GET, HEAD"},
		{"/v1/nothing", ""},
	} {
		require.Equal(t, tc.want, allowed(tc.path), tc.path)
	}
}

// A query string is checked against the route's parameters from the OpenAPI document: an
// unknown name (grpc-gateway would drop it) and an ill-typed value are named.
func TestQueryViolations(t *testing.T) {
	irn := "2ecc42a8e81dcbbb56923e4bd046c861ce7374060bd31875ce35447e922c9399"
	for _, tc := range []struct {
		method, target string
		want           []fieldViolation
	}{
		{"GET", "/v1/einvoice/irn/" + irn + "?gstin=29AWGPV7107B1Z1&irp=NIC1", nil},
		{"GET", "/v1/einvoice/irn/" + irn + "?gstn=29AWGPV7107B1Z1", []fieldViolation{{
			"gstn", "UNKNOWN_FIELD",
			"gstn is not a query parameter of GET /v1/einvoice/irn/{irn} (it takes gstin, irp, refresh)",
		}}},
		{"POST", "/v1/einvoice/irn?largeTaxpayer=maybe", []fieldViolation{{
			"largeTaxpayer", "INVALID_TYPE",
			`largeTaxpayer must be true or false, not "maybe"`,
		}}},
		{"POST", "/v1/einvoice/irn?large_taxpayer=true&irp=NIC2", nil},
		{"GET", "/v1/einvoice/irn/" + irn + "/qr?size=big", []fieldViolation{{
			"size", "INVALID_TYPE",
			`size must be a whole number (32-bit), not "big"`,
		}}},
		{"GET", "/v1/einvoice/irn/" + irn + "?irp=NIC1&irp=NIC2", []fieldViolation{{
			"irp", "INVALID_TYPE",
			"irp is given 2 times; it takes one value",
		}}},
		{"POST", "/v1/einvoice/irn/cancel?force=1", []fieldViolation{{
			"force", "UNKNOWN_FIELD",
			"force is not a query parameter of POST /v1/einvoice/irn/cancel (it takes none)",
		}}},
		// "cancel" read as an IRN by GET: the get route's parameters.
		{"GET", "/v1/einvoice/irn/cancel?gstin=29AWGPV7107B1Z1", nil},
		{"GET", "/v1/einvoice/documents/29AWGPV7107B1Z1/INV/INV/2026-27/001?docDate=01/04/2026", nil},
		// Routes the API does not have are the mux's to answer.
		{"GET", "/v1/nothing?x=1", nil},
		{"PUT", "/v1/einvoice/irn?x=1", nil},
	} {
		u, err := url.Parse(tc.target)
		require.NoError(t, err)
		require.Equal(t, tc.want, queryViolations(tc.method, u.Path, u.Query()), "%s %s", tc.method, tc.target)
	}
}
