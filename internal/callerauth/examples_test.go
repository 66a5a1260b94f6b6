package callerauth_test

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"

	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
)

// A service installs the verifier in its gRPC server; handlers then check
// the GSTIN they act for before anything goes to the IRP.
func ExampleNewVerifier() {
	var keys callerauth.KeySource = callerauth.KeySourceFunc(func(context.Context, string) (crypto.PublicKey, error) {
		return nil, callerauth.ErrUnknownKey // in a service: callerauth.GRPCKeySource(authConn)
	})
	serviceKey := []byte("0123456789abcdef0123456789abcdef")
	v := callerauth.NewVerifier(keys, callerauth.WithServiceKey(serviceKey))
	_ = platform.ServerOptions{Logger: slog.Default(), Auth: v}

	ctx := callerauth.NewContext(context.Background(), callerauth.Caller{Tenant: "acme", PANs: []string{"AAACP7879D"}})
	fmt.Println(callerauth.RequireGSTIN(ctx, "29AAACP7879D1Z0") == nil)
	fmt.Println(callerauth.RequireGSTIN(ctx, "09AAJCM7191E1Z5") == nil)
	// Output:
	// true
	// false
}
