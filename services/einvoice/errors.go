package einvoice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// NIC codes this service reacts to besides those irpclient names.
const (
	codeGSTINInvalid      = "3028"
	codeGSTINInactive     = "3029"
	codeCancelWindow      = "2270"
	codeActiveEwayBill    = "2230"
	codeDocumentCancelled = "2278"
	codeIRNNotAvailable   = "2148"
	codeIRNNotFound       = "2154"
	codeInvalidDocType    = "2161"
	codeNotAuthorisedRead = "2226"
)

// invalidDocument is the InvalidArgument status of a document that fails validation:
// every violation, each with its NIC path, message and our reason.
func invalidDocument(ve *doc.ValidationError) error {
	vs := make([]platform.FieldViolation, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		vs = append(vs, platform.FieldViolation{Field: v.Field, Description: v.Message, Reason: v.Reason, NICCode: v.NICCode})
	}
	meta := map[string]string{"violations": itoa(len(vs))}
	if codes := ve.NICCodes(); len(codes) > 0 {
		meta["irp_error_codes"] = strings.Join(codes, ",")
	}
	return platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
		"the document is invalid: "+ve.Error(), meta, vs...).Err()
}

// invalidRequest is an InvalidArgument status for request fields outside the document.
func invalidRequest(field, reason, msg string) error {
	return platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST, msg, nil,
		platform.FieldViolation{Field: field, Description: msg, Reason: reason}).Err()
}

// irpRefused is the status of an IRP Status-0 answer, with its codes, details and InfoDtls
// in the metadata the REST gateway turns into HTTP 502 err-irp-returned-error.
func irpRefused(e *irpclient.Error) error {
	if e.HTTPStatus == http.StatusTooManyRequests {
		return irpRateLimited(e)
	}
	details, _ := json.Marshal(e.Details)
	meta := map[string]string{
		"irp_error_codes":   strings.Join(e.Codes(), ","),
		"irp_error_details": string(details),
	}
	if e.IRP != "" {
		meta["irp"] = e.IRP
	}
	if len(e.Info) > 0 {
		meta["irp_info_details"] = string(infoJSON(e.Info))
	}
	msg := "the IRP refused the request"
	if len(e.Details) > 0 {
		msg += ": " + e.Details[0].Code + " " + e.Details[0].Message
	}
	return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_IRP_ERROR, msg, meta).Err()
}

// irpRateLimited is the answer when the IRP keeps refusing with HTTP 429 for longer than
// irpclient waits: nothing was processed, and RetryInfo carries the IRP's Retry-After.
func irpRateLimited(e *irpclient.Error) error {
	meta := map[string]string{"irp_error_codes": strings.Join(e.Codes(), ",")}
	if e.IRP != "" {
		meta["irp"] = e.IRP
	}
	msg := "the IRP is limiting requests (HTTP 429); nothing was processed, send the same request again later"
	if e.RetryAfter > 0 {
		secs := int64(math.Ceil(e.RetryAfter.Seconds()))
		meta["retry_after_seconds"] = strconv.FormatInt(secs, 10)
		msg = fmt.Sprintf("the IRP is limiting requests (HTTP 429); nothing was processed, send the same request again in %d s", secs)
	}
	st := platform.Status(codes.ResourceExhausted, errorsv1.ErrorReason_ERROR_REASON_IRP_RATE_LIMITED, msg, meta)
	if e.RetryAfter > 0 {
		st = platform.WithRetryDelay(st, e.RetryAfter)
	}
	return st.Err()
}

// irpFailure translates any error of an IRP call that is not handled on the spot.
func irpFailure(ctx context.Context, err error) error {
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie):
		return irpRefused(ie)
	case ctx.Err() != nil:
		return platform.Status(codes.DeadlineExceeded, errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE,
			"the request ended before the IRP answered", nil).Err()
	case irpclient.IsOutcomeUnknown(err):
		return platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN,
			"the IRP did not answer readably; the request is safe to repeat", nil).Err()
	case irpclient.IsTransport(err):
		return platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE,
			"the IRP is unreachable; try again", nil).Err()
	case errors.Is(err, irpclient.ErrNoSessionSource):
		return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_CREDENTIALS_MISSING,
			"no IRP session source is configured", nil).Err()
	}
	if st, ok := sessionRefusal(err); ok {
		return st.Err()
	}
	return platform.Status(codes.Unavailable, errorsv1.ErrorReason_ERROR_REASON_IRP_AUTH_FAILED,
		"no IRP session for this GSTIN: "+err.Error(), nil).Err()
}

// signatureInvalid is the status of a registration the IRP made whose signed answer does
// not verify against the configured certificates (cause names the signature). The
// registration is stored UNVERIFIED and answered once it verifies.
func signatureInvalid(irn string, ackNo int64, ackDt, irp string, cause error) error {
	meta := map[string]string{"irn": irn, "ack_no": strconv.FormatInt(ackNo, 10), "ack_dt": ackDt}
	if irp != "" {
		meta["irp"] = irp
	}
	return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_SIGNATURE_INVALID,
		"the IRP registered the document (IRN "+irn+", AckNo "+meta["ack_no"]+
			") but its signed answer did not verify against the configured IRP certificates: "+cause.Error()+
			"; the registration is stored and is answered once the certificates are right", meta).Err()
}

// readSignatureInvalid is SIGNATURE_INVALID for a registration read from the IRP: nothing
// is stored, since the row would be keyed by data that did not verify.
func readSignatureInvalid(irn string, ackNo int64, ackDt, irp string, cause error) error {
	meta := map[string]string{"irn": irn, "ack_no": strconv.FormatInt(ackNo, 10), "ack_dt": ackDt, "irp": irp}
	return platform.Status(codes.FailedPrecondition, errorsv1.ErrorReason_ERROR_REASON_SIGNATURE_INVALID,
		"the IRP's answer for IRN "+irn+" (AckNo "+meta["ack_no"]+") did not verify against the configured IRP certificates: "+
			cause.Error()+"; nothing was stored, the IRP keeps it within its retention window", meta).Err()
}

func notFound(msg string, meta map[string]string) error {
	return platform.Status(codes.NotFound, errorsv1.ErrorReason_ERROR_REASON_NOT_FOUND, msg, meta).Err()
}

// storeFailed is the answer to a failed read or write of the store that leaves nothing the
// IRP did unrecorded: STORE_UNAVAILABLE (retry later) when the database cannot take it now,
// else an internal error. note, if any, tells the caller more ("nothing was sent to the IRP").
// The database's own message goes to the log only: it may quote stored values.
func (s *Service) storeFailed(ctx context.Context, err error, note string) error {
	if !store.IsUnavailable(err) {
		s.log.ErrorContext(ctx, "einvoice: store failed", "error", err.Error())
		msg := "internal error"
		if note != "" {
			msg += "; " + note
		}
		return internal(msg)
	}
	msg := "irpgate's database is unavailable; "
	if note != "" {
		msg += note + "; "
	}
	return platform.StoreUnavailable(msg+"send the request again later", nil)
}

// notStored is the answer when the IRP has registered (or cancelled) a document and writing
// that down failed. The document is remembered for SettlePending, which reads the IRP's record
// and stores it once the database takes writes again; the caller learns what the IRP did
// (meta: irn, ack_no, ack_dt or cancel_date), and sending the same request again answers it.
func (s *Service) notStored(ctx context.Context, d unsettledDoc, what string, meta map[string]string, err error) error {
	s.unsettled.add(d)
	s.log.ErrorContext(ctx, "the IRP's answer could not be stored; it is stored once the database takes writes again",
		"irn", meta["irn"], "error", err.Error())
	if !store.IsUnavailable(err) {
		return platform.Status(codes.Internal, errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED, what+
			" but could not be stored (internal error); irpgate stores it in the background, and sending the same request again answers it", meta).Err()
	}
	return platform.StoreUnavailable(what+" but irpgate's database is unavailable; irpgate stores it once the "+
		"database is back, and sending the same request again answers it", meta)
}

func internal(msg string) error {
	return platform.Status(codes.Internal, errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED, msg, nil).Err()
}

func forbidden(gstin string) error {
	return platform.Status(codes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_GSTIN_NOT_ALLOWED,
		"the caller may not act for GSTIN "+gstin, map[string]string{"gstin": gstin}).Err()
}

// authorize refuses a caller that may not act for gstin. Without a caller in the context
// (no verifier installed: tests, single-user set-ups) everything is allowed.
func authorize(ctx context.Context, gstin string) error {
	if callerMayActFor(ctx, gstin) {
		return nil
	}
	return forbidden(gstin)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// sessionRefusal is auth's answer when it could not give an IRP session: no credentials
// for the GSTIN (CREDENTIALS_MISSING), credentials the IRP refused (IRP_AUTH_FAILED), the
// IRP unreachable. It is passed on as auth gave it (code, reason, message naming the GSTIN
// and IRP), not as an outage to retry.
func sessionRefusal(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	if st == nil || st.Code() == codes.OK || st.Code() == codes.Unknown {
		return nil, false
	}
	return st, true
}
