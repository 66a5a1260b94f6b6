package einvoice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// GetIrn answers from the store, else reads the IRN from the IRP (within its retention
// window) and stores it. A stored registration whose signed answer has not verified is
// verified again against the configured certificates (and answered once it verifies) or
// answered SIGNATURE_INVALID; the IRP is not asked, since it would sign the same.
func (s *Service) GetIrn(ctx context.Context, req *einvoicev1.GetIrnRequest) (*einvoicev1.GetIrnResponse, error) {
	irn := strings.ToLower(strings.TrimSpace(req.GetIrn()))
	if !isIRN(irn) {
		return nil, invalidRequest("irn", "INVALID_FORMAT", "irn must be the 64-character hexadecimal IRN")
	}
	irp, bad := s.irpOf(req.GetIrp())
	if bad != nil {
		return nil, refuse(bad)
	}
	rec, err := s.byIRNFor(ctx, irn)
	switch {
	case err == nil && rec.registered():
		rec, refreshed, err := s.stored(ctx, rec, req.GetRefresh())
		if err != nil {
			return nil, err
		}
		return &einvoicev1.GetIrnResponse{Details: detailsOf(rec), Refreshed: refreshed}, nil
	case err != nil && !store.IsNotFound(err):
		return nil, s.storeFailed(ctx, err, "")
	}
	gstin := strings.ToUpper(strings.TrimSpace(req.GetGstin()))
	if rec != nil {
		// Not registered yet (pending, or failed): ask the IRP it was sent to.
		irp = pendingIRP(rec, req.GetIrp(), irp)
		if gstin == "" {
			gstin = rec.Key.SellerGSTIN
		}
	}
	if gstin == "" {
		return nil, notFound("IRN "+irn+" is not in the store; give the seller GSTIN to read it from the IRP", map[string]string{"irn": irn})
	}
	if err := authorize(ctx, gstin); err != nil {
		return nil, err
	}
	rec, err = s.fetchIRN(ctx, gstin, irp, irn, rec)
	if err != nil {
		return nil, err
	}
	return &einvoicev1.GetIrnResponse{Details: detailsOf(rec), Refreshed: req.GetRefresh()}, nil
}

// stored answers a stored registration: asked about again at the IRP with refresh (see
// refresh), and verified again while its signed answer has not verified. It reports
// whether the IRP answered for it.
func (s *Service) stored(ctx context.Context, rec *record, refresh bool) (*record, bool, error) {
	refreshed := false
	var err error
	if refresh {
		if rec, refreshed, err = s.refresh(ctx, rec); err != nil {
			return nil, false, err
		}
	}
	if rec.unverified() {
		if rec, err = s.reverify(ctx, rec); err != nil {
			return nil, false, err
		}
	}
	return rec, refreshed, nil
}

// refresh asks the IRP for a stored registration and stores a cancellation it made that
// irpgate did not (one on the NIC portal): the row becomes CANCELLED with the time irpgate
// learnt of it as its cancel date, since the IRP's record carries none. It reports whether
// the IRP answered for the IRN; past its retention window it does not, and rec is kept.
func (s *Service) refresh(ctx context.Context, rec *record) (*record, bool, error) {
	rec, unlock, err := s.lockedRecord(ctx, rec.Key)
	if err != nil {
		if ctx.Err() != nil { // the caller gave up waiting for the document's lock
			return nil, false, status.FromContextError(ctx.Err()).Err()
		}
		return nil, false, s.storeFailed(ctx, err, "")
	}
	if rec == nil {
		return nil, false, notFound("IRN is not in the store", nil)
	}
	defer unlock()
	det, err := s.readIRN(ctx, rec.IRP, rec.IRN, func(opts ...irpclient.CallOption) (*irpclient.IRNDetails, error) {
		return s.irp.GetIRN(ctx, rec.Key.SellerGSTIN, rec.IRN, opts...)
	})
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie) && (ie.Has(codeIRNNotAvailable) || ie.Has(codeIRNNotFound) || ie.Has(irpclient.CodeIRNTooOld)):
		return rec, false, nil
	case err != nil:
		return nil, false, irpFailure(ctx, err)
	case det.Status != "CNL" || rec.State == stateCancelled:
		return rec, true, nil
	}
	pctx, cancel := persistContext(ctx)
	defer cancel()
	at := s.now().In(irpclient.IST).Format(nicTime)
	if err := s.docs.markCancelled(pctx, rec.IRN, at, "", "cancelled at the IRP outside irpgate"); err != nil {
		return nil, false, s.storeFailed(ctx, err, "")
	}
	s.log.InfoContext(ctx, "stored a cancellation made at the IRP outside irpgate", "irn", rec.IRN)
	rec, err = s.docs.byKey(ctx, s.cfg.DB, rec.Key)
	if err != nil {
		return nil, false, s.storeFailed(ctx, err, "")
	}
	return rec, true, nil
}

// byIRNFor reads the stored record of irn as the caller may see it: another seller's IRN
// reads as not stored. An IRN is a hash of the seller's GSTIN and document number, so a
// PERMISSION_DENIED naming the seller would tell anyone who can guess those whether the
// document is registered here, and whose it is.
func (s *Service) byIRNFor(ctx context.Context, irn string) (*record, error) {
	rec, err := s.docs.byIRN(ctx, irn)
	if err == nil && !callerMayActFor(ctx, rec.Key.SellerGSTIN) {
		return nil, store.ErrNotFound
	}
	return rec, err
}

// GetIrnByDocument answers from the store, else asks the IRP by document type, number and
// date and stores the answer. An unverified registration is answered as GetIrn does.
func (s *Service) GetIrnByDocument(ctx context.Context, req *einvoicev1.GetIrnByDocumentRequest) (*einvoicev1.GetIrnByDocumentResponse, error) {
	gstin := strings.ToUpper(strings.TrimSpace(req.GetGstin()))
	docType := strings.ToUpper(strings.TrimSpace(req.GetDocType()))
	docNo := strings.TrimSpace(req.GetDocNo())
	var vs []platform.FieldViolation
	if gstin == "" {
		vs = append(vs, platform.FieldViolation{Field: "gstin", Reason: doc.ReasonRequired, Description: "gstin is required"})
	}
	switch docType {
	case "INV", "CRN", "DBN":
	default:
		vs = append(vs, platform.FieldViolation{
			Field: "doc_type", Reason: doc.ReasonInvalidEnum, NICCode: codeInvalidDocType,
			Description: "doc_type must be INV, CRN or DBN",
		})
	}
	if docNo == "" {
		vs = append(vs, platform.FieldViolation{Field: "doc_no", Reason: doc.ReasonRequired, Description: "doc_no is required"})
	}
	irp, bad := s.irpOf(req.GetIrp())
	if bad != nil {
		vs = append(vs, *bad)
	}
	var key *doc.DocKey
	if req.GetDocDate() != "" {
		if _, err := doc.ParseDate(req.GetDocDate()); err != nil {
			vs = append(vs, platform.FieldViolation{
				Field: "doc_date", Reason: doc.ReasonInvalidDate, NICCode: "2144",
				Description: "doc_date must be a date written dd/MM/yyyy",
			})
		} else {
			k := (&doc.Invoice{SellerDtls: doc.SellerDtls{Gstin: gstin}, DocDtls: doc.DocDtls{Typ: docType, No: docNo, Dt: req.GetDocDate()}}).Key()
			key = &k
		}
	}
	if len(vs) > 0 {
		return nil, platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
			"the document look-up is invalid", nil, vs...).Err()
	}
	if err := authorize(ctx, gstin); err != nil {
		return nil, err
	}

	var rec *record
	var err error
	if key != nil {
		rec, err = s.docs.byKey(ctx, s.cfg.DB, *key)
	} else {
		rec, err = s.docs.latestByNumber(ctx, gstin, docType, docNo)
		if store.IsNotFound(err) && strings.ToUpper(docNo) != docNo {
			rec, err = s.docs.latestByNumber(ctx, gstin, docType, strings.ToUpper(docNo))
		}
	}
	switch {
	case err == nil && rec.registered():
		rec, refreshed, err := s.stored(ctx, rec, req.GetRefresh())
		if err != nil {
			return nil, err
		}
		return &einvoicev1.GetIrnByDocumentResponse{Details: detailsOf(rec), Refreshed: refreshed}, nil
	case err != nil && !store.IsNotFound(err):
		return nil, s.storeFailed(ctx, err, "")
	}
	docDate := req.GetDocDate()
	if rec != nil {
		irp = pendingIRP(rec, req.GetIrp(), irp)
		if docDate == "" {
			docDate = rec.DocDate
		}
	}
	if docDate == "" {
		return nil, notFound("the document is not in the store; give doc_date to read it from the IRP", nil)
	}
	rec, err = s.fetch(ctx, gstin, irp, rec, func(opts ...irpclient.CallOption) (*irpclient.IRNDetails, error) {
		return s.irp.GetIRNByDocument(ctx, gstin, docType, docNo, docDate, opts...)
	})
	if err != nil {
		return nil, err
	}
	return &einvoicev1.GetIrnByDocumentResponse{Details: detailsOf(rec), Refreshed: req.GetRefresh()}, nil
}

// pendingIRP is the IRP to read a stored but unregistered document from: the one its row
// names, where it was sent (the other NIC IRP may not have it yet), unless the request
// named one (named); else irp.
func pendingIRP(rec *record, named, irp string) string {
	if strings.TrimSpace(named) == "" && rec.IRP != "" {
		return rec.IRP
	}
	return irp
}

// irpOf is the IRP a request names (upper-cased), or the default. An IRP irpgate has no URL
// for comes back as the violation to refuse the request with, before anything is stored or
// sent.
func (s *Service) irpOf(irp string) (string, *platform.FieldViolation) {
	irp = strings.ToUpper(strings.TrimSpace(irp))
	if irp == "" {
		return s.cfg.DefaultIRP, nil
	}
	if known := s.irp.IRPs(); !slices.Contains(known, irp) {
		return "", &platform.FieldViolation{
			Field: "irp", Reason: doc.ReasonInvalidEnum,
			Description: "irp " + irp + " is not an IRP irpgate is configured for (" + strings.Join(known, ", ") + "; see --irp-urls)",
		}
	}
	return irp, nil
}

// refuse is the INVALID_ARGUMENT status of one violation.
func refuse(v *platform.FieldViolation) error {
	return invalidRequest(v.Field, v.Reason, v.Description)
}

// fetchIRN is fetch of the registration of irn, asked by IRN.
func (s *Service) fetchIRN(ctx context.Context, gstin, irp, irn string, held *record) (*record, error) {
	return s.fetch(ctx, gstin, irp, held, func(opts ...irpclient.CallOption) (*irpclient.IRNDetails, error) {
		return s.irp.GetIRN(ctx, gstin, irn, opts...)
	})
}

// fetch reads a registration from the IRP (the other NIC IRP criss-cross when irp cannot
// be reached), verifies it and stores it. held is the stored row of a document irpgate
// holds unregistered (nil when none): when the IRP has no registration either, the answer
// says what irpgate holds and why (its state and last error).
func (s *Service) fetch(ctx context.Context, gstin, irp string, held *record, read func(...irpclient.CallOption) (*irpclient.IRNDetails, error)) (*record, error) {
	det, err := s.readIRN(ctx, irp, "", read)
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie) && (ie.Has(codeIRNNotAvailable) || ie.Has(codeIRNNotFound) || ie.Has(irpclient.CodeIRNTooOld)):
		details, _ := json.Marshal(ie.Details)
		msg := "the IRP has no e-invoice for this request (or it is past its retention window)"
		meta := map[string]string{"irp_error_codes": strings.Join(ie.Codes(), ","), "irp_error_details": string(details)}
		if held != nil {
			msg += "; irpgate holds the document " + held.State
			if held.LastError != "" {
				msg += " (" + held.LastError + ")"
			}
			meta["stored_state"], meta["last_error"] = held.State, held.LastError
		}
		return nil, notFound(msg, meta)
	case err != nil:
		return nil, irpFailure(ctx, err)
	}
	// A read that does not verify stores nothing: the seller and document it would be
	// stored under come from the unverified data. The IRP keeps it, so a read with the
	// right certificates configured gets it.
	data, c, err := s.verifySigned(det.Irn, det.SignedInvoice, det.SignedQRCode)
	if err != nil {
		return nil, readSignatureInvalid(det.Irn, det.AckNo, det.AckDt, irp, err)
	}
	if !strings.EqualFold(c.SellerDtls.Gstin, gstin) {
		return nil, platform.Status(codes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_GSTIN_NOT_ALLOWED,
			"the e-invoice belongs to another seller GSTIN", nil).Err()
	}
	inv := &doc.Invoice{SellerDtls: doc.SellerDtls{Gstin: c.SellerDtls.Gstin}, DocDtls: doc.DocDtls{Typ: c.DocDtls.Typ, No: c.DocDtls.No, Dt: c.DocDtls.Dt}}
	// The request body is the document as the IRP signed it (less AckNo/AckDt/Irn); its
	// digest is taken as GenerateIrn takes it, so posting the same document matches it.
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	delete(body, "AckNo")
	delete(body, "AckDt")
	delete(body, "Irn")
	raw, _ := json.Marshal(body)
	rec := &record{
		Key: inv.Key(), DocDate: c.DocDtls.Dt, IRN: det.Irn, IRP: irp, BuyerGSTIN: c.BuyerDtls.Gstin,
		TotInvVal: c.ValDtls.TotInvVal, BodySHA256: bodyDigest(raw), RequestJSON: string(raw),
	}
	pctx, cancel := persistContext(ctx)
	defer cancel()
	if err := s.docs.upsertRegistered(pctx, rec, det); err != nil {
		return nil, s.storeFailed(ctx, err, "")
	}
	stored, err := s.docs.byKey(ctx, s.cfg.DB, rec.Key)
	if err != nil {
		return nil, s.storeFailed(ctx, err, "")
	}
	return stored, nil
}

// VerifySignedDocument checks a SignedInvoice or SignedQRCode against the configured IRP
// certificates and returns its decoded claims.
func (s *Service) VerifySignedDocument(_ context.Context, req *einvoicev1.VerifySignedDocumentRequest) (*einvoicev1.VerifySignedDocumentResponse, error) {
	var field, token string
	for _, f := range []struct{ name, value string }{
		{"token", req.GetToken()}, {"SignedInvoice", req.GetSignedInvoice()}, {"SignedQRCode", req.GetSignedQrCode()},
	} {
		if v := strings.TrimSpace(f.value); v != "" {
			if field != "" {
				return nil, invalidRequest(f.name, reasonOneOf, "give one of token, SignedInvoice and SignedQRCode, not both "+field+" and "+f.name)
			}
			field, token = f.name, v
		}
	}
	if token == "" {
		return nil, invalidRequest("token", doc.ReasonRequired, "token is required (a SignedInvoice or SignedQRCode; or give it as SignedInvoice or SignedQRCode)")
	}
	if strings.Count(token, ".") != 2 {
		return &einvoicev1.VerifySignedDocumentResponse{Valid: proto.Bool(false), Reason: "not a compact JWS (header.payload.signature)"}, nil
	}
	signed, err := s.verifier.Verify(token)
	if err != nil {
		return &einvoicev1.VerifySignedDocumentResponse{Valid: proto.Bool(false), Reason: err.Error()}, nil
	}
	out := &einvoicev1.VerifySignedDocumentResponse{Valid: proto.Bool(true), Issuer: signed.Issuer, Kid: signed.Kid}
	var data map[string]any
	if err := json.Unmarshal(signed.Data, &data); err == nil {
		if st, err := structpb.NewStruct(data); err == nil {
			out.Claims = st
		}
		switch {
		case data["ItemCnt"] != nil || data["MainHsnCode"] != nil:
			out.Kind = "SIGNED_QR_CODE"
		case data["ItemList"] != nil || data["DocDtls"] != nil:
			out.Kind = "SIGNED_INVOICE"
		}
	}
	if want := map[string]string{"SignedInvoice": "SIGNED_INVOICE", "SignedQRCode": "SIGNED_QR_CODE"}[field]; want != "" && out.Kind != want {
		// Signed by the IRP, but not what the caller says it is: a QR code handed in as the
		// invoice (or the other way round) does not stand for it.
		out.Valid = proto.Bool(false)
		out.Reason = "given as " + field + ", but it is " + kindName(out.Kind)
	}
	return out, nil
}

// reasonOneOf is the violation reason of a request that gives more than one of fields
// that exclude each other (docs/errors.md).
const reasonOneOf = "ONE_OF"

// kindName names a VerifySignedDocumentResponse kind as the IRP's answer names it.
func kindName(kind string) string {
	switch kind {
	case "SIGNED_INVOICE":
		return "a SignedInvoice"
	case "SIGNED_QR_CODE":
		return "a SignedQRCode"
	}
	return "neither a SignedInvoice nor a SignedQRCode"
}

// bodyDigest is the digest GenerateIrn stores for a document (documentDigest), or the
// SHA-256 of the bytes themselves when they cannot be read as a document.
func bodyDigest(body []byte) string {
	if inv, _ := doc.Decode(body); inv != nil {
		return documentDigest(inv)
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// documentDigest is Invoice.Digest in hex: equal for bodies that decode to the same document.
func documentDigest(inv *doc.Invoice) string {
	sum := inv.Digest()
	return hex.EncodeToString(sum[:])
}
