package gateway

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fullstorydev/grpchan/inprocgrpc"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
)

// pagedIrns answers ListIrns from n entries, a page size at a time, and fails from call
// failFrom on (never when 0). It records what each call asked.
type pagedIrns struct {
	einvoicev1.UnimplementedEInvoiceServiceServer
	n, failFrom int
	calls       []*einvoicev1.ListIrnsRequest
	auth, ids   []string
}

func (p *pagedIrns) ListIrns(ctx context.Context, req *einvoicev1.ListIrnsRequest) (*einvoicev1.ListIrnsResponse, error) {
	p.calls = append(p.calls, req)
	md, _ := metadata.FromIncomingContext(ctx)
	p.auth = append(p.auth, strings.Join(md.Get("authorization"), ","))
	p.ids = append(p.ids, strings.Join(md.Get("x-request-id"), ","))
	if p.failFrom > 0 && len(p.calls) >= p.failFrom {
		return nil, status.Error(codes.Unavailable, "the store does not answer")
	}
	start := 0
	if req.GetPageToken() != "" {
		_, _ = fmt.Sscanf(req.GetPageToken(), "after-%d", &start)
	}
	res := &einvoicev1.ListIrnsResponse{}
	for i := start; i < min(start+int(req.GetPageSize()), p.n); i++ {
		res.Irns = append(res.Irns, &einvoicev1.IrnEntry{Irn: fmt.Sprintf("irn-%03d", i), AckNo: int64(1000 + i), Status: "ACT"})
	}
	if end := start + int(req.GetPageSize()); end < p.n {
		res.NextPageToken = fmt.Sprintf("after-%d", end)
	}
	return res, nil
}

func serveCSV(t *testing.T, svc *pagedIrns) *httptest.Server {
	t.Helper()
	ch := new(inprocgrpc.Channel)
	einvoicev1.RegisterEInvoiceServiceServer(ch, svc)
	mux := http.NewServeMux()
	mux.Handle("GET "+csvRoute, irnsCSV(einvoicev1.NewEInvoiceServiceClient(ch)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// The file walks every page with the same filters and the caller's token, in order.
func TestIrnsCSVWalksEveryPage(t *testing.T) {
	defer func(n int32) { csvPageSize = n }(csvPageSize)
	csvPageSize = 2
	svc := &pagedIrns{n: 5}
	srv := serveCSV(t, svc)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/einvoice/sellers/29AAACP7879D1Z0/irns.csv?status=ACT&from_date=2026-11-01", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("X-Request-Id", "csv-req-1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `attachment; filename="irns-29AAACP7879D1Z0-2026-11-01.csv"`, res.Header.Get("Content-Disposition"))
	rows, err := csv.NewReader(res.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 6, "the header and 5 entries over 3 pages")
	for i, r := range rows[1:] {
		require.Equal(t, fmt.Sprintf("irn-%03d", i), r[0])
		require.Equal(t, fmt.Sprint(1000+i), r[1])
	}
	require.Len(t, svc.calls, 3)
	for i, c := range svc.calls {
		require.Equal(t, "29AAACP7879D1Z0", c.GetGstin())
		require.Equal(t, "ACT", c.GetStatus())
		require.Equal(t, "2026-11-01", c.GetFromDate())
		require.Equal(t, "Bearer tok", svc.auth[i])
		require.Equal(t, "csv-req-1", svc.ids[i], "the caller's request id, as on the other routes")
	}
	require.Equal(t, []string{"", "after-2", "after-4"}, []string{svc.calls[0].GetPageToken(), svc.calls[1].GetPageToken(), svc.calls[2].GetPageToken()})
}

// A page that fails after rows were sent cuts the response, so the caller cannot take a
// partial file for the whole; one that fails first is the usual error.
func TestIrnsCSVCutOffMidFileIsAnError(t *testing.T) {
	defer func(n int32) { csvPageSize = n }(csvPageSize)
	csvPageSize = 2
	srv := serveCSV(t, &pagedIrns{n: 5, failFrom: 2})
	res, err := http.Get(srv.URL + "/v1/einvoice/sellers/29AAACP7879D1Z0/irns.csv")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the first page went out")
	_, err = io.ReadAll(res.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the body ends early: %v", err)

	srv = serveCSV(t, &pagedIrns{n: 5, failFrom: 1})
	res, err = http.Get(srv.URL + "/v1/einvoice/sellers/29AAACP7879D1Z0/irns.csv")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "the store does not answer")
	require.NotEqual(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
}
