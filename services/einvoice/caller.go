package einvoice

import (
	"context"

	"github.com/irpgate/irpgate/internal/callerauth"
)

func callerMayActFor(ctx context.Context, gstin string) bool {
	c, ok := callerauth.FromContext(ctx)
	return !ok || c.MayActFor(gstin)
}

// callerScope namespaces Idempotency-Keys per caller, so two API keys never see each
// other's answers through a shared key.
func callerScope(ctx context.Context) string {
	c, ok := callerauth.FromContext(ctx)
	if !ok {
		return ""
	}
	return c.Tenant + "/" + c.KeyID + "/"
}
