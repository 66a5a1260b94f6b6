package einvoice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// IdempotencyKeyHeader is the gRPC metadata key (and, through the gateway, the REST header)
// of an idempotency key.
const IdempotencyKeyHeader = "idempotency-key"

// MaxIdempotencyKeyLen bounds an idempotency key, as Stripe's (a UUID is 36). Longer keys
// would not fit PostgreSQL's index entries.
const MaxIdempotencyKeyLen = 255

// totalTolerance is how far two TotInvVal may differ and still be the same document.
const totalTolerance = 0.005

// GenerateIrn validates a document, registers it with the IRP exactly once and answers
// with the signed registration.
func (s *Service) GenerateIrn(ctx context.Context, req *einvoicev1.GenerateIrnRequest) (*einvoicev1.GenerateIrnResponse, error) {
	idemKey := incoming(ctx, IdempotencyKeyHeader)
	if n := utf8.RuneCountInString(idemKey); n > MaxIdempotencyKeyLen {
		return nil, invalidRequest("Idempotency-Key", doc.ReasonInvalidLength,
			fmt.Sprintf("Idempotency-Key must be at most %d characters, not %d (a UUID is 36)", MaxIdempotencyKeyLen, n))
	}
	body := doc.TrimBOM(req.GetInvoice()) // stored and sent on without it
	inv, err := s.check(ctx, body, req.GetLargeTaxpayer())
	if err != nil {
		return nil, err
	}

	irp, bad := s.irpOf(req.GetIrp())
	if bad != nil {
		return nil, refuse(bad)
	}
	if req.GetIrp() == "" {
		irp = s.startIRP(irp)
	}

	// The same document always gives the same digest, however its JSON is spaced or ordered
	// (Invoice.Digest reads what was decoded). The IRP gets the body as sent.
	k := inv.Key()
	bodySum := documentDigest(inv)
	if idemKey == "" {
		return s.generate(ctx, req, inv, body, irp, bodySum)
	}
	scoped := callerScope(ctx) + idemKey
	prev, err := s.docs.rememberKey(ctx, scoped, idempotencyKey{BodySHA256: bodySum, Key: k})
	if err != nil {
		return nil, s.storeFailed(ctx, err, "nothing was sent to the IRP")
	}
	if prev != nil && prev.BodySHA256 != bodySum {
		return nil, platform.Status(grpccodes.AlreadyExists, errorsv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED,
			"the Idempotency-Key was used before with a different body", map[string]string{IdempotencyKeyHeader: idemKey}).Err()
	}
	res, err := s.generate(ctx, req, inv, body, irp, bodySum)
	if err != nil && s.tookNoEffect(ctx, k, err) {
		// Nothing was registered under this key: the caller may use it again, for a corrected
		// document too (an ERP that keys by its own invoice id), as Stripe frees a key whose
		// request never ran.
		if ferr := s.docs.forgetKey(context.WithoutCancel(ctx), scoped, bodySum); ferr != nil {
			s.log.WarnContext(ctx, "einvoice: could not free an Idempotency-Key", "error", ferr.Error())
		}
	}
	return res, err
}

// check validates the document body for a caller who holds its seller GSTIN: every schema
// and business rule at once, the 30-day reporting window for a large taxpayer.
func (s *Service) check(ctx context.Context, body []byte, largeTaxpayer bool) (*doc.Invoice, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalidRequest("invoice", doc.ReasonRequired, "invoice is required")
	}
	_, span := s.tracer.Start(ctx, "einvoice.validate")
	opts := doc.Options{Now: s.now(), AcceptSandboxGSTINs: s.cfg.AcceptSandboxGSTINs}
	if largeTaxpayer {
		opts.ReportingWindowDays = 30
	}
	inv, err := doc.Check(body, opts)
	var ve *doc.ValidationError
	invalid := errors.As(err, &ve)
	if invalid {
		span.SetAttributes(attribute.Int("einvoice.violations", len(ve.Violations)))
	}
	span.End()
	// A caller without the seller GSTIN learns nothing about the document, not even its faults.
	// (A valid document always names its seller, so every registration passes here.)
	if seller := sellerOf(inv); seller != "" {
		if err := authorize(ctx, seller); err != nil {
			return nil, err
		}
	}
	if invalid {
		return nil, invalidDocument(ve)
	}
	if err != nil {
		return nil, invalidRequest("invoice", doc.ReasonInvalidJSON, err.Error())
	}
	return inv, nil
}

// tookNoEffect reports whether a GenerateIrn that failed with err left nothing at the IRP
// for the document k: it was refused from the store (cancelled, or registered with other
// content), or the IRP refused it or was never reached (its row is FAILED).
func (s *Service) tookNoEffect(ctx context.Context, k doc.DocKey, err error) bool {
	switch platform.ReasonOf(err) {
	case errorsv1.ErrorReason_ERROR_REASON_DOCUMENT_CANCELLED, errorsv1.ErrorReason_ERROR_REASON_DUPLICATE_CONFLICT:
		return true
	default:
		// Any other failure: the document's row says whether the IRP was reached.
	}
	r, rerr := s.docs.byKey(ctx, s.cfg.DB, k)
	return rerr == nil && r.State == stateFailed
}

// generate registers the valid document inv (body as sent, bodySum its documentDigest) on
// irp, or answers it from the store.
func (s *Service) generate(ctx context.Context, req *einvoicev1.GenerateIrnRequest, inv *doc.Invoice, body []byte, irp, bodySum string) (*einvoicev1.GenerateIrnResponse, error) {
	k := inv.Key()
	unlock, err := s.locks.lock(ctx, docKeyString(k))
	if err != nil {
		return nil, irpFailure(ctx, err)
	}
	defer unlock()

	date, _ := inv.DocDate()
	rec := &record{
		Key: k, DocDate: doc.FormatDate(date), IRN: inv.IRN(), IRP: irp,
		BuyerGSTIN: inv.BuyerGSTIN(), TotInvVal: inv.TotalInvoiceValue(),
		BodySHA256: bodySum, RequestJSON: string(body), State: statePending,
	}
	pinned := req.GetIrp() != ""
	existing, claimed, err := s.docs.claimPending(ctx, rec, pinned)
	if err != nil {
		return nil, s.storeFailed(ctx, err, "nothing was sent to the IRP")
	}
	if existing != nil && existing.State == stateCancelled {
		// Cancelled, verified or not: no signed data is answered, so none need verify.
		return nil, documentCancelled(existing)
	}
	if existing != nil && existing.unverified() {
		// The IRP has it already: never send it again, only check its signed answer anew.
		if existing, err = s.reverify(ctx, existing); err != nil {
			return nil, err
		}
	}
	if existing != nil && existing.registered() {
		if existing.SignedInvoice == "" {
			return nil, signedDataUnavailable(existing.IRN, existing.AckNo, existing.AckDt)
		}
		if existing.BodySHA256 != bodySum && !sameEssentials(existing.BuyerGSTIN, existing.TotInvVal, inv) {
			return nil, duplicateConflict(existing.IRN, existing.AckNo, existing.AckDt, existing.BuyerGSTIN, existing.TotInvVal)
		}
		return &einvoicev1.GenerateIrnResponse{Details: detailsOf(existing), Replayed: true}, nil
	}

	// rec.IRP is the IRP the row names: a document that may have been sent stays on its IRP.
	replayed, fresh, usedIRP, err := s.register(ctx, inv, body, rec, claimed, pinned)
	if err != nil {
		return nil, err
	}
	if fresh != nil {
		// This call's own registration, stored as rec plus the answer: no need to read it back.
		rec.IRP = usedIRP
		rec.setAnswer(fresh, stateActive, "")
		return &einvoicev1.GenerateIrnResponse{Details: detailsOf(rec)}, nil
	}
	stored, err := s.docs.byKey(ctx, s.cfg.DB, k)
	if err != nil {
		return nil, s.storeFailed(ctx, fmt.Errorf("read stored registration: %w", err), "")
	}
	if stored.registered() && stored.SignedInvoice == "" {
		return nil, signedDataUnavailable(stored.IRN, stored.AckNo, stored.AckDt)
	}
	return &einvoicev1.GenerateIrnResponse{Details: detailsOf(stored), Replayed: replayed}, nil
}

// persistTimeout bounds the writes that record what the IRP has done.
const persistTimeout = 30 * time.Second

// persistContext is ctx without its cancellation, bounded by persistTimeout: a write that
// records what the IRP has done (a registration, a cancellation) runs to its end even when
// the caller goes away meanwhile, so the store never misses what the IRP holds.
func persistContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
}

// finalError ends the retry loop of register.
type finalError struct{ err error }

func (f finalError) Error() string { return f.err.Error() }

// register sends the document of the row rec claimed (rec.IRP the IRP it names, rec.UpdatedAt
// the stamp written) until the IRP's answer is known and stored: a lost answer
// is sent again, and 2150 + DUPIRN is reconciled against the original. It reports whether
// the registration is an earlier one (not this call's) that was adopted, and returns the
// IRP's answer when it was stored as sent (fresh; nil when the stored row must be read).
// The loop is bounded by MaxAttempts and by ctx. claimed says this call wrote the pending
// row, so no earlier request can have sent the document: when this one gives up without
// sending it either (no IRP session, the IRP unreachable), the row is marked FAILED, free
// to send again, instead of waiting to be settled. Such a document also goes to the other
// NIC IRP when its own cannot be reached (failover), unless the request pinned its IRP.
func (s *Service) register(ctx context.Context, inv *doc.Invoice, body []byte, rec *record, claimed, pinned bool) (adopted bool, fresh *irpclient.IRNDetails, usedIRP string, err error) {
	ctx, span := s.tracer.Start(ctx, "einvoice.register")
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, "not registered")
		}
		span.End()
	}()
	k := inv.Key()
	seller := inv.SellerGSTIN()
	irp, stamp := rec.IRP, rec.UpdatedAt
	synced := false
	sent := false // a send of this call may have registered the document
	misses := 0   // attempts in a row that did not reach irp
	var lastErr error
	for attempt := 0; attempt < s.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if s.sleep(ctx, attempt) != nil {
				break
			}
		}
		span.SetAttributes(attribute.Int("einvoice.attempts", attempt+1))
		det, err := s.irp.GenerateIRN(ctx, seller, body, irpclient.WithIRP(irp))
		if err == nil {
			s.health.markUp(irp)
			// The IRP has registered it: the answer is stored even if the caller has gone.
			pctx, cancel := persistContext(ctx)
			defer cancel()
			if verr := s.verifyDetails(det); verr != nil {
				// The registration is real whatever its signature: keep it, never send again.
				if err := s.docs.completeUnverified(pctx, k, det, verr); err != nil {
					return false, nil, irp, s.registeredNotStored(ctx, k, det, err)
				}
				s.log.WarnContext(ctx, "the IRP's signed answer did not verify; the registration is stored unverified",
					"irn", det.Irn, "ack_no", det.AckNo, "error", verr.Error())
				return false, nil, irp, signatureInvalid(det.Irn, det.AckNo, det.AckDt, irp, verr)
			}
			if err := s.docs.complete(pctx, k, det, stateActive); err != nil {
				return false, nil, irp, s.registeredNotStored(ctx, k, det, err)
			}
			return false, det, irp, nil
		}
		if dup, ok := irpclient.DuplicateIRN(err); ok {
			irn := inv.IRN()
			if dup != nil && dup.Irn != "" {
				irn = dup.Irn
			}
			span.AddEvent("duplicate irn", trace.WithAttributes(attribute.String("irn", irn)))
			err := s.reconcile(ctx, inv, irn, dup, irp)
			var fe finalError
			if errors.As(err, &fe) {
				return false, nil, irp, fe.err
			}
			if err == nil {
				return !sent, nil, irp, nil
			}
			lastErr = err
			continue
		}
		var ie *irpclient.Error
		if errors.As(err, &ie) {
			buyer := inv.BuyerGSTIN()
			if !synced && (ie.Has(codeGSTINInvalid) || ie.Has(codeGSTINInactive)) && buyer != "URP" {
				// The IRP's GSTIN master may be stale: refresh the buyer from the common portal
				// once and send again if it is active.
				synced = true
				d, serr := s.irp.SyncGSTIN(ctx, seller, buyer, irpclient.WithIRP(irp))
				if serr == nil && d.Active() {
					continue
				}
			}
			_, _ = s.docs.fail(ctx, k, refusal(ie), stamp)
			return false, nil, irp, irpRefused(ie)
		}
		sent = sent || irpclient.IsOutcomeUnknown(err)
		if ctx.Err() != nil {
			break
		}
		misses = countMiss(misses, err)
		if claimed && !sent && !pinned && misses >= failoverAfter {
			if other, moved := s.failover(ctx, k, irp, stamp); other != "" {
				span.AddEvent("irp failover", trace.WithAttributes(attribute.String("from", irp), attribute.String("to", other)))
				irp, stamp, misses, lastErr = other, moved, 0, err
				continue
			}
		}
		if irpclient.IsOutcomeUnknown(err) || irpclient.IsTransport(err) {
			s.log.DebugContext(ctx, "IRP answer not known; sending the document again",
				"irn", inv.IRN(), "attempt", attempt+1, "error", err.Error())
			lastErr = err
			continue
		}
		if sent {
			break // an earlier attempt may have registered it: its outcome stays unknown
		}
		s.failUnsent(ctx, k, stamp, claimed, err)
		return false, nil, irp, irpFailure(ctx, err)
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	if claimed && !sent && lastErr != nil {
		// Never sent (the IRP unreachable throughout): nothing to settle.
		s.failUnsent(ctx, k, stamp, true, lastErr)
		return false, nil, irp, irpFailure(ctx, lastErr)
	}
	s.log.WarnContext(ctx, "IRP outcome still unknown after retries; the document stays pending",
		"irn", inv.IRN(), "error", fmt.Sprint(lastErr))
	if sent {
		s.unsettled.add(unsettledDoc{key: k, stamp: stamp}) // SettlePending asks the IRP about it later
	}
	if ctx.Err() != nil {
		return false, nil, irp, irpFailure(ctx, ctx.Err())
	}
	return false, nil, irp, platform.Status(grpccodes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN,
		"the IRP's answer is not known yet; send the same document again to finish", map[string]string{"irn": inv.IRN()}).Err()
}

// refusal is the last_error of a document the IRP refused: its codes and messages.
func refusal(ie *irpclient.Error) string {
	var b strings.Builder
	b.WriteString("refused by " + ie.IRP + ":")
	for i, d := range ie.Details {
		if i > 0 {
			b.WriteString(";")
		}
		b.WriteString(" " + d.Code)
		if d.Message != "" {
			b.WriteString(" " + d.Message)
		}
	}
	return b.String()
}

// failUnsent marks the pending row of a document that never reached the IRP FAILED (free
// to send again), when unsent says so and no other request has claimed it since stamp.
func (s *Service) failUnsent(ctx context.Context, k doc.DocKey, stamp string, unsent bool, cause error) {
	if !unsent || cause == nil {
		return
	}
	pctx, cancel := persistContext(ctx)
	defer cancel()
	if _, err := s.docs.fail(pctx, k, "not sent: "+cause.Error(), stamp); err != nil {
		s.log.WarnContext(ctx, "could not mark an unsent document free to send again", "error", err.Error())
	}
}

// reconcile adopts the original registration of a document the IRP reports as a duplicate
// (2150): it reads it by IRN, verifies the signature and compares buyer GSTIN and total.
// An original that does not verify is stored UNVERIFIED, its buyer and total compared
// once it verifies (reverify), and answered SIGNATURE_INVALID until then.
// A transient failure is returned as is (the caller sends again); anything else is final.
func (s *Service) reconcile(ctx context.Context, inv *doc.Invoice, irn string, dup *irpclient.DupIRN, irp string) error {
	k := inv.Key()
	det, err := s.irp.GetIRN(ctx, inv.SellerGSTIN(), irn, irpclient.WithIRP(irp))
	// What the IRP holds is stored even if the caller has gone.
	pctx, cancel := persistContext(ctx)
	defer cancel()
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie) && ie.Has(irpclient.CodeIRNTooOld) && dup != nil:
		// Too old to read back: keep what DUPIRN says, without signed data (the caller is
		// told so: signedDataUnavailable). Neither can the buyer and total be compared.
		det = &irpclient.IRNDetails{AckNo: dup.AckNo, AckDt: dup.AckDt, Irn: dup.Irn, Status: "ACT"}
		if err := s.docs.complete(pctx, k, det, stateActive); err != nil {
			return finalError{s.registeredNotStored(ctx, k, det, err)}
		}
		return nil
	case ie != nil:
		return finalError{irpRefused(ie)}
	case err != nil:
		return err
	}
	return s.adoptOriginal(ctx, inv, det, irp)
}

// adoptOriginal stores the IRP's registration det of inv's document: verified and with the
// same buyer and total, as the document's registration; not verifying, UNVERIFIED; with
// another buyer or total, as the IRP's own document (a conflict for the caller). It runs to
// its end even if the caller has gone. Every error is final.
func (s *Service) adoptOriginal(ctx context.Context, inv *doc.Invoice, det *irpclient.IRNDetails, irp string) error {
	k := inv.Key()
	pctx, cancel := persistContext(ctx)
	defer cancel()
	data, claims, verr := s.verifySigned(det.Irn, det.SignedInvoice, det.SignedQRCode)
	if verr != nil {
		if err := s.docs.completeUnverified(pctx, k, det, verr); err != nil {
			return finalError{s.registeredNotStored(ctx, k, det, err)}
		}
		s.log.WarnContext(ctx, "the IRP's registration of the duplicate did not verify; it is stored unverified",
			"irn", det.Irn, "ack_no", det.AckNo, "error", verr.Error())
		return finalError{signatureInvalid(det.Irn, det.AckNo, det.AckDt, irp, verr)}
	}
	if !sameEssentials(claims.BuyerDtls.Gstin, claims.ValDtls.TotInvVal, inv) {
		// The IRP holds another document under this number: mirror the IRP's truth, and
		// tell the caller clearly instead of attaching this IRN to their document.
		if err := s.docs.adoptForeign(pctx, k, claims.BuyerDtls.Gstin, claims.ValDtls.TotInvVal, string(data), det); err != nil {
			return finalError{s.registeredNotStored(ctx, k, det, err)}
		}
		return finalError{duplicateConflict(det.Irn, det.AckNo, det.AckDt, claims.BuyerDtls.Gstin, claims.ValDtls.TotInvVal)}
	}
	if err := s.docs.complete(pctx, k, det, stateActive); err != nil {
		return finalError{s.registeredNotStored(ctx, k, det, err)}
	}
	return nil
}

// signedInvoiceClaims is what the service reads from a SignedInvoice's data claim.
type signedInvoiceClaims struct {
	AckNo      json.Number `json:"AckNo"`
	AckDt      string      `json:"AckDt"`
	Irn        string      `json:"Irn"`
	DocDtls    struct{ Typ, No, Dt string }
	SellerDtls struct{ Gstin string }
	BuyerDtls  struct{ Gstin string }
	ValDtls    struct{ TotInvVal float64 }
}

// sameEssentials reports whether a registration of buyer and total is of the document inv
// (the DUPIRN comparison: buyer GSTIN and total invoice value).
func sameEssentials(buyer string, total float64, inv *doc.Invoice) bool {
	return sameParties(buyer, total, inv.BuyerGSTIN(), inv.TotalInvoiceValue())
}

// sameParties reports whether two documents under one number have the same buyer and total.
func sameParties(buyerA string, totalA float64, buyerB string, totalB float64) bool {
	return strings.EqualFold(buyerA, buyerB) && math.Abs(totalA-totalB) <= totalTolerance
}

func duplicateConflict(irn string, ackNo int64, ackDt, buyer string, total float64) error {
	return platform.Status(grpccodes.AlreadyExists, errorsv1.ErrorReason_ERROR_REASON_DUPLICATE_CONFLICT,
		"an e-invoice with this document number is already registered with different details (buyer GSTIN or total invoice value)",
		map[string]string{
			"irn": irn, "ack_no": strconv.FormatInt(ackNo, 10), "ack_dt": ackDt,
			"registered_buyer_gstin": buyer, "registered_tot_inv_val": strconv.FormatFloat(total, 'f', 2, 64),
			"irp_error_codes": irpclient.CodeDuplicateIRN,
		}).Err()
}

// documentCancelled refuses to register a document whose IRN was cancelled, as the IRP
// does (2278), naming the IRN so a caller retrying an old request learns what became of it.
// An answer with the cancelled registration would read as a success to a caller that does
// not look at Status.
func documentCancelled(r *record) error {
	return platform.Status(grpccodes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_DOCUMENT_CANCELLED,
		fmt.Sprintf("%s %s of %s was registered as IRN %s and cancelled on %s; a cancelled document number cannot be registered again (NIC %s)",
			r.Key.DocType, r.Key.DocNo, r.Key.SellerGSTIN, r.IRN, r.CancelDate, codeDocumentCancelled),
		map[string]string{
			"irn": r.IRN, "ack_no": strconv.FormatInt(r.AckNo, 10), "ack_dt": r.AckDt, "cancel_date": r.CancelDate,
			"irp_error_codes": codeDocumentCancelled,
		}).Err()
}

// signedDataUnavailable answers a registration irpgate holds only the acknowledgement of:
// one the IRP made more than two days before its DUPIRN reached irpgate (2150), whose
// signed invoice and QR code NIC no longer gives out (2283). An answer without them would
// read as a registration to print, QR code and all.
func signedDataUnavailable(irn string, ackNo int64, ackDt string) error {
	return platform.Status(grpccodes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_SIGNED_DATA_UNAVAILABLE,
		fmt.Sprintf("the IRP registered this document as IRN %s (AckNo %d, AckDt %s) more than two days ago and no longer gives out its signed invoice and QR code (NIC %s); irpgate keeps the acknowledgement: download the signed invoice from the e-invoice portal",
			irn, ackNo, ackDt, irpclient.CodeIRNTooOld),
		map[string]string{
			"irn": irn, "ack_no": strconv.FormatInt(ackNo, 10), "ack_dt": ackDt,
			"irp_error_codes": irpclient.CodeDuplicateIRN + "," + irpclient.CodeIRNTooOld,
		}).Err()
}

// verifyDetails checks both signatures of a registration and that the signed invoice is
// the IRN it claims to be.
func (s *Service) verifyDetails(det *irpclient.IRNDetails) error {
	_, _, err := s.verifySigned(det.Irn, det.SignedInvoice, det.SignedQRCode)
	return err
}

// verifySigned checks both signatures of a registration against the configured
// certificates and that the signed invoice is for irn, and returns the signed invoice's
// data and claims. An error names the part that failed (SignedInvoice, SignedQRCode).
func (s *Service) verifySigned(irn, signedInvoice, signedQRCode string) (json.RawMessage, *signedInvoiceClaims, error) {
	signed, err := s.verifier.Verify(signedInvoice)
	if err != nil {
		return nil, nil, fmt.Errorf("SignedInvoice: %w", err)
	}
	if _, err := s.verifier.Verify(signedQRCode); err != nil {
		return nil, nil, fmt.Errorf("SignedQRCode: %w", err)
	}
	var claims signedInvoiceClaims
	if err := json.Unmarshal(signed.Data, &claims); err != nil {
		return nil, nil, fmt.Errorf("SignedInvoice data: %w", err)
	}
	if claims.Irn != "" && !strings.EqualFold(claims.Irn, irn) {
		return nil, nil, fmt.Errorf("SignedInvoice is for IRN %s, not %s", claims.Irn, irn)
	}
	return signed.Data, &claims, nil
}

// reverify checks the stored signed answer of an unverified registration against the
// certificates configured now, without calling the IRP (it has the registration). If it
// verifies, the row is marked verified and returned as now stored; if the IRP signed
// another buyer or total than the row holds (a DUPIRN original stored before it could be
// verified), the row mirrors the signed document, as adoptForeign does. Otherwise the
// answer is SIGNATURE_INVALID.
//
// GenerateIrn, GetIrn and GetIrnByDocument all answer an unverified row through reverify,
// so signed data that did not verify is never answered as a registration.
func (s *Service) reverify(ctx context.Context, r *record) (*record, error) {
	data, c, err := s.verifySigned(r.IRN, r.SignedInvoice, r.SignedQRCode)
	if err != nil {
		return nil, signatureInvalid(r.IRN, r.AckNo, r.AckDt, r.IRP, err)
	}
	var signed *signedDocument
	if !sameParties(c.BuyerDtls.Gstin, c.ValDtls.TotInvVal, r.BuyerGSTIN, r.TotInvVal) {
		signed = &signedDocument{BuyerGSTIN: c.BuyerDtls.Gstin, TotInvVal: c.ValDtls.TotInvVal, Data: string(data)}
	}
	if err := s.docs.markVerified(ctx, r, signed); err != nil {
		return nil, s.storeFailed(ctx, err, "")
	}
	s.log.InfoContext(ctx, "a stored registration verifies now", "irn", r.IRN, "state", verifiedState(r.State))
	stored, err := s.docs.byKey(ctx, s.cfg.DB, r.Key)
	if err != nil {
		return nil, s.storeFailed(ctx, fmt.Errorf("read stored registration: %w", err), "")
	}
	return stored, nil
}

// sleep waits before attempt n (exponential, jittered, capped) or until ctx ends.
func (s *Service) sleep(ctx context.Context, n int) error {
	d := s.cfg.RetryBaseDelay << min(n-1, 10)
	d = min(d, s.cfg.RetryMaxDelay)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func incoming(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func docKeyString(k doc.DocKey) string {
	return k.SellerGSTIN + "|" + k.FY + "|" + k.DocType + "|" + k.DocNo
}

// sellerOf is SellerDtls.Gstin of a document as far as it could be read ("" when not).
func sellerOf(inv *doc.Invoice) string {
	if inv == nil {
		return ""
	}
	return strings.TrimSpace(inv.SellerGSTIN())
}

// detailsOf is the API form of a stored registration.
func detailsOf(r *record) *einvoicev1.IrnDetails {
	d := &einvoicev1.IrnDetails{
		AckNo: r.AckNo, AckDt: r.AckDt, Irn: r.IRN, SignedInvoice: r.SignedInvoice, SignedQrCode: r.SignedQRCode,
		Status: "ACT", EwbNo: r.EwbNo, EwbDt: r.EwbDt, EwbValidTill: r.EwbValidTill, Remarks: r.Remarks,
		CancelDate: r.CancelDate, Irp: r.IRP,
	}
	if r.State == stateCancelled {
		d.Status = "CNL"
	}
	if r.InfoJSON != "" {
		var info []struct {
			InfCd string `json:"InfCd"`
			Desc  any    `json:"Desc"`
		}
		if json.Unmarshal([]byte(r.InfoJSON), &info) == nil {
			for _, i := range info {
				v, err := structpb.NewValue(i.Desc)
				if err != nil {
					v = structpb.NewStringValue(fmt.Sprint(i.Desc))
				}
				d.InfoDtls = append(d.InfoDtls, &einvoicev1.InfoDetail{InfCd: i.InfCd, Desc: v})
			}
		}
	}
	return d
}

// registeredNotStored is notStored for a registration the IRP has made.
func (s *Service) registeredNotStored(ctx context.Context, k doc.DocKey, det *irpclient.IRNDetails, err error) error {
	ackNo := strconv.FormatInt(det.AckNo, 10)
	return s.notStored(ctx, unsettledDoc{key: k}, "the IRP registered the document (IRN "+det.Irn+", AckNo "+ackNo+")",
		map[string]string{"irn": det.Irn, "ack_no": ackNo, "ack_dt": det.AckDt}, err)
}
