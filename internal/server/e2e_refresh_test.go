package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Over REST: an IRN cancelled on the IRP's own portal reads ACT from the store until
// GET /v1/einvoice/irn/{irn}?refresh=true asks the IRP, which stores the cancellation.
func TestRESTRefreshFindsAPortalCancellation(t *testing.T) {
	e := startE2EWith(t, "", nil)
	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	irn := out["details"].(map[string]any)["Irn"].(string)

	_, err := directClient(t, e.srv.SandboxURL).CancelIRN(t.Context(), e2eSeller, irpclient.CancelIRNRequest{Irn: irn, CnlRsn: "2", CnlRem: "portal"})
	require.NoError(t, err)

	code, got, _ := e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn, e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, "ACT", got["details"].(map[string]any)["Status"])

	code, got, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"?refresh=true", e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, true, got["refreshed"])
	require.Equal(t, "CNL", got["details"].(map[string]any)["Status"])

	code, got, _ = e.call(t, http.MethodGet, "/v1/einvoice/irn/"+irn+"?refresh=maybe", e.seller, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", got)
	require.Contains(t, got["error"].(map[string]any)["args"].(map[string]any)["errorLocation"], "refresh")
}
