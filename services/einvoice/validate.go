package einvoice

import (
	"context"
	"fmt"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
)

// ValidateInvoice is GenerateIrn's dry run: the same checks, then what GenerateIrn would
// do with the document, read from the store. Nothing is written and the IRP is not called.
func (s *Service) ValidateInvoice(ctx context.Context, req *einvoicev1.ValidateInvoiceRequest) (*einvoicev1.ValidateInvoiceResponse, error) {
	inv, err := s.check(ctx, req.GetInvoice(), req.GetLargeTaxpayer())
	if err != nil {
		return nil, err
	}
	res := &einvoicev1.ValidateInvoiceResponse{Irn: inv.IRN(), Outcome: einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REGISTER}
	r, err := s.docs.byKey(ctx, s.cfg.DB, inv.Key())
	switch {
	case store.IsNotFound(err):
		return res, nil
	case err != nil:
		return nil, s.storeFailed(ctx, fmt.Errorf("read stored registration: %w", err), "")
	}
	switch {
	case r.State == statePending:
		res.Outcome = einvoicev1.GenerateOutcome_GENERATE_OUTCOME_PENDING
	case r.State == stateCancelled:
		res.Outcome, res.Registration = einvoicev1.GenerateOutcome_GENERATE_OUTCOME_CANCELLED, detailsOf(r)
	case r.registered() && r.BodySHA256 != documentDigest(inv) && !sameEssentials(r.BuyerGSTIN, r.TotInvVal, inv):
		res.Outcome, res.Registration = einvoicev1.GenerateOutcome_GENERATE_OUTCOME_CONFLICT, detailsOf(r)
	case r.registered():
		res.Outcome, res.Registration = einvoicev1.GenerateOutcome_GENERATE_OUTCOME_REPLAY, detailsOf(r)
	}
	if res.Registration != nil && r.unverified() {
		// Signed data that has not verified is never answered (GenerateIrn answers
		// SIGNATURE_INVALID for it); the outcome and acknowledgement still are.
		res.Registration.SignedInvoice, res.Registration.SignedQrCode = "", ""
	}
	// A FAILED row (the IRP refused it, or it was never sent) is sent again: REGISTER.
	return res, nil
}
