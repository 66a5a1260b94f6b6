package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
)

// A document the IRP refused is listed over REST with the IRP's reason, under NIC's names
// for the document's fields; the list keeps the REST face's rules (the caller must hold
// the GSTIN, a bad filter is a 400 naming it).
func TestUnregisteredDocumentsOverREST(t *testing.T) {
	e := startE2E(t, "")
	code, res, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	require.Equal(t, http.StatusOK, code, "%v", res)
	inv := e2eInvoice("")
	inv["BuyerDtls"].(map[string]any)["Gstin"] = sandbox.GSTINInactive
	b := inv["BuyerDtls"].(map[string]any)
	b["Pos"], b["Stcd"], b["Pin"], b["Loc"] = "29", "29", 570001, "Mysuru"
	item := inv["ItemList"].([]any)[0].(map[string]any)
	item["IgstAmt"], item["CgstAmt"], item["SgstAmt"] = 0, 5, 5
	inv["ValDtls"] = map[string]any{"AssVal": 200, "CgstVal": 5, "SgstVal": 5, "TotInvVal": 210}
	code, res, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, inv, nil)
	require.Equal(t, http.StatusBadGateway, code, "%v", res)

	path := "/v1/einvoice/sellers/" + e2eSeller + "/unregistered"
	code, list, hdr := e.call(t, http.MethodGet, path+"?state=FAILED", e.seller, nil, nil)
	require.Equal(t, http.StatusOK, code, "%v", list)
	require.NotEmpty(t, hdr.Get("X-Request-Id"))
	docs := list["documents"].([]any)
	require.Len(t, docs, 1, "the registered document is not listed")
	d := docs[0].(map[string]any)
	require.Equal(t, inv["DocDtls"].(map[string]any)["No"], d["DocNo"])
	require.Equal(t, "INV", d["DocTyp"])
	require.Equal(t, sandbox.GSTINInactive, d["BuyerGstin"])
	require.InDelta(t, 210, d["TotInvVal"], 0.001)
	require.Equal(t, "FAILED", d["state"])
	require.Contains(t, d["lastError"], "3029")
	require.NotEmpty(t, d["Irn"])
	require.NotEmpty(t, d["updatedAt"])

	code, _, _ = e.call(t, http.MethodGet, path, e.other, nil, nil)
	require.Equal(t, http.StatusForbidden, code)
	code, bad, _ := e.call(t, http.MethodGet, path+"?state=ACTIVE", e.seller, nil, nil)
	require.Equal(t, http.StatusBadRequest, code, "%v", bad)
	require.Contains(t, bad["error"].(map[string]any)["args"].(map[string]any)["errorLocation"], "state")
}
