package einvoice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/services/einvoice/render"
)

// ContentDispositionKey is the response metadata that names a printout's file; the
// gateway answers it as the Content-Disposition header.
const ContentDispositionKey = "content-disposition"

// GetQrImage draws the registration's SignedQRCode as a PNG image, for printing on the
// invoice. The registration is found as GetIrn finds it: in the store, else at the IRP.
func (s *Service) GetQrImage(ctx context.Context, req *einvoicev1.GetQrImageRequest) (*einvoicev1.GetQrImageResponse, error) {
	if req.GetSize() < 0 || req.GetSize() > render.MaxQRSize {
		return nil, invalidRequest("size", doc.ReasonOutOfRange, fmt.Sprintf("size must be 0 (for %d) or a number of pixels up to %d", render.DefaultQRSize, render.MaxQRSize))
	}
	det, err := s.printable(ctx, req.GetIrn(), req.GetGstin(), req.GetIrp())
	if err != nil {
		return nil, err
	}
	_, span := s.tracer.Start(ctx, "einvoice.render_qr")
	img, err := render.QRPNG(det.GetSignedQrCode(), int(req.GetSize()))
	var se *render.SizeError
	badSize := errors.As(err, &se)
	if err != nil && !badSize {
		// A size the code cannot be drawn at is the caller's mistake, not the span's
		// failure (as an invalid document does not fail einvoice.validate).
		span.RecordError(err)
		span.SetStatus(codes.Error, "QR code not drawn")
	}
	span.End()
	if badSize {
		return nil, invalidRequest("size", doc.ReasonOutOfRange, fmt.Sprintf("size must be at least %d pixels for this QR code (one pixel per module), or 0 for %d", se.Min, render.DefaultQRSize))
	}
	if err != nil {
		return nil, s.printFailed(ctx, det.GetIrn(), err)
	}
	return &einvoicev1.GetQrImageResponse{File: &httpbody.HttpBody{ContentType: "image/png", Data: img}}, nil
}

// GetInvoicePdf prints the invoice as the IRP signed it, with its IRN, AckNo, AckDt and
// signed QR code (and its cancellation, when cancelled), as an A4 PDF.
func (s *Service) GetInvoicePdf(ctx context.Context, req *einvoicev1.GetInvoicePdfRequest) (*einvoicev1.GetInvoicePdfResponse, error) {
	switch strings.ToUpper(strings.TrimSpace(req.GetCopy())) {
	case "", "ORIGINAL", "DUPLICATE", "TRIPLICATE":
	default:
		return nil, invalidRequest("copy", doc.ReasonInvalidEnum, fmt.Sprintf("copy must be ORIGINAL, DUPLICATE or TRIPLICATE (or left out for an unmarked print), not %q", req.GetCopy()))
	}
	det, err := s.printable(ctx, req.GetIrn(), req.GetGstin(), req.GetIrp())
	if err != nil {
		return nil, err
	}
	signed, err := s.verifier.Verify(det.GetSignedInvoice())
	if err != nil {
		// GetIrn answers only verified registrations, so this is a certificate changed
		// since: the same as GetIrn would say now.
		return nil, signatureInvalid(det.GetIrn(), det.GetAckNo(), det.GetAckDt(), det.GetIrp(), fmt.Errorf("SignedInvoice: %w", err))
	}
	var inv doc.Invoice
	if err := json.Unmarshal(signed.Data, &inv); err != nil {
		return nil, s.printFailed(ctx, det.GetIrn(), fmt.Errorf("decode the signed invoice: %w", err))
	}
	mark, ok := render.CopyMark(req.GetCopy(), &inv)
	if !ok {
		return nil, invalidRequest("copy", doc.ReasonInvalidEnum,
			"copy TRIPLICATE is for goods: an invoice of services only is made in duplicate (Rule 48(2) of the CGST Rules)")
	}
	reg := render.Registration{
		IRN: det.GetIrn(), AckNo: det.GetAckNo(), AckDt: det.GetAckDt(), SignedQRCode: det.GetSignedQrCode(),
		EwbNo: det.GetEwbNo(), EwbDt: det.GetEwbDt(), EwbValidTill: det.GetEwbValidTill(), Copy: mark,
	}
	if det.GetStatus() == "CNL" {
		reg.CancelDate = det.GetCancelDate()
		if reg.CancelDate == "" {
			reg.CancelDate = "(date not known)"
		}
	}
	_, span := s.tracer.Start(ctx, "einvoice.render_pdf", trace.WithAttributes(attribute.Int("einvoice.items", len(inv.ItemList))))
	pdf, err := render.PDF(&inv, reg)
	span.SetAttributes(attribute.Int("einvoice.pdf_bytes", len(pdf)))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "PDF not written")
	}
	span.End()
	if err != nil {
		return nil, s.printFailed(ctx, det.GetIrn(), err)
	}
	name := fmt.Sprintf("%s-%s", inv.DocType(), fileSafe(inv.DocDtls.No))
	if c := strings.ToLower(strings.TrimSpace(req.GetCopy())); c != "" {
		name += "-" + c
	}
	name += ".pdf"
	_ = grpc.SetHeader(ctx, metadata.Pairs(ContentDispositionKey, `inline; filename="`+name+`"`))
	return &einvoicev1.GetInvoicePdfResponse{File: &httpbody.HttpBody{ContentType: "application/pdf", Data: pdf}}, nil
}

// printable is the registration of irn as GetIrn answers it (store first, then the IRP
// with gstin): verified, and the caller's own, or GetIrn's error; one whose signed data
// irpgate could never get is SIGNED_DATA_UNAVAILABLE.
func (s *Service) printable(ctx context.Context, irn, gstin, irp string) (*einvoicev1.IrnDetails, error) {
	res, err := s.GetIrn(ctx, &einvoicev1.GetIrnRequest{Irn: irn, Gstin: gstin, Irp: irp})
	if err != nil {
		return nil, err
	}
	if d := res.GetDetails(); d.GetSignedInvoice() == "" {
		return nil, signedDataUnavailable(d.GetIrn(), d.GetAckNo(), d.GetAckDt())
	}
	return res.GetDetails(), nil
}

// printFailed is an internal error drawing a registration: logged, answered without detail.
func (s *Service) printFailed(ctx context.Context, irn string, err error) error {
	s.log.ErrorContext(ctx, "printing a registration failed", "irn", irn, "error", err.Error())
	return internal("printing the registration failed")
}

// fileSafe keeps a document number usable as a file name: "/" and other characters that
// file systems or headers treat specially become "-".
func fileSafe(no string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, no)
}
