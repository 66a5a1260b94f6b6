package einvoice

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// nicTime is the layout of AckDt and CancelDate (IST).
const nicTime = "2006-01-02 15:04:05"

// cancelWindow is how long after AckDt an IRN may be cancelled (NIC 2270 after).
const cancelWindow = 24 * time.Hour

// cancelDeadline is the end of the cancel window of an IRN acknowledged at ackDt: after it,
// CancelIrn refuses (NIC 2270), and ListIrns no longer offers the IRN as cancellable.
func cancelDeadline(ackDt string) (time.Time, error) {
	ack, err := time.ParseInLocation(nicTime, ackDt, irpclient.IST)
	return ack.Add(cancelWindow), err
}

// CancelIrn cancels a registered IRN. The IRP's rules are applied locally first (24 hours
// from AckDt, no active e-way bill), and an IRN the IRP reports as already cancelled (9999)
// counts as cancelled. An UNVERIFIED registration may be cancelled too (the IRP has it);
// it stays unverified after (see record.unverified). A document irpgate holds no
// registration of (PENDING, FAILED) is asked about at the IRP first, and what it holds is
// cancelled.
func (s *Service) CancelIrn(ctx context.Context, req *einvoicev1.CancelIrnRequest) (*einvoicev1.CancelIrnResponse, error) {
	irn := strings.ToLower(strings.TrimSpace(req.GetIrn()))
	var vs []platform.FieldViolation
	if !isIRN(irn) {
		vs = append(vs, platform.FieldViolation{
			Field: "Irn", Reason: "INVALID_FORMAT", NICCode: "2145",
			Description: "Irn must be the 64-character hexadecimal IRN",
		})
	}
	switch req.GetCnlRsn() {
	case "1", "2", "3", "4":
	default:
		vs = append(vs, platform.FieldViolation{
			Field: "CnlRsn", Reason: "INVALID_ENUM",
			Description: "CnlRsn must be 1 (duplicate), 2 (data entry mistake), 3 (order cancelled) or 4 (other)",
		})
	}
	if rem := strings.TrimSpace(req.GetCnlRem()); rem == "" || utf8.RuneCountInString(rem) > 100 {
		vs = append(vs, platform.FieldViolation{
			Field: "CnlRem", Reason: "INVALID_LENGTH",
			Description: "CnlRem is required and must be at most 100 characters",
		})
	}
	if len(vs) > 0 {
		return nil, platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
			"the cancel request is invalid", nil, vs...).Err()
	}

	rec, err := s.byIRNFor(ctx, irn)
	switch {
	case store.IsNotFound(err):
		gstin := strings.ToUpper(strings.TrimSpace(req.GetGstin())) // as GetIrn takes it
		if gstin == "" {
			return nil, notFound("IRN "+irn+" is not in the store; give the seller GSTIN to cancel it on the IRP", map[string]string{"irn": irn})
		}
		if err := authorize(ctx, gstin); err != nil {
			return nil, err
		}
		rec, err = s.fetchIRN(ctx, gstin, s.cfg.DefaultIRP, irn, nil)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, s.storeFailed(ctx, err, "")
	}
	if err := authorize(ctx, rec.Key.SellerGSTIN); err != nil {
		return nil, err
	}

	unlock, err := s.locks.lock(ctx, docKeyString(rec.Key))
	if err != nil {
		return nil, irpFailure(ctx, err)
	}
	defer unlock()
	if rec, err = s.docs.byKey(ctx, s.cfg.DB, rec.Key); err != nil {
		return nil, s.storeFailed(ctx, err, "")
	}
	if rec.State == statePending || rec.State == stateFailed {
		// The IRP's outcome is not known (the caller may have had OUTCOME_UNKNOWN and given
		// up on the invoice), or the number was registered since outside irpgate (on the
		// NIC portal, after the IRP refused what irpgate sent): store the registration the
		// IRP holds, and cancel that, rather than say "not registered" while the IRN stays
		// active at the IRP.
		if _, err := s.fetchIRN(ctx, rec.Key.SellerGSTIN, rec.IRP, irn, rec); err != nil {
			return nil, err
		}
		if rec, err = s.docs.byKey(ctx, s.cfg.DB, rec.Key); err != nil {
			return nil, s.storeFailed(ctx, err, "")
		}
	}
	switch rec.State {
	case stateCancelled:
		return &einvoicev1.CancelIrnResponse{Irn: rec.IRN, CancelDate: rec.CancelDate, AlreadyCancelled: true}, nil
	case stateUnverified:
		// Verified now, the cancelled row is a plain one; if not, it is cancelled all the same.
		if r, err := s.reverify(ctx, rec); err == nil {
			rec = r
		}
	case stateActive:
	default:
		return nil, notFound("IRN "+irn+" is not registered", map[string]string{"irn": irn})
	}

	if end, err := cancelDeadline(rec.AckDt); err == nil && s.now().After(end) {
		return nil, platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_CANCEL_WINDOW_CLOSED,
			"the allowed cancellation time limit is crossed (24 hours from AckDt "+rec.AckDt+"), you cannot cancel the IRN (NIC 2270)",
			map[string]string{"irp_error_codes": codeCancelWindow, "irn": irn, "ack_dt": rec.AckDt}).Err()
	}
	if rec.EwbNo > 0 {
		if st, err := s.irp.GetEWBByIRN(ctx, rec.Key.SellerGSTIN, irn, irpclient.WithIRP(rec.IRP)); err == nil && st.Status == "ACT" {
			return nil, activeEwayBill(irn, st.EwbNo)
		}
	}

	cancelDate, already, err := s.cancelAtIRP(ctx, rec, irpclient.CancelIRNRequest{Irn: irn, CnlRsn: req.GetCnlRsn(), CnlRem: strings.TrimSpace(req.GetCnlRem())})
	if err != nil {
		return nil, err
	}
	pctx, cancel := persistContext(ctx)
	defer cancel()
	if err := s.docs.markCancelled(pctx, irn, cancelDate, req.GetCnlRsn(), strings.TrimSpace(req.GetCnlRem())); err != nil {
		return nil, s.notStored(ctx, unsettledDoc{key: rec.Key, cancel: &pendingCancel{
			reason: req.GetCnlRsn(), remark: strings.TrimSpace(req.GetCnlRem()), at: cancelDate,
		}}, "the IRP cancelled IRN "+irn, map[string]string{"irn": irn, "cancel_date": cancelDate}, err)
	}
	return &einvoicev1.CancelIrnResponse{Irn: irn, CancelDate: cancelDate, AlreadyCancelled: already}, nil
}

// cancelAtIRP sends the cancellation until its outcome is known. A 9999 after a lost answer
// is this call's own cancellation; a 9999 on the first answer is someone else's. When the
// IRN's IRP cannot be reached and no attempt can have reached it, the cancellation goes
// to the other NIC IRP criss-cross (failover).
func (s *Service) cancelAtIRP(ctx context.Context, rec *record, req irpclient.CancelIRNRequest) (cancelDate string, already bool, err error) {
	sent := false
	misses := 0
	via := []irpclient.CallOption{irpclient.WithIRP(rec.IRP)}
	crossed := false
	var lastErr error
	for attempt := 0; attempt < s.cfg.MaxAttempts; attempt++ {
		if attempt > 0 && s.sleep(ctx, attempt) != nil {
			break
		}
		res, err := s.irp.CancelIRN(ctx, rec.Key.SellerGSTIN, req, via...)
		if err == nil {
			date := res.CancelDate
			if date == "" {
				date = s.now().In(irpclient.IST).Format(nicTime)
			}
			return date, false, nil
		}
		var ie *irpclient.Error
		if errors.As(err, &ie) {
			switch {
			case ie.Has(irpclient.CodeInvoiceNotActive):
				return s.now().In(irpclient.IST).Format(nicTime), !sent, nil
			case ie.Has(codeCancelWindow):
				return "", false, platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_CANCEL_WINDOW_CLOSED,
					"the IRP says the allowed cancellation time limit is crossed (NIC 2270)",
					map[string]string{"irp_error_codes": codeCancelWindow, "irn": req.Irn}).Err()
			case ie.Has(codeActiveEwayBill):
				return "", false, activeEwayBill(req.Irn, 0)
			}
			return "", false, irpRefused(ie)
		}
		sent = sent || irpclient.IsOutcomeUnknown(err)
		if ctx.Err() != nil {
			break
		}
		if misses = countMiss(misses, err); !sent && !crossed && misses >= failoverAfter {
			if other := s.crossIRP(ctx, rec.IRP, rec.IRN); other != "" {
				via = []irpclient.CallOption{irpclient.WithIRP(other), irpclient.WithCrissCross(rec.IRP)}
				crossed, misses, lastErr = true, 0, err
				continue
			}
		}
		if irpclient.IsOutcomeUnknown(err) || irpclient.IsTransport(err) {
			lastErr = err
			continue
		}
		if sent {
			break // an earlier attempt may have cancelled it: its outcome stays unknown
		}
		return "", false, irpFailure(ctx, err)
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	if sent {
		// The IRP may have cancelled it: SettlePending asks it later.
		s.unsettled.add(unsettledDoc{key: rec.Key, cancel: &pendingCancel{
			reason: req.CnlRsn, remark: req.CnlRem, at: s.now().In(irpclient.IST).Format(nicTime),
		}})
	}
	return "", false, irpFailure(ctx, lastErr)
}

func activeEwayBill(irn string, ewbNo int64) error {
	meta := map[string]string{"irp_error_codes": codeActiveEwayBill, "irn": irn}
	if ewbNo > 0 {
		meta["ewb_no"] = itoa(int(ewbNo))
	}
	return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_ACTIVE_EWAY_BILL,
		"this IRN cannot be cancelled because an e-way bill is active; cancel the e-way bill first (NIC 2230)", meta).Err()
}

func isIRN(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
