package einvoice_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// listAll pages through ListIrns with req's filters, page_size at a time.
func listAll(t *testing.T, client einvoicev1.EInvoiceServiceClient, req *einvoicev1.ListIrnsRequest) (entries []*einvoicev1.IrnEntry, pages int) {
	t.Helper()
	for {
		res, err := client.ListIrns(t.Context(), req)
		require.NoError(t, err)
		pages++
		entries = append(entries, res.GetIrns()...)
		if res.GetNextPageToken() == "" {
			return entries, pages
		}
		require.Len(t, res.GetIrns(), int(req.GetPageSize()), "only the last page is short")
		req.PageToken = res.GetNextPageToken()
	}
}

func irnsOf[E interface{ GetIrn() string }](es []E) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.GetIrn()
	}
	return out
}

// A seller's registrations come back newest first, page by page, each once, filtered by
// AckDt and status; documents the IRP never registered are not listed.
func TestListIrns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		register := func(n int) []*einvoicev1.IrnDetails {
			var out []*einvoicev1.IrnDetails
			for range n {
				res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
				require.NoError(t, err)
				out = append(out, res.GetDetails())
			}
			return out
		}
		day1 := register(4) // within one second: the IRN keeps pages apart
		e.sb.Clock.Advance(24 * time.Hour)
		day2 := register(3)
		for _, d := range day2[:2] {
			_, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: d.GetIrn(), CnlRsn: "2", CnlRem: "Data entry mistake"})
			require.NoError(t, err)
		}
		refused := inactiveBuyerInvoice(e.sb.Clock.Now()) // stored FAILED: never registered
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, refused)})
		info, _ := errorInfo(t, err)
		require.Equal(t, "3029", info.GetMetadata()["irp_error_codes"])

		all, pages := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, PageSize: 3})
		require.Equal(t, 3, pages)
		require.Len(t, all, 7)
		want := irnsOf(append(slices.Clone(day1), day2...))
		require.ElementsMatch(t, want, irnsOf(all), "every registration once")
		require.True(t, slices.IsSortedFunc(all, func(a, b *einvoicev1.IrnEntry) int {
			if a.GetAckDt() != b.GetAckDt() {
				return -strings.Compare(a.GetAckDt(), b.GetAckDt())
			}
			return -strings.Compare(a.GetIrn(), b.GetIrn())
		}), "newest first")
		first := all[len(all)-1]
		require.Contains(t, irnsOf(all[len(all)-4:]), day1[0].GetIrn())
		require.Equal(t, "INV", first.GetDocTyp())
		require.Equal(t, buyer, first.GetBuyerGstin())
		require.InDelta(t, 105, first.GetTotInvVal(), 0.001)
		require.Equal(t, irpclient.NIC1, first.GetIrp())
		require.NotEmpty(t, first.GetDocNo())
		require.Equal(t, e.sb.Clock.Now().Add(-24*time.Hour).In(irpclient.IST).Format("02/01/2006"), first.GetDocDt())

		cnl, _ := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, Status: "CNL"})
		require.ElementsMatch(t, irnsOf(day2[:2]), irnsOf(cnl))
		for _, c := range cnl {
			require.Equal(t, "CNL", c.GetStatus())
			require.NotEmpty(t, c.GetCancelDate())
		}
		act, _ := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, Status: "act", PageSize: 2})
		require.ElementsMatch(t, irnsOf(append(slices.Clone(day1), day2[2])), irnsOf(act))

		today := e.sb.Clock.Now().In(irpclient.IST).Format(time.DateOnly)
		yesterday := e.sb.Clock.Now().Add(-24 * time.Hour).In(irpclient.IST).Format(time.DateOnly)
		byDay, _ := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, FromDate: today})
		require.ElementsMatch(t, irnsOf(day2), irnsOf(byDay))
		byDay, _ = listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, FromDate: yesterday, ToDate: yesterday, PageSize: 1})
		require.ElementsMatch(t, irnsOf(day1), irnsOf(byDay))

		none, err := e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{Gstin: buyer})
		require.NoError(t, err)
		require.Empty(t, none.GetIrns(), "another seller's are not listed")
	})
}

// The buyer and document type filters select only their documents, alone or together, and a
// page token only goes with the buyer and type it was listed with.
func TestListIrnsByBuyerAndDocType(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		const buyer2 = "24AAAPI3182M002" // a NIC test GSTIN in Gujarat
		register := func(typ, buyerGSTIN string) string {
			inv := invoiceMap(e.sb.Clock.Now(), "", 1)
			inv["DocDtls"].(map[string]any)["Typ"] = typ
			if typ == "CRN" {
				inv["RefDtls"] = map[string]any{"PrecDocDtls": []any{map[string]any{"InvNo": "E-ORIG-1", "InvDt": inv["DocDtls"].(map[string]any)["Dt"]}}}
			}
			if buyerGSTIN != buyer {
				b := inv["BuyerDtls"].(map[string]any)
				b["Gstin"], b["Pos"], b["Stcd"], b["Pin"], b["Loc"] = buyerGSTIN, "24", "24", 380001, "Ahmedabad"
			}
			res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			require.NoError(t, err)
			return res.GetDetails().GetIrn()
		}
		inv1, inv2 := register("INV", buyer), register("INV", buyer)
		crn := register("CRN", buyer)
		other := register("INV", buyer2)
		otherCRN := register("CRN", buyer2)

		for _, c := range []struct {
			req  *einvoicev1.ListIrnsRequest
			want []string
		}{
			{&einvoicev1.ListIrnsRequest{BuyerGstin: buyer2}, []string{other, otherCRN}},
			{&einvoicev1.ListIrnsRequest{BuyerGstin: strings.ToLower(buyer), PageSize: 1}, []string{inv1, inv2, crn}},
			{&einvoicev1.ListIrnsRequest{DocType: "crn"}, []string{crn, otherCRN}},
			{&einvoicev1.ListIrnsRequest{BuyerGstin: buyer, DocType: "INV", PageSize: 1}, []string{inv1, inv2}},
			{&einvoicev1.ListIrnsRequest{BuyerGstin: "URP"}, nil},
		} {
			c.req.Gstin = seller
			got, _ := listAll(t, e.client, c.req)
			require.ElementsMatch(t, c.want, irnsOf(got), "buyer %q, type %q", c.req.GetBuyerGstin(), c.req.GetDocType())
			for _, g := range got {
				if c.req.GetDocType() != "" {
					require.Equal(t, strings.ToUpper(c.req.GetDocType()), g.GetDocTyp())
				}
			}
		}

		page, err := e.client.ListIrns(t.Context(), &einvoicev1.ListIrnsRequest{Gstin: seller, BuyerGstin: buyer, PageSize: 1})
		require.NoError(t, err)
		_, err = e.client.ListIrns(t.Context(), &einvoicev1.ListIrnsRequest{Gstin: seller, BuyerGstin: buyer2, PageSize: 1, PageToken: page.GetNextPageToken()})
		_, vs := errorInfo(t, err)
		require.Equal(t, "page_token", vs[0].GetField(), "a token listed for one buyer does not page another")
	})
}

// cancellable lists the active registrations CancelIrn would still take by time, and each
// entry's CancelBy says until when: what the list says, CancelIrn does.
func TestListIrnsCancellable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		register := func() *einvoicev1.IrnDetails {
			res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
			require.NoError(t, err)
			return res.GetDetails()
		}
		closed := register()
		e.sb.Clock.Advance(23 * time.Hour)
		open, open2, cancelled := register(), register(), register()
		_, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: cancelled.GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.NoError(t, err)
		e.sb.Clock.Advance(2 * time.Hour) // closed is 25 hours old, open 2

		got, _ := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, Cancellable: true, PageSize: 1})
		require.ElementsMatch(t, []string{open.GetIrn(), open2.GetIrn()}, irnsOf(got))
		ack, err := time.ParseInLocation(time.DateTime, open.GetAckDt(), irpclient.IST)
		require.NoError(t, err)
		for _, g := range got {
			require.Equal(t, ack.Add(24*time.Hour).Format(time.DateTime), g.GetCancelBy())
		}

		all, _ := listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller})
		cancelBy := map[string]string{}
		for _, a := range all {
			cancelBy[a.GetIrn()] = a.GetCancelBy()
		}
		require.Empty(t, cancelBy[closed.GetIrn()], "its window has closed")
		require.Empty(t, cancelBy[cancelled.GetIrn()], "it is cancelled")
		require.NotEmpty(t, cancelBy[open.GetIrn()])

		_, err = e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: closed.GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		_, err = e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: open.GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.NoError(t, err)
		got, _ = listAll(t, e.client, &einvoicev1.ListIrnsRequest{Gstin: seller, Cancellable: true, Status: "ACT"})
		require.Equal(t, []string{open2.GetIrn()}, irnsOf(got))

		_, err = e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{Gstin: seller, Cancellable: true, Status: "CNL"})
		_, vs := errorInfo(t, err)
		require.Len(t, vs, 1)
		require.Equal(t, "cancellable ONE_OF", vs[0].GetField()+" "+vs[0].GetReason())
	})
}

// Every fault of a list request is named at once; a page token only goes with its filters.
func TestListIrnsRefusesBadRequests(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	_, err := e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{
		FromDate: "21/11/2026", ToDate: "2026-13-01", Status: "OPEN",
		BuyerGstin: "27-AAAPI3182M", DocType: "BILL", PageSize: 5000, PageToken: "%%%",
	})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, vs := errorInfo(t, err)
	var fields []string
	for _, v := range vs {
		fields = append(fields, v.GetField()+" "+v.GetReason())
	}
	require.Equal(t, []string{
		"gstin REQUIRED", "from_date INVALID_DATE", "to_date INVALID_DATE", "status INVALID_ENUM",
		"buyer_gstin INVALID_FORMAT", "doc_type INVALID_ENUM", "page_size OUT_OF_RANGE", "page_token INVALID_FORMAT",
	}, fields)

	_, err = e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{Gstin: seller, FromDate: "2026-11-21", ToDate: "2026-11-20"})
	_, vs = errorInfo(t, err)
	require.Equal(t, "to_date", vs[0].GetField())
	require.Equal(t, "to_date 2026-11-20 is before from_date 2026-11-21", vs[0].GetDescription())

	for range 2 {
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
	}
	page, err := e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{Gstin: seller, PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.GetNextPageToken())
	_, err = e.client.ListIrns(ctx, &einvoicev1.ListIrnsRequest{Gstin: seller, Status: "CNL", PageSize: 1, PageToken: page.GetNextPageToken()})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, vs = errorInfo(t, err)
	require.Equal(t, "page_token", vs[0].GetField())
	require.Contains(t, vs[0].GetDescription(), "other filters")

	other := metadata.AppendToOutgoingContext(ctx, testCallerGSTINs, buyer)
	_, err = e.client.ListIrns(other, &einvoicev1.ListIrnsRequest{Gstin: seller})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
}
