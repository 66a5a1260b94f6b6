package callerauth_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/irpgate/irpgate/internal/callerauth"
)

func TestCaller_MayActFor(t *testing.T) {
	cases := []struct {
		name   string
		caller callerauth.Caller
		gstin  string
		want   bool
	}{
		{"listed GSTIN", callerauth.Caller{GSTINs: []string{"29AAACP7879D1Z0"}}, "29AAACP7879D1Z0", true},
		{"listed GSTIN in lower case", callerauth.Caller{GSTINs: []string{"29AAACP7879D1Z0"}}, "29aaacp7879d1z0", true},
		{"unlisted GSTIN", callerauth.Caller{GSTINs: []string{"29AAACP7879D1Z0"}}, "09AAJCM7191E1Z5", false},
		{"GSTIN of a listed PAN in another state", callerauth.Caller{PANs: []string{"AAACP7879D"}}, "27AAACP7879D1Z8", true},
		{"GSTIN of another PAN", callerauth.Caller{PANs: []string{"AAACP7879D"}}, "09AAJCM7191E1Z5", false},
		{"short string never matches a PAN", callerauth.Caller{PANs: []string{"AAACP7879D"}}, "AAACP7879D", false},
		{"admin acts for any GSTIN", callerauth.Caller{Admin: true}, "09AAJCM7191E1Z5", true},
		{"service acts for any GSTIN", callerauth.Caller{Service: true}, "09AAJCM7191E1Z5", true},
		{"empty GSTIN", callerauth.Caller{GSTINs: []string{""}}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.caller.MayActFor(tc.gstin))
		})
	}
}

func TestRequireGSTIN(t *testing.T) {
	ctx := callerauth.NewContext(t.Context(), callerauth.Caller{GSTINs: []string{"29AAACP7879D1Z0"}})
	require.NoError(t, callerauth.RequireGSTIN(ctx, "29AAACP7879D1Z0"))
	require.Equal(t, codes.PermissionDenied, status.Code(callerauth.RequireGSTIN(ctx, "09AAJCM7191E1Z5")))
	require.Equal(t, codes.Unauthenticated, status.Code(callerauth.RequireGSTIN(t.Context(), "29AAACP7879D1Z0")))
	require.Equal(t, codes.PermissionDenied, status.Code(callerauth.RequireAdmin(ctx)))
}
