package einvoice_test

import (
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
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
)

// listUnregistered pages through ListUnregisteredDocuments with req's filters.
func listUnregistered(t *testing.T, client einvoicev1.EInvoiceServiceClient, req *einvoicev1.ListUnregisteredDocumentsRequest) (docs []*einvoicev1.UnregisteredDocument, pages int) {
	t.Helper()
	for {
		res, err := client.ListUnregisteredDocuments(t.Context(), req)
		require.NoError(t, err)
		pages++
		docs = append(docs, res.GetDocuments()...)
		if res.GetNextPageToken() == "" {
			return docs, pages
		}
		require.Len(t, res.GetDocuments(), int(req.GetPageSize()), "only the last page is short")
		req.PageToken = res.GetNextPageToken()
	}
}

func docNosOf(ds []*einvoicev1.UnregisteredDocument) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.GetDocNo()
	}
	return out
}

// The documents a seller has stored but not registered come back the most recently written
// first, page by page: those the IRP refused with its reasons, those whose outcome is not
// known yet; registrations are not listed, nor a refused document once it registers. A
// read of a refused one says what irpgate holds and why.
func TestListUnregisteredDocuments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)

		var refused []map[string]any // the IRP refuses each: its buyer is inactive
		for range 3 {
			e.sb.Clock.Advance(time.Second)
			inv := inactiveBuyerInvoice(e.sb.Clock.Now())
			_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			info, _ := errorInfo(t, err)
			require.Equal(t, "3029", info.GetMetadata()["irp_error_codes"])
			refused = append(refused, inv)
		}
		// One whose answer is lost: PENDING, its outcome unknown.
		e.sb.Clock.Advance(time.Second)
		e.sb.SetFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}})
		_, once := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		lost := invoiceMap(e.sb.Clock.Now(), "", 1)
		_, err = once.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, lost)})
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason())
		e.sb.SetFaults(sandbox.Faults{})

		docNo := func(inv map[string]any) string { return inv["DocDtls"].(map[string]any)["No"].(string) }
		all, pages := listUnregistered(t, e.client, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, PageSize: 2})
		require.Equal(t, 2, pages)
		require.Equal(t, []string{docNo(lost), docNo(refused[2]), docNo(refused[1]), docNo(refused[0])}, docNosOf(all),
			"the most recently written first")

		pending := all[0]
		require.Equal(t, "PENDING", pending.GetState())
		require.Empty(t, pending.GetLastError())
		require.Equal(t, info.GetMetadata()["irn"], pending.GetIrn(), "the IRN to read it by")
		failed := all[3]
		require.Equal(t, "FAILED", failed.GetState())
		require.Equal(t, "INV", failed.GetDocTyp())
		require.Equal(t, sandbox.GSTINInactive, failed.GetBuyerGstin())
		require.InDelta(t, 105, failed.GetTotInvVal(), 0.001)
		require.Equal(t, irpclient.NIC1, failed.GetIrp())
		require.Len(t, failed.GetIrn(), 64)
		require.Regexp(t, `^refused by NIC1: 3029 \S.*`, failed.GetLastError(), "the IRP's code and message")
		require.Equal(t, e.sb.Clock.Now().Add(-4*time.Second).In(irpclient.IST).Format("02/01/2006"), failed.GetDocDt())
		at, err := time.Parse(time.RFC3339Nano, failed.GetUpdatedAt())
		require.NoError(t, err)
		require.True(t, at.Equal(e.sb.Clock.Now().Add(-3*time.Second)), "%v", at)

		onlyFailed, _ := listUnregistered(t, e.client, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, State: "failed", PageSize: 1})
		require.Equal(t, docNosOf(all[1:]), docNosOf(onlyFailed))
		onlyPending, _ := listUnregistered(t, e.client, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, State: "PENDING"})
		require.Equal(t, []string{docNo(lost)}, docNosOf(onlyPending))

		// Asked about by document or IRN, a refused one is not at the IRP, and the answer
		// says what irpgate holds and why.
		_, err = e.client.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{Gstin: seller, DocType: "INV", DocNo: docNo(refused[1])})
		require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		info, _ = errorInfo(t, err)
		require.Equal(t, "FAILED", info.GetMetadata()["stored_state"])
		require.Equal(t, all[2].GetLastError(), info.GetMetadata()["last_error"])
		require.Contains(t, status.Convert(err).Message(), "irpgate holds the document FAILED (refused by NIC1: 3029 ")
		_, err = e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: all[2].GetIrn()})
		info, _ = errorInfo(t, err)
		require.Equal(t, "FAILED", info.GetMetadata()["stored_state"], "%v", err)

		// The first refused document, corrected (an active buyer), registers: no longer listed.
		fixed := invoiceMap(e.sb.Clock.Now(), docNo(refused[0]), 1)
		fixed["DocDtls"] = refused[0]["DocDtls"]
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, fixed)})
		require.NoError(t, err)
		left, _ := listUnregistered(t, e.client, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, State: "FAILED"})
		require.Equal(t, []string{docNo(refused[2]), docNo(refused[1])}, docNosOf(left))

		none, err := e.client.ListUnregisteredDocuments(ctx, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: buyer})
		require.NoError(t, err)
		require.Empty(t, none.GetDocuments(), "another seller's are not listed")
	})
}

// Every bad field is named at once; a page token goes only with the filter it was listed
// with; a caller without the GSTIN is refused.
func TestListUnregisteredDocumentsRefusesBadRequests(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	_, err := e.client.ListUnregisteredDocuments(ctx, &einvoicev1.ListUnregisteredDocumentsRequest{State: "ACTIVE", PageSize: -1, PageToken: "%%%"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, vs := errorInfo(t, err)
	var fields []string
	for _, v := range vs {
		fields = append(fields, v.GetField()+" "+v.GetReason())
	}
	require.Equal(t, []string{"gstin REQUIRED", "state INVALID_ENUM", "page_size OUT_OF_RANGE", "page_token INVALID_FORMAT"}, fields)

	for range 2 {
		e.sb.Clock.Advance(time.Second)
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inactiveBuyerInvoice(e.sb.Clock.Now()))})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	}
	page, err := e.client.ListUnregisteredDocuments(ctx, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.GetNextPageToken())
	_, err = e.client.ListUnregisteredDocuments(ctx, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller, State: "FAILED", PageToken: page.GetNextPageToken()})
	_, vs = errorInfo(t, err)
	require.Equal(t, "page_token", vs[0].GetField())
	require.Contains(t, vs[0].GetDescription(), "other filters")

	other := metadata.AppendToOutgoingContext(ctx, testCallerGSTINs, buyer)
	_, err = e.client.ListUnregisteredDocuments(other, &einvoicev1.ListUnregisteredDocumentsRequest{Gstin: seller})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
}
