package einvoice_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// ValidateInvoice tells what GenerateIrn would do with a document, at each stage of its
// life, without writing anything or calling the IRP.
func TestValidateInvoiceIsADryRunOfGenerate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		m := invoiceMap(e.sb.Clock.Now(), "", 2)
		body := docJSON(t, m)
		validate := func(t *testing.T, body []byte) *einvoicev1.ValidateInvoiceResponse {
			t.Helper()
			before := e.sb.Stats().Requests
			res, err := e.client.ValidateInvoice(ctx, &einvoicev1.ValidateInvoiceRequest{Invoice: body})
			require.NoError(t, err)
			require.Equal(t, before, e.sb.Stats().Requests, "the IRP is not called")
			return res
		}

		res := validate(t, body)
		require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REGISTER, res.GetOutcome())
		require.Nil(t, res.GetRegistration())
		var rows int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM einvoice_documents`).Scan(&rows))
		require.Zero(t, rows, "nothing is stored")

		gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
		require.NoError(t, err)
		require.Equal(t, gen.GetDetails().GetIrn(), res.GetIrn(), "the IRN the IRP gave is the one foretold")

		res = validate(t, body)
		require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REPLAY, res.GetOutcome())
		require.True(t, proto.Equal(gen.GetDetails(), res.GetRegistration()), "the stored registration")

		docNo := m["DocDtls"].(map[string]any)["No"].(string)
		reworded := invoiceMap(e.sb.Clock.Now(), docNo, 2) // other content, same buyer and total
		reworded["ItemList"].([]any)[0].(map[string]any)["PrdDesc"] = "Durum wheat"
		res = validate(t, docJSON(t, reworded))
		require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REPLAY, res.GetOutcome(), "as GenerateIrn replays it")

		other := invoiceMap(e.sb.Clock.Now(), docNo, 3) // a larger total
		res = validate(t, docJSON(t, other))
		require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_CONFLICT, res.GetOutcome())
		require.Equal(t, gen.GetDetails().GetAckNo(), res.GetRegistration().GetAckNo())
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, other)})
		require.Equal(t, codes.AlreadyExists, status.Code(err), "as GenerateIrn answers")

		cnl, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: res.GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.NoError(t, err)
		res = validate(t, body)
		require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_CANCELLED, res.GetOutcome())
		require.Equal(t, cnl.GetCancelDate(), res.GetRegistration().GetCancelDate())
		require.Equal(t, "CNL", res.GetRegistration().GetStatus())
	})
}

// An invalid document is the same error as from GenerateIrn, every violation at once.
func TestValidateInvoiceReportsEveryViolation(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	m := invoiceMap(e.sb.Clock.Now(), "", 1)
	m["TranDtls"].(map[string]any)["SupTyp"] = "B2X"
	m["ItemList"].([]any)[0].(map[string]any)["GstRt"] = 7
	body := docJSON(t, m)

	_, verr := e.client.ValidateInvoice(t.Context(), &einvoicev1.ValidateInvoiceRequest{Invoice: body})
	require.Equal(t, codes.InvalidArgument, status.Code(verr), "%v", verr)
	_, gerr := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
	vinfo, vvs := errorInfo(t, verr)
	ginfo, gvs := errorInfo(t, gerr)
	require.True(t, proto.Equal(ginfo, vinfo))
	require.Len(t, vvs, len(gvs))
	for i := range gvs {
		require.True(t, proto.Equal(gvs[i], vvs[i]), "%v against %v", vvs[i], gvs[i])
	}
	fields := []string{}
	for _, v := range vvs {
		fields = append(fields, v.GetField())
	}
	require.Contains(t, fields, "TranDtls -> SupTyp")
	require.Contains(t, fields, "ItemList[0] -> GstRt")

	_, err := e.client.ValidateInvoice(t.Context(), &einvoicev1.ValidateInvoiceRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, vs := errorInfo(t, err)
	require.Equal(t, "invoice", vs[0].GetField())
}

// A caller without the seller GSTIN learns nothing, not even whether the document is valid.
func TestValidateInvoiceNeedsTheSellerGSTIN(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	m := invoiceMap(e.sb.Clock.Now(), "", 1)
	m["TranDtls"].(map[string]any)["SupTyp"] = "B2X"
	ctx := metadata.AppendToOutgoingContext(t.Context(), testCallerGSTINs, buyer)
	_, err := e.client.ValidateInvoice(ctx, &einvoicev1.ValidateInvoiceRequest{Invoice: docJSON(t, m)})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
}

// A document sent whose answer was lost is PENDING: GenerateIrn would finish that
// registration. A document the IRP refused may be sent again: REGISTER.
func TestValidateInvoicePendingAndRefused(t *testing.T) {
	e := setup(t, storetest.SQLite(t), sandboxtest.WithFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate}}))
	_, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
	ctx := t.Context()
	body := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	_, err := client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	res, err := client.ValidateInvoice(ctx, &einvoicev1.ValidateInvoiceRequest{Invoice: body})
	require.NoError(t, err)
	require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_PENDING, res.GetOutcome())

	e.sb.SetFaults(sandbox.Faults{})
	body = docJSON(t, inactiveBuyerInvoice(e.sb.Clock.Now()))
	_, err = client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
	info, _ := errorInfo(t, err)
	require.Equal(t, "3029", info.GetMetadata()["irp_error_codes"])
	res, err = client.ValidateInvoice(ctx, &einvoicev1.ValidateInvoiceRequest{Invoice: body})
	require.NoError(t, err)
	require.Equal(t, einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REGISTER, res.GetOutcome())
}
