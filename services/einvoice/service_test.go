package einvoice_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/einvoice"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

const (
	seller = "29AAACP7879D1Z0" // Sample Karnataka Co
	buyer  = "27AAAPI3182M002" // Test PAN Maharashtra (a NIC test GSTIN)
)

// testCallerGSTINs is the metadata a test sends to be a caller limited to those GSTINs.
const testCallerGSTINs = "x-test-caller-gstins"

type env struct {
	sb     *sandboxtest.Server
	irp    *irpclient.Client
	svc    *einvoice.Service
	client einvoicev1.EInvoiceServiceClient
	db     *store.DB
}

// setup runs the service on a real gRPC server on 127.0.0.1 against a real sandbox and db.
func setup(t *testing.T, db *store.DB, opts ...sandboxtest.Option) *env {
	t.Helper()
	sb := sandboxtest.Start(t, opts...)
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:       map[string]string{irpclient.NIC1: sb.URL, irpclient.NIC2: sb.NIC2URL},
		DefaultIRP:     irpclient.NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{irpclient.NIC1: sb.PublicKey(), irpclient.NIC2: sb.PublicKey()},
		RetryBaseDelay: 5 * time.Millisecond,
		RetryMaxDelay:  20 * time.Millisecond,
		Timeout:        20 * time.Second,
	})
	require.NoError(t, err)
	ls := irpclient.NewLocalSessions(c, sb.Credentials(), irpclient.WithClock(sb.Clock.Now))
	c = c.WithSessions(ls)

	e := &env{sb: sb, irp: c, db: db}
	e.svc, e.client = e.service(t, nil)
	return e
}

// service starts another service over e's database and IRP client on a real gRPC server on
// 127.0.0.1, with the test configuration changed by edit (if not nil).
func (e *env) service(t *testing.T, edit func(*einvoice.Config)) (*einvoice.Service, einvoicev1.EInvoiceServiceClient) {
	t.Helper()
	cfg := einvoice.Config{
		DB: e.db, IRP: e.irp, Certificates: []*x509.Certificate{e.sb.Certificate()},
		AcceptSandboxGSTINs: true, Now: e.sb.Clock.Now, RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 50 * time.Millisecond, MaxAttempts: 20,
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := einvoice.New(t.Context(), cfg)
	require.NoError(t, err)

	g := grpc.NewServer(grpc.UnaryInterceptor(testCaller))
	svc.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return svc, einvoicev1.NewEInvoiceServiceClient(conn)
}

// testCaller stands in for the caller-auth verifier: metadata names the GSTINs of the caller.
func testCaller(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if v := metadata.ValueFromIncomingContext(ctx, testCallerGSTINs); len(v) > 0 {
		ctx = callerauth.NewContext(ctx, callerauth.Caller{KeyID: "test", GSTINs: strings.Split(v[0], ",")})
	}
	return h(ctx, req)
}

var docSeq atomic.Int64

// invoiceMap is a valid inter-state B2B invoice of n goods lines dated on the sandbox clock.
func invoiceMap(now time.Time, docNo string, n int) map[string]any {
	if docNo == "" {
		docNo = fmt.Sprintf("E%d-%d", now.Unix()%100000, docSeq.Add(1))
	}
	items := make([]any, n)
	for i := range items {
		items[i] = map[string]any{
			"SlNo": fmt.Sprint(i + 1), "PrdDesc": "Wheat", "IsServc": "N", "HsnCd": "1001", "Qty": 1, "Unit": "KGS",
			"UnitPrice": 100, "TotAmt": 100, "AssAmt": 100, "GstRt": 5, "IgstAmt": 5, "TotItemVal": 105,
		}
	}
	return map[string]any{
		"Version":    "1.1",
		"TranDtls":   map[string]any{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls":    map[string]any{"Typ": "INV", "No": docNo, "Dt": now.In(irpclient.IST).Format("02/01/2006")},
		"SellerDtls": map[string]any{"Gstin": seller, "LglNm": "Sample Karnataka Co", "Addr1": "MG Road", "Loc": "Bengaluru", "Pin": 560003, "Stcd": "29"},
		"BuyerDtls":  map[string]any{"Gstin": buyer, "LglNm": "Test PAN Maharashtra", "Pos": "27", "Addr1": "Fort", "Loc": "Mumbai", "Pin": 400001, "Stcd": "27"},
		"ItemList":   items,
		"ValDtls":    map[string]any{"AssVal": 100 * n, "IgstVal": 5 * n, "TotInvVal": 105 * n},
	}
}

// inactiveBuyerInvoice is a valid intra-state invoice to the sandbox's inactive GSTIN: the
// IRP refuses it (3029), so it is never registered.
func inactiveBuyerInvoice(now time.Time) map[string]any {
	inv := invoiceMap(now, "", 1)
	b := inv["BuyerDtls"].(map[string]any)
	b["Gstin"], b["Pos"], b["Stcd"], b["Pin"], b["Loc"] = sandbox.GSTINInactive, "29", "29", 570001, "Mysuru"
	item := inv["ItemList"].([]any)[0].(map[string]any)
	item["IgstAmt"], item["CgstAmt"], item["SgstAmt"] = 0, 2.5, 2.5
	inv["ValDtls"] = map[string]any{"AssVal": 100, "CgstVal": 2.5, "SgstVal": 2.5, "TotInvVal": 105}
	return inv
}

// docJSON is a document as the NIC JSON a caller sends.
func docJSON(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func errorInfo(t *testing.T, err error) (*errdetails.ErrorInfo, []*errdetails.BadRequest_FieldViolation) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status: %v", err)
	var info *errdetails.ErrorInfo
	var vs []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			vs = append(vs, d.GetFieldViolations()...)
		}
	}
	require.NotNil(t, info, "no ErrorInfo in %v", err)
	return info, vs
}

func requireVerified(t *testing.T, sb *sandboxtest.Server, d *einvoicev1.IrnDetails) {
	t.Helper()
	certs := []*x509.Certificate{sb.Certificate()}
	si, err := irpcrypto.Verify(d.GetSignedInvoice(), certs)
	require.NoError(t, err)
	require.Contains(t, string(si.Data), d.GetIrn())
	qr, err := irpcrypto.Verify(d.GetSignedQrCode(), certs)
	require.NoError(t, err)
	require.Contains(t, string(qr.Data), d.GetIrn())
}

func TestIRNLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		now := e.sb.Clock.Now()
		inv := invoiceMap(now, "", 2)

		gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.NoError(t, err)
		d := gen.GetDetails()
		require.False(t, gen.GetReplayed())
		require.Len(t, d.GetIrn(), 64)
		require.NotZero(t, d.GetAckNo())
		require.NotEmpty(t, d.GetAckDt())
		require.Equal(t, "ACT", d.GetStatus())
		requireVerified(t, e.sb, d)
		require.Len(t, e.sb.Registered(), 1)

		t.Run("the same document answers from the store without a second IRP call", func(t *testing.T) {
			calls := e.sb.Stats().GenerateCalls
			again, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			require.NoError(t, err)
			require.True(t, again.GetReplayed())
			require.Equal(t, d.GetIrn(), again.GetDetails().GetIrn())
			require.Equal(t, d.GetAckNo(), again.GetDetails().GetAckNo())
			require.Equal(t, d.GetSignedInvoice(), again.GetDetails().GetSignedInvoice())
			require.True(t, proto.Equal(d, again.GetDetails()), "the first answer is exactly what was stored:\n%v\n%v", d, again.GetDetails())
			require.Equal(t, calls, e.sb.Stats().GenerateCalls)
		})

		t.Run("get by IRN and by document come from the store", func(t *testing.T) {
			gets := e.sb.Stats().GetCalls
			byIRN, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.GetIrn()})
			require.NoError(t, err)
			require.Equal(t, d.GetAckNo(), byIRN.GetDetails().GetAckNo())
			dd := inv["DocDtls"].(map[string]any)
			byDoc, err := e.client.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{
				Gstin: seller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string),
			})
			require.NoError(t, err)
			require.Equal(t, d.GetIrn(), byDoc.GetDetails().GetIrn())
			require.Equal(t, gets, e.sb.Stats().GetCalls)
		})

		t.Run("signed invoice and signed QR verify with their claims", func(t *testing.T) {
			v, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{Token: d.GetSignedInvoice()})
			require.NoError(t, err)
			require.True(t, v.GetValid(), v.GetReason())
			require.Equal(t, "SIGNED_INVOICE", v.GetKind())
			require.Equal(t, "NIC Sandbox", v.GetIssuer())
			require.Equal(t, d.GetIrn(), v.GetClaims().GetFields()["Irn"].GetStringValue())
			q, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{Token: d.GetSignedQrCode()})
			require.NoError(t, err)
			require.True(t, q.GetValid())
			require.Equal(t, "SIGNED_QR_CODE", q.GetKind())
			require.Equal(t, seller, q.GetClaims().GetFields()["SellerGstin"].GetStringValue())

			parts := strings.Split(d.GetSignedQrCode(), ".")
			tampered := parts[0] + "." + parts[1] + "x." + parts[2]
			bad, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{Token: tampered})
			require.NoError(t, err)
			require.False(t, bad.GetValid())
			require.NotEmpty(t, bad.GetReason())
		})

		t.Run("a signed document named as in the IRP's answer must be that kind", func(t *testing.T) {
			v, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{SignedInvoice: d.GetSignedInvoice()})
			require.NoError(t, err)
			require.True(t, v.GetValid(), v.GetReason())
			require.Equal(t, "SIGNED_INVOICE", v.GetKind())
			q, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{SignedQrCode: d.GetSignedQrCode()})
			require.NoError(t, err)
			require.True(t, q.GetValid(), q.GetReason())
			require.Equal(t, "SIGNED_QR_CODE", q.GetKind())

			swapped, err := e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{SignedQrCode: d.GetSignedInvoice()})
			require.NoError(t, err)
			require.False(t, swapped.GetValid(), "a SignedInvoice does not stand for a SignedQRCode")
			require.Equal(t, "given as SignedQRCode, but it is a SignedInvoice", swapped.GetReason())
			require.Equal(t, "SIGNED_INVOICE", swapped.GetKind())

			_, err = e.client.VerifySignedDocument(ctx, &einvoicev1.VerifySignedDocumentRequest{
				Token: d.GetSignedQrCode(), SignedInvoice: d.GetSignedInvoice(),
			})
			require.Equal(t, codes.InvalidArgument, status.Code(err))
			_, vs := errorInfo(t, err)
			require.Len(t, vs, 1)
			require.Equal(t, "SignedInvoice", vs[0].GetField())
			require.Equal(t, "ONE_OF", vs[0].GetReason())
			require.Contains(t, vs[0].GetDescription(), "not both token and SignedInvoice")
		})

		t.Run("cancel moves the record to cancelled; a second cancel is already cancelled", func(t *testing.T) {
			c, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: d.GetIrn(), CnlRsn: "2", CnlRem: "Wrong entry"})
			require.NoError(t, err)
			require.False(t, c.GetAlreadyCancelled())
			require.NotEmpty(t, c.GetCancelDate())
			got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.GetIrn()})
			require.NoError(t, err)
			require.Equal(t, "CNL", got.GetDetails().GetStatus())
			require.Equal(t, c.GetCancelDate(), got.GetDetails().GetCancelDate())
			again, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: d.GetIrn(), CnlRsn: "2", CnlRem: "Wrong entry"})
			require.NoError(t, err)
			require.True(t, again.GetAlreadyCancelled())
			require.Equal(t, "CNL", e.sb.Registered()[0].Status)
		})

		t.Run("a cancelled document is refused, naming its IRN, without an IRP call (2278)", func(t *testing.T) {
			calls := e.sb.Stats().GenerateCalls
			for _, key := range []string{"", "a-new-key"} {
				cctx := ctx
				if key != "" {
					cctx = metadata.AppendToOutgoingContext(ctx, einvoice.IdempotencyKeyHeader, key)
				}
				_, err := e.client.GenerateIrn(cctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
				require.Equal(t, codes.FailedPrecondition, status.Code(err), "key %q: %v", key, err)
				info, _ := errorInfo(t, err)
				require.Equal(t, "ERROR_REASON_DOCUMENT_CANCELLED", info.GetReason())
				require.Equal(t, "2278", info.GetMetadata()["irp_error_codes"])
				require.Equal(t, d.GetIrn(), info.GetMetadata()["irn"])
				require.NotEmpty(t, info.GetMetadata()["cancel_date"])
				require.Contains(t, status.Convert(err).Message(), d.GetIrn())
			}
			require.Equal(t, calls, e.sb.Stats().GenerateCalls)
		})
	})
}

func TestGenerateIrnReportsEveryViolationAtOnce(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	inv := invoiceMap(e.sb.Clock.Now(), "", 1)
	inv["TranDtls"].(map[string]any)["SupTyp"] = "B2X"
	inv["ItemList"].([]any)[0].(map[string]any)["HsnCd"] = "1"
	inv["ValDtls"].(map[string]any)["TotInvVal"] = 999
	_, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	info, vs := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_INVALID_REQUEST", info.GetReason())
	require.GreaterOrEqual(t, len(vs), 3, "%v", vs)
	fields := map[string]bool{}
	for _, v := range vs {
		fields[v.GetField()] = true
		require.NotEmpty(t, v.GetDescription())
		require.NotEmpty(t, v.GetReason())
	}
	require.True(t, fields["TranDtls -> SupTyp"], "%v", fields)
	require.True(t, fields["ItemList[0] -> HsnCd"] || fields["ItemList[1] -> HsnCd"], "%v", fields)
	require.Zero(t, e.sb.Stats().GenerateCalls)
}

func TestIdempotencyKey(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	now := e.sb.Clock.Now()
	inv := invoiceMap(now, "", 1)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", "k-1")
	first, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
	require.NoError(t, err)

	t.Run("same key and body replays the stored answer", func(t *testing.T) {
		again, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.NoError(t, err)
		require.True(t, again.GetReplayed())
		require.Equal(t, first.GetDetails().GetIrn(), again.GetDetails().GetIrn())
		require.EqualValues(t, 1, e.sb.Stats().GenerateCalls)
	})
	t.Run("same key with another body is refused (409 / ALREADY_EXISTS)", func(t *testing.T) {
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(now, "", 1))})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_IDEMPOTENCY_KEY_REUSED", info.GetReason())
		require.Equal(t, "k-1", info.GetMetadata()["idempotency-key"])
		require.EqualValues(t, 1, e.sb.Stats().GenerateCalls)
	})
}

// An Idempotency-Key whose request registered nothing is free again, so an ERP that keys by
// its own invoice id can send the corrected document with it: after the IRP refused the
// document, and after irpgate refused it as cancelled. A key that registered stays bound.
func TestIdempotencyKeyIsFreedWhenNothingWasRegistered(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	now := e.sb.Clock.Now()
	keyed := func(key string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), einvoice.IdempotencyKeyHeader, key)
	}
	generate := func(ctx context.Context, inv map[string]any) (*einvoicev1.GenerateIrnResponse, error) {
		return e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
	}

	t.Run("refused by the IRP", func(t *testing.T) {
		inv := invoiceMap(now, "", 1)
		good := docJSON(t, inv)
		b := inv["BuyerDtls"].(map[string]any)
		b["Gstin"], b["Pos"], b["Stcd"], b["Pin"], b["Loc"] = sandbox.GSTINInactive, "29", "29", 570001, "Mysuru"
		item := inv["ItemList"].([]any)[0].(map[string]any)
		item["IgstAmt"], item["CgstAmt"], item["SgstAmt"] = 0, 2.5, 2.5
		inv["ValDtls"] = map[string]any{"AssVal": 100, "CgstVal": 2.5, "SgstVal": 2.5, "TotInvVal": 105}
		_, err := generate(keyed("erp-1"), inv)
		require.Equal(t, "ERROR_REASON_IRP_ERROR", platform.ReasonOf(err).String(), "%v", err)

		res, err := e.client.GenerateIrn(keyed("erp-1"), &einvoicev1.GenerateIrnRequest{Invoice: good})
		require.NoError(t, err, "the corrected document, with the same key")
		require.False(t, res.GetReplayed())
	})
	t.Run("refused as cancelled", func(t *testing.T) {
		cancelled := invoiceMap(now, "", 1)
		res, err := generate(t.Context(), cancelled)
		require.NoError(t, err)
		_, err = e.client.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: res.GetDetails().GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.NoError(t, err)
		_, err = generate(keyed("erp-2"), cancelled)
		require.Equal(t, "ERROR_REASON_DOCUMENT_CANCELLED", platform.ReasonOf(err).String(), "%v", err)

		_, err = generate(keyed("erp-2"), invoiceMap(now, "", 1))
		require.NoError(t, err, "a new document, with the same key")
		_, err = generate(keyed("erp-2"), invoiceMap(now, "", 1))
		require.Equal(t, codes.AlreadyExists, status.Code(err), "bound by the registration: %v", err)
	})
}

// requireOneViolation: err is INVALID_ARGUMENT with exactly this one field violation.
func requireOneViolation(t *testing.T, err error, field, reason, description string) {
	t.Helper()
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	_, vs := errorInfo(t, err)
	require.Len(t, vs, 1)
	require.Equal(t, field, vs[0].GetField())
	require.Equal(t, reason, vs[0].GetReason())
	require.Equal(t, description, vs[0].GetDescription())
}

// An Idempotency-Key of up to 255 characters is kept on both stores; a longer one is refused
// naming the header, before anything is stored or sent (on PostgreSQL a key of a few
// thousand random characters failed as an internal error: too long for the key's index).
func TestIdempotencyKeyLength(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		long := metadata.AppendToOutgoingContext(t.Context(), einvoice.IdempotencyKeyHeader, strings.Repeat("k", einvoice.MaxIdempotencyKeyLen+1))
		_, err := e.client.GenerateIrn(long, &einvoicev1.GenerateIrnRequest{Invoice: inv})
		requireOneViolation(t, err, "Idempotency-Key", "INVALID_LENGTH", "Idempotency-Key must be at most 255 characters, not 256 (a UUID is 36)")
		require.Zero(t, e.sb.Stats().Requests)

		longest := metadata.AppendToOutgoingContext(t.Context(), einvoice.IdempotencyKeyHeader, strings.Repeat("k", einvoice.MaxIdempotencyKeyLen))
		first, err := e.client.GenerateIrn(longest, &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.NoError(t, err)
		again, err := e.client.GenerateIrn(longest, &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.NoError(t, err)
		require.True(t, again.GetReplayed())
		require.Equal(t, first.GetDetails().GetIrn(), again.GetDetails().GetIrn())
	})
}

func TestCallerWithoutTheSellerGSTINIsRefusedBeforeAnythingIsSent(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := metadata.AppendToOutgoingContext(t.Context(), testCallerGSTINs, "27AAAPI3182M002")
	_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_GSTIN_NOT_ALLOWED", info.GetReason())
	require.Zero(t, e.sb.Stats().Requests)

	allowed := metadata.AppendToOutgoingContext(t.Context(), testCallerGSTINs, seller)
	_, err = e.client.GenerateIrn(allowed, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
}

// Another seller's IRN reads as one the store does not hold: get and cancel by IRN answer
// NOT_FOUND with the same words as for an IRN never registered, and name no seller. (An IRN
// is a hash of the seller GSTIN and document number, so a PERMISSION_DENIED would tell anyone
// who can guess those whether, and whose, the document is.)
func TestAnotherSellersIRNIsNotFound(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	gen, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	irn := gen.GetDetails().GetIrn()
	const otherGSTIN = "27AAAPI3182M002"
	other := metadata.AppendToOutgoingContext(t.Context(), testCallerGSTINs, otherGSTIN)
	unknown := strings.Repeat("b", 64)

	answers := map[string][]string{}
	for _, x := range []string{irn, unknown} {
		_, getErr := e.client.GetIrn(other, &einvoicev1.GetIrnRequest{Irn: x})
		_, cnlErr := e.client.CancelIrn(other, &einvoicev1.CancelIrnRequest{Irn: x, CnlRsn: "1", CnlRem: "Duplicate"})
		for _, err := range []error{getErr, cnlErr} {
			require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
			msg := status.Convert(err).Message()
			require.NotContains(t, msg, seller)
			answers[x] = append(answers[x], strings.ReplaceAll(msg, x, "<irn>"))
		}
	}
	require.Equal(t, answers[unknown], answers[irn], "a stored IRN of another seller reads as an unknown one")

	// Named with the caller's own GSTIN, the IRP is asked, and it does not give another
	// seller's IRN either.
	_, err = e.client.GetIrn(other, &einvoicev1.GetIrnRequest{Irn: irn, Gstin: otherGSTIN})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = e.client.CancelIrn(other, &einvoicev1.CancelIrnRequest{Irn: irn, Gstin: otherGSTIN, CnlRsn: "1", CnlRem: "Duplicate"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	require.Zero(t, e.sb.Stats().CancelCalls)

	// Nothing changed for its seller.
	got, err := e.client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: irn})
	require.NoError(t, err)
	require.Equal(t, "ACT", got.GetDetails().GetStatus())
}

// An IRP irpgate has no URL for is a fault of the request, named with the IRPs there are,
// before anything is stored or sent (it was a 503 from the session look-up, after the
// document had been claimed).
func TestUnknownIRPIsRefusedAsAField(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	inv := invoiceMap(e.sb.Clock.Now(), "", 1)
	check := func(t *testing.T, err error) {
		t.Helper()
		requireOneViolation(t, err, "irp", "INVALID_ENUM", "irp NIC9 is not an IRP irpgate is configured for (NIC1, NIC2; see --irp-urls)")
	}
	_, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv), Irp: "nic9"})
	check(t, err)
	_, err = e.client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: strings.Repeat("a", 64), Gstin: seller, Irp: "NIC9"})
	check(t, err)
	dd := inv["DocDtls"].(map[string]any)
	_, err = e.client.GetIrnByDocument(t.Context(), &einvoicev1.GetIrnByDocumentRequest{
		Gstin: seller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string), Irp: "NIC9",
	})
	check(t, err)
	require.Zero(t, e.sb.Stats().Requests)

	// Nothing was claimed: the document goes to a configured IRP as a new one.
	gen, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv), Irp: "nic2"})
	require.NoError(t, err)
	require.False(t, gen.GetReplayed())
	require.Equal(t, "NIC2", gen.GetDetails().GetIrp())
}

// A document registered earlier (by another system) is reconciled through 2150/DUPIRN.
func TestDuplicateIRNReconciliation2150(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	now := e.sb.Clock.Now()
	register := func(inv map[string]any) *irpclient.IRNDetails {
		b, err := json.Marshal(inv)
		require.NoError(t, err)
		d, err := e.irp.GenerateIRN(ctx, seller, b)
		require.NoError(t, err)
		return d
	}

	t.Run("same buyer and total: the original is adopted", func(t *testing.T) {
		inv := invoiceMap(now, "", 2)
		orig := register(inv)
		got, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.NoError(t, err)
		require.True(t, got.GetReplayed())
		require.Equal(t, orig.Irn, got.GetDetails().GetIrn())
		require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
		requireVerified(t, e.sb, got.GetDetails())
	})
	t.Run("different total: a clear conflict naming the original", func(t *testing.T) {
		inv := invoiceMap(now, "", 2)
		orig := register(inv)
		changed := invoiceMap(now, inv["DocDtls"].(map[string]any)["No"].(string), 3)
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, changed)})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_DUPLICATE_CONFLICT", info.GetReason())
		require.Equal(t, orig.Irn, info.GetMetadata()["irn"])
		require.Equal(t, "2150", info.GetMetadata()["irp_error_codes"])

		// The store mirrors the IRP, and the changed document keeps meeting the conflict.
		got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: orig.Irn})
		require.NoError(t, err)
		require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, changed)})
		require.Equal(t, codes.AlreadyExists, status.Code(err))
	})
	t.Run("registered past the IRP's retention: the acknowledgement is kept, the caller told there is no signed data", func(t *testing.T) {
		inv := invoiceMap(e.sb.Clock.Now(), "", 1)
		orig := register(inv)
		e.sb.Clock.Advance(49 * time.Hour) // NIC answers get-by-IRN for two days
		requireUnavailable := func(t *testing.T, err error) {
			t.Helper()
			require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
			info, _ := errorInfo(t, err)
			require.Equal(t, "ERROR_REASON_SIGNED_DATA_UNAVAILABLE", info.GetReason())
			require.Equal(t, map[string]string{
				"irn": orig.Irn, "ack_no": fmt.Sprint(orig.AckNo), "ack_dt": orig.AckDt, "irp_error_codes": "2150,2283",
			}, info.GetMetadata())
			require.Contains(t, status.Convert(err).Message(), "download the signed invoice from the e-invoice portal")
		}
		calls := e.sb.Stats().GenerateCalls
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		requireUnavailable(t, err)
		require.Equal(t, calls+1, e.sb.Stats().GenerateCalls)
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		requireUnavailable(t, err)
		require.Equal(t, calls+1, e.sb.Stats().GenerateCalls, "answered from the store")

		got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: orig.Irn})
		require.NoError(t, err, "the acknowledgement is stored")
		require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
		require.Equal(t, orig.AckDt, got.GetDetails().GetAckDt())
		require.Equal(t, "ACT", got.GetDetails().GetStatus())
		require.Empty(t, got.GetDetails().GetSignedQrCode())
		_, err = e.client.GetQrImage(ctx, &einvoicev1.GetQrImageRequest{Irn: orig.Irn})
		requireUnavailable(t, err)
		_, err = e.client.GetInvoicePdf(ctx, &einvoicev1.GetInvoicePdfRequest{Irn: orig.Irn})
		requireUnavailable(t, err)
	})
}

func TestCancelRules(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	irn := gen.GetDetails().GetIrn()

	t.Run("invalid reason and missing remark are refused", func(t *testing.T) {
		_, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "9"})
		require.Equal(t, codes.InvalidArgument, status.Code(err))
		_, vs := errorInfo(t, err)
		require.Len(t, vs, 2)
	})
	t.Run("2270 after 24 hours from AckDt, refused locally", func(t *testing.T) {
		e.sb.Clock.Advance(25 * time.Hour)
		calls := e.sb.Stats().CancelCalls
		_, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "1", CnlRem: "Duplicate"})
		require.Equal(t, codes.FailedPrecondition, status.Code(err))
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_CANCEL_WINDOW_CLOSED", info.GetReason())
		require.Equal(t, "2270", info.GetMetadata()["irp_error_codes"])
		require.Contains(t, status.Convert(err).Message(), "2270")
		require.Equal(t, calls, e.sb.Stats().CancelCalls)
	})
	t.Run("2270 from the IRP when irpgate's clock is behind the IRP's", func(t *testing.T) {
		gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
		_, behind := e.service(t, func(c *einvoice.Config) {
			c.Now = func() time.Time { return e.sb.Clock.Now().Add(-2 * time.Hour) }
		})
		e.sb.Clock.Advance(25 * time.Hour) // 23 hours by irpgate's clock
		calls := e.sb.Stats().CancelCalls
		_, err = behind.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: gen.GetDetails().GetIrn(), CnlRsn: "1", CnlRem: "Duplicate"})
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_CANCEL_WINDOW_CLOSED", info.GetReason())
		require.Equal(t, "2270", info.GetMetadata()["irp_error_codes"])
		require.Contains(t, status.Convert(err).Message(), "the IRP says")
		require.Equal(t, calls+1, e.sb.Stats().CancelCalls, "sent once: the IRP's refusal is final")
	})
	t.Run("unknown IRN without a GSTIN is not found", func(t *testing.T) {
		_, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: strings.Repeat("a", 64), CnlRsn: "1", CnlRem: "x"})
		require.Equal(t, codes.NotFound, status.Code(err))
	})
}

// TestCancelWhileAnEwayBillIsActive: an IRN whose e-way bill is active cannot be cancelled
// (NIC 2230). irpgate refuses it without sending when the stored registration has an e-way
// bill the IRP still calls active, passes on the IRP's 2230 for one made elsewhere, and
// cancels once the e-way bill is cancelled.
func TestCancelWhileAnEwayBillIsActive(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	requireActiveEwayBill := func(t *testing.T, err error, irn string, ewbNo int64) {
		t.Helper()
		require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_ACTIVE_EWAY_BILL", info.GetReason())
		require.Equal(t, "2230", info.GetMetadata()["irp_error_codes"])
		require.Equal(t, irn, info.GetMetadata()["irn"])
		if ewbNo > 0 {
			require.Equal(t, fmt.Sprint(ewbNo), info.GetMetadata()["ewb_no"])
		}
		require.Contains(t, status.Convert(err).Message(), "cancel the e-way bill first (NIC 2230)")
	}
	cancelEWB := func(t *testing.T, ewbNo int64) {
		t.Helper()
		_, err := e.irp.CancelEWB(ctx, seller, irpclient.CancelEWBRequest{EwbNo: ewbNo, CancelRsnCode: 2, CancelRmrk: "order cancelled"})
		require.NoError(t, err)
	}
	cancel := &einvoicev1.CancelIrnRequest{CnlRsn: "3", CnlRem: "Order cancelled"}

	t.Run("the e-way bill generated with the IRN: refused without a cancel call", func(t *testing.T) {
		inv := invoiceMap(e.sb.Clock.Now(), "", 1)
		inv["EwbDtls"] = map[string]any{"TransMode": "1", "Distance": 0, "VehNo": "KA01AB1234", "VehType": "R"}
		gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
		require.NoError(t, err)
		d := gen.GetDetails()
		require.NotZero(t, d.GetEwbNo(), "the sandbox made the e-way bill: %v", d.GetInfoDtls())

		calls := e.sb.Stats().CancelCalls
		cancel.Irn = d.GetIrn()
		_, err = e.client.CancelIrn(ctx, cancel)
		requireActiveEwayBill(t, err, d.GetIrn(), d.GetEwbNo())
		require.Equal(t, calls, e.sb.Stats().CancelCalls, "refused before the IRP")

		cancelEWB(t, d.GetEwbNo())
		c, err := e.client.CancelIrn(ctx, cancel)
		require.NoError(t, err, "an IRN whose e-way bill is cancelled cancels")
		require.False(t, c.GetAlreadyCancelled())
	})

	t.Run("an e-way bill made outside irpgate: the IRP's 2230 is passed on, nothing stored", func(t *testing.T) {
		gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
		irn := gen.GetDetails().GetIrn()
		require.Zero(t, gen.GetDetails().GetEwbNo())
		ewb, err := e.irp.GenerateEWB(ctx, seller, irpclient.GenerateEWBRequest{Irn: irn, TransMode: "1", VehNo: "KA01AB1234", VehType: "R"})
		require.NoError(t, err)

		calls := e.sb.Stats().CancelCalls
		cancel.Irn = irn
		_, err = e.client.CancelIrn(ctx, cancel)
		requireActiveEwayBill(t, err, irn, 0)
		require.Equal(t, calls+1, e.sb.Stats().CancelCalls, "the IRP was asked and refused")
		got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn})
		require.NoError(t, err)
		require.Equal(t, "ACT", got.GetDetails().GetStatus())

		cancelEWB(t, ewb.EwbNo)
		_, err = e.client.CancelIrn(ctx, cancel)
		require.NoError(t, err)
	})
}

// TestEwayBillAnswerIsStoredWithTheIRN: what the IRP says about the e-way bill asked for with
// the document comes back with the IRN and again from the store: the bill and its PIN-to-PIN
// distance (EWBPPD) when it was made, the reasons (EWBERR) when it was not, the IRN being
// registered either way.
func TestEwayBillAnswerIsStoredWithTheIRN(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	info := func(d *einvoicev1.IrnDetails) map[string]any {
		out := map[string]any{}
		for _, i := range d.GetInfoDtls() {
			out[i.GetInfCd()] = i.GetDesc().AsInterface()
		}
		return out
	}
	for _, c := range []struct {
		name    string
		ewb     map[string]any
		made    bool
		infCd   string
		matches string
	}{
		{"made", map[string]any{"TransMode": "1", "Distance": 0, "VehNo": "KA01AB1234", "VehType": "R"}, true, "EWBPPD", `^Pin-Pin calc distance: \d+KM$`},
		// 4000 km between Bengaluru and Mumbai: more than the PIN-to-PIN distance allows (4038),
		// which only the IRP knows.
		{"refused", map[string]any{"TransMode": "1", "Distance": 4000, "VehNo": "KA01AB1234", "VehType": "R"}, false, "EWBERR", `"ErrorCode":"4038"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := invoiceMap(e.sb.Clock.Now(), "", 1)
			inv["EwbDtls"] = c.ewb
			gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
			require.NoError(t, err, "the IRN is registered whatever became of the e-way bill")
			d := gen.GetDetails()
			require.Equal(t, c.made, d.GetEwbNo() != 0, "EwbNo %d", d.GetEwbNo())
			require.Equal(t, c.made, d.GetEwbValidTill() != "")
			got := info(d)
			require.Contains(t, got, c.infCd, "%v", d.GetInfoDtls())
			desc, err := json.Marshal(got[c.infCd])
			require.NoError(t, err)
			if s, ok := got[c.infCd].(string); ok {
				desc = []byte(s)
			}
			require.Regexp(t, c.matches, string(desc))

			stored, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: d.GetIrn()})
			require.NoError(t, err)
			require.True(t, proto.Equal(d, stored.GetDetails()), "the store answers what the IRP did:\n%v\n%v", d, stored.GetDetails())
		})
	}
}

func TestGetFallsBackToTheIRPAndStoresTheAnswer(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	ctx := t.Context()
	inv := invoiceMap(e.sb.Clock.Now(), "", 1)
	b, err := json.Marshal(inv)
	require.NoError(t, err)
	orig, err := e.irp.GenerateIRN(ctx, seller, b)
	require.NoError(t, err)

	_, err = e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: orig.Irn})
	require.Equal(t, codes.NotFound, status.Code(err), "without a GSTIN only the store is asked")

	got, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: orig.Irn, Gstin: seller})
	require.NoError(t, err)
	require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
	requireVerified(t, e.sb, got.GetDetails())
	gets := e.sb.Stats().GetCalls
	again, err := e.client.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: orig.Irn})
	require.NoError(t, err)
	require.Equal(t, orig.Irn, again.GetDetails().GetIrn())
	require.Equal(t, gets, e.sb.Stats().GetCalls)

	dd := inv["DocDtls"].(map[string]any)
	other := invoiceMap(e.sb.Clock.Now(), "", 1)
	b, err = json.Marshal(other)
	require.NoError(t, err)
	orig2, err := e.irp.GenerateIRN(ctx, seller, b)
	require.NoError(t, err)
	od := other["DocDtls"].(map[string]any)
	byDoc, err := e.client.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{Gstin: seller, DocType: "INV", DocNo: od["No"].(string), DocDate: od["Dt"].(string)})
	require.NoError(t, err)
	require.Equal(t, orig2.Irn, byDoc.GetDetails().GetIrn())
	_ = dd

	// Then GenerateIrn of the same document answers from the store.
	calls := e.sb.Stats().GenerateCalls
	gen, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, other)})
	require.NoError(t, err)
	require.True(t, gen.GetReplayed())
	require.Equal(t, calls, e.sb.Stats().GenerateCalls)
}

var _ = sandbox.OpGenerate

// 3029 on generate: the buyer is synced from the common portal once; still inactive, the
// IRP's answer is returned with its codes.
func TestInactiveBuyerIsSyncedOnceThenRefused3029(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	_, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inactiveBuyerInvoice(e.sb.Clock.Now()))})
	require.Error(t, err)
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_IRP_ERROR", info.GetReason(), "%v", err)
	require.Equal(t, "3029", info.GetMetadata()["irp_error_codes"])
	require.Contains(t, info.GetMetadata()["irp_error_details"], `"ErrorCode":"3029"`)
	require.EqualValues(t, 1, e.sb.Stats().ByOperation[sandbox.OpSyncGSTIN])
	require.EqualValues(t, 1, e.sb.Stats().GenerateCalls)
}

// A document the IRP refused (its buyer inactive, 3029) and that was then registered at the
// IRP with another buyer and total (on the NIC portal, say) is read back as the IRP holds
// it: the stored row mirrors the IRP's buyer and total, so sending the refused document
// again is a clear conflict, not a replay of another document's IRN.
func TestAReadStoresTheIRPsDocumentOverAFailedOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		ctx := t.Context()
		refused := inactiveBuyerInvoice(e.sb.Clock.Now())
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, refused)})
		require.Error(t, err)
		info, _ := errorInfo(t, err)
		require.Equal(t, "3029", info.GetMetadata()["irp_error_codes"])

		dd := refused["DocDtls"].(map[string]any)
		corrected := invoiceMap(e.sb.Clock.Now(), dd["No"].(string), 2) // another buyer and total
		orig, err := e.irp.GenerateIRN(ctx, seller, docJSON(t, corrected))
		require.NoError(t, err)

		got, err := e.client.GetIrnByDocument(ctx, &einvoicev1.GetIrnByDocumentRequest{
			Gstin: seller, DocType: "INV", DocNo: dd["No"].(string), DocDate: dd["Dt"].(string),
		})
		require.NoError(t, err)
		require.Equal(t, orig.AckNo, got.GetDetails().GetAckNo())
		row := readRow(t, db, orig.Irn)
		require.Equal(t, "ACTIVE", row.State)
		require.Equal(t, buyer, row.BuyerGSTIN, "the IRP's buyer")
		require.InDelta(t, 210, row.TotInvVal, 0.001, "the IRP's total")

		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, refused)})
		require.Equal(t, codes.AlreadyExists, status.Code(err), "%v", err)
		info, _ = errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_DUPLICATE_CONFLICT", info.GetReason())
		require.Equal(t, orig.Irn, info.GetMetadata()["irn"])

		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, corrected)})
		require.NoError(t, err, "the IRP's own document is a replay")
	})
}

// A document the IRP refused and that was then registered on the NIC portal can be
// cancelled through irpgate: the IRP is asked for what it holds under the number, which is
// stored and cancelled.
func TestCancelOfAFailedDocumentCancelsWhatTheIRPHolds(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db)
	ctx := t.Context()
	refused := inactiveBuyerInvoice(e.sb.Clock.Now())
	_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, refused)})
	require.Error(t, err)
	corrected := invoiceMap(e.sb.Clock.Now(), refused["DocDtls"].(map[string]any)["No"].(string), 1)
	orig, err := e.irp.GenerateIRN(ctx, seller, docJSON(t, corrected))
	require.NoError(t, err)
	require.Equal(t, "FAILED", readRow(t, db, orig.Irn).State)

	res, err := e.client.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: orig.Irn, CnlRsn: "2", CnlRem: "data entry mistake"})
	require.NoError(t, err)
	require.False(t, res.GetAlreadyCancelled())
	row := readRow(t, db, orig.Irn)
	require.Equal(t, "CANCELLED", row.State)
	require.Equal(t, orig.AckNo, row.AckNo)
	require.Equal(t, buyer, row.BuyerGSTIN, "the IRP's document")
}

// Two replicas over one database, each without the other's in-process lock, take one
// document at once: the IRP registers it once, and every caller on either replica gets that
// registration (the replica that loses the race reconciles the IRP's 2150 and adopts it).
// The same holds for a document that failed before (its row FAILED): one request claims
// the row back, and the others find it pending.
func TestReplicasRegisterOneDocumentOnce(t *testing.T) {
	for _, failedBefore := range []bool{false, true} {
		t.Run(map[bool]string{false: "new", true: "failed before"}[failedBefore], func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				replicasRegisterOnce(t, db, failedBefore)
			})
		})
	}
}

func replicasRegisterOnce(t *testing.T, db *store.DB, failedBefore bool) {
	e := setup(t, db)
	_, other := e.service(t, nil)
	inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	if failedBefore {
		// The IRP fails the send before doing anything; the settling then finds no IRN.
		e.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate}})
		failing, client := e.service(t, func(c *einvoice.Config) { c.MaxAttempts = 1 })
		_, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		e.sb.SetFaults(sandbox.Faults{})
		n, err := failing.SettlePending(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		var state string
		require.NoError(t, db.QueryRowContext(t.Context(), `SELECT state FROM einvoice_documents`).Scan(&state))
		require.Equal(t, "FAILED", state)
	}
	type answer struct {
		irn, ackNo string
		err        error
	}
	answers := make(chan answer, 8)
	for i := range 8 {
		client := e.client
		if i%2 == 1 {
			client = other
		}
		go func() {
			res, err := client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
			answers <- answer{res.GetDetails().GetIrn(), fmt.Sprint(res.GetDetails().GetAckNo()), err}
		}()
	}
	seen := map[answer]bool{}
	for range 8 {
		a := <-answers
		require.NoError(t, a.err)
		seen[a] = true
	}
	require.Len(t, seen, 1, "one IRN and AckNo for every caller: %v", seen)
	st := e.sb.Stats()
	require.EqualValues(t, 1, st.Generated, "registered once at the IRP (%d calls, %d duplicates)", st.GenerateCalls, st.Duplicates)

	var irn string
	for a := range seen {
		irn = a.irn
	}
	got, err := e.client.GetIrn(t.Context(), &einvoicev1.GetIrnRequest{Irn: irn})
	require.NoError(t, err)
	require.Equal(t, "ACT", got.GetDetails().GetStatus())
	require.NotEmpty(t, got.GetDetails().GetSignedInvoice())
}

// Concurrent requests for one document make one IRP call; the others answer from the store.
func TestConcurrentRequestsForOneDocumentMakeOneIRPCall(t *testing.T) {
	e := setup(t, storetest.SQLite(t))
	inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
	irns := make(chan string, 10)
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: inv})
			errs <- err
			irns <- res.GetDetails().GetIrn()
		}()
	}
	seen := map[string]bool{}
	for range 10 {
		require.NoError(t, <-errs)
		seen[<-irns] = true
	}
	require.Len(t, seen, 1)
	require.EqualValues(t, 1, e.sb.Stats().GenerateCalls)
}

// A document sent with a UTF-8 byte order mark is registered, and stored (and sent to the
// IRP) without the mark.
func TestByteOrderMarkIsDropped(t *testing.T) {
	db := storetest.SQLite(t)
	e := setup(t, db)
	body := append([]byte{0xEF, 0xBB, 0xBF}, docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))...)
	res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: body})
	require.NoError(t, err)
	var stored string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT request_json FROM einvoice_documents WHERE irn = $1`,
		res.GetDetails().GetIrn()).Scan(&stored))
	require.Equal(t, string(body[3:]), stored)
}

// Every kind of document in pkg/einvoice's valid corpus (B2B goods and services, credit and
// debit notes, reverse charge, SEZ with and without payment, exports with and without
// payment and e-way bill details, deemed exports) registers through GenerateIrn, dated
// today, with both signatures verified (and its e-way bill, when it asks for one), and
// answers from the store when sent again.
func TestEveryKindOfDocumentRegisters(t *testing.T) {
	// The corpus's deemed-export and SEZ buyers, added to the sandbox's GSTIN master.
	taxpayers := append(sandbox.DefaultTaxpayers(),
		sandbox.Taxpayer{Gstin: "27AABCD1234E1Z8", TradeName: "Deemed Export Buyer", LegalName: "Deemed Export Buyer Ltd", StateCode: 27, AddrPncd: 400001, TxpType: "REG", Status: "ACT", DtReg: "2017-07-01"},
		sandbox.Taxpayer{Gstin: "33AABCS1429B1Z1", TradeName: "SEZ Unit", LegalName: "SEZ Unit Pvt Ltd", StateCode: 33, AddrPncd: 600001, TxpType: "SEZ", Status: "ACT", DtReg: "2017-07-01"},
	)
	e := setup(t, storetest.SQLite(t), sandboxtest.WithTaxpayers(taxpayers))
	files, err := filepath.Glob("../../pkg/einvoice/testdata/valid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	today := e.sb.Clock.Now().In(irpclient.IST).Format("02/01/2006")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			m["DocDtls"].(map[string]any)["Dt"] = today
			res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, m)})
			require.NoError(t, err)
			requireVerified(t, e.sb, res.GetDetails())
			require.False(t, res.GetReplayed())
			if _, ewb := m["EwbDtls"]; ewb {
				require.NotZero(t, res.GetDetails().GetEwbNo(), "the e-way bill generated with the IRN")
			}

			calls := e.sb.Stats().GenerateCalls
			again, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, m)})
			require.NoError(t, err)
			require.True(t, again.GetReplayed())
			require.Equal(t, res.GetDetails().GetIrn(), again.GetDetails().GetIrn())
			require.Equal(t, calls, e.sb.Stats().GenerateCalls, "answered from the store")
		})
	}
}
