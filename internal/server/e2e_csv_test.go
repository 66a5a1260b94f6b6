package server_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// getCSV GETs path with the API key and returns the status, headers and body.
func (e *e2e) getCSV(t *testing.T, path, key string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.base+path, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(raw)
}

// The CSV export holds exactly what ListIrns lists, as rows under IrnEntry's names, with
// ListIrns's filters and rules, over real HTTP with an API key.
func TestIrnsCSV(t *testing.T) {
	e := startE2E(t, "")
	var irns []string
	for range 3 {
		code, res, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
		require.Equal(t, http.StatusOK, code, "%v", res)
		irns = append(irns, res["details"].(map[string]any)["Irn"].(string))
	}
	code, res, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn/cancel", e.seller, map[string]any{"Irn": irns[0], "CnlRsn": "1", "CnlRem": "Duplicate"}, nil)
	require.Equal(t, http.StatusOK, code, "%v", res)

	code, hdr, body := e.getCSV(t, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv", e.sellerKey)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "text/csv; charset=utf-8", hdr.Get("Content-Type"))
	require.Equal(t, `attachment; filename="irns-`+e2eSeller+`.csv"`, hdr.Get("Content-Disposition"))
	require.NotEmpty(t, hdr.Get("X-Request-Id"))
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{
		"Irn", "AckNo", "AckDt", "Status", "DocTyp", "DocNo", "DocDt", "BuyerGstin",
		"TotInvVal", "CancelDate", "Irp", "EwbNo", "unverified", "cancelBy",
	}, rows[0])

	_, list, _ := e.call(t, http.MethodGet, "/v1/einvoice/sellers/"+e2eSeller+"/irns", e.seller, nil, nil)
	entries := list["irns"].([]any)
	require.Len(t, rows, 1+len(entries), "one row per listed registration")
	for i, it := range entries {
		want := it.(map[string]any)
		row := rows[1+i]
		require.Equal(t, want["Irn"], row[0], "in the list's order")
		require.Equal(t, want["AckNo"], row[1]) // protojson writes int64 as a string
		require.Equal(t, want["AckDt"], row[2])
		require.Equal(t, want["Status"], row[3])
		require.Equal(t, []string{"INV", e2eBuyer, "210.00", "NIC1"}, []string{row[4], row[7], row[8], row[10]})
		require.Equal(t, want["DocNo"], row[5], "a number with / stays one field")
		require.Equal(t, strconv.FormatBool(want["unverified"] == true), row[12])
		if want["Status"] == "CNL" {
			require.NotEmpty(t, row[9])
			require.Empty(t, row[13])
		} else {
			require.Equal(t, want["cancelBy"], row[13])
		}
	}
	var listed []string
	for _, r := range rows[1:] {
		listed = append(listed, r[0])
	}
	for _, irn := range irns {
		require.True(t, slices.Contains(listed, irn), irn)
	}

	code, _, body = e.getCSV(t, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv?status=CNL", e.sellerKey)
	require.Equal(t, http.StatusOK, code, body)
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, irns[0], rows[1][0])

	code, _, body = e.getCSV(t, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv?pageSize=5&status=OPEN&colour=red", e.sellerKey)
	require.Equal(t, http.StatusBadRequest, code, body)
	for _, name := range []string{"pageSize is not a query parameter", "colour is not a query parameter", "status"} {
		require.Contains(t, body, name)
	}
	code, _, body = e.getCSV(t, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv?toDate=21-11-2026", e.sellerKey)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, "to_date must be a date written yyyy-MM-dd", "the service's own rule, named")

	code, _, body = e.getCSV(t, "/v1/einvoice/sellers/"+e2eOther+"/irns.csv", e.sellerKey)
	require.Equal(t, http.StatusForbidden, code, body)
	code, _, body = e.getCSV(t, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv", "")
	require.Equal(t, http.StatusUnauthorized, code, body)

	code, res, hdr = e.call(t, http.MethodPost, "/v1/einvoice/sellers/"+e2eSeller+"/irns.csv", e.seller, nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, code, "%v", res)
	require.Equal(t, "GET, HEAD", hdr.Get("Allow"))
}
