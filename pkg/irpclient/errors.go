package irpclient

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrorDetail is one entry of NIC's ErrorDetails (or an e-way-bill system
// error code).
type ErrorDetail struct {
	Code    string `json:"ErrorCode"`
	Message string `json:"ErrorMessage"`
}

// DupIRN is the Desc of a DUPIRN InfoDtls entry: the original registration
// of a document that was submitted again (error 2150).
type DupIRN struct {
	AckNo int64
	AckDt string
	Irn   string
}

// Info is one InfoDtls entry, parsed by its InfCd.
type Info struct {
	Code      string        // InfCd: DUPIRN, EWBERR, EWBPPD, ADDNLNFO, ...
	DupIRN    *DupIRN       // DUPIRN
	EWBErrors []ErrorDetail // EWBERR
	Text      string        // EWBPPD, ADDNLNFO and any other textual Desc
	Raw       []byte        // Desc as received
}

// Info codes the IRP is known to send.
const (
	InfoDuplicateIRN = "DUPIRN"
	InfoEWBError     = "EWBERR"
	InfoPinDistance  = "EWBPPD"
	InfoAdditional   = "ADDNLNFO"
)

// NIC error codes callers commonly react to.
const (
	CodeInvalidToken     = "1005"
	CodeDuplicateIRN     = "2150"
	CodeIRNTooOld        = "2283"
	CodeInvoiceNotActive = "9999"
	CodeEWBInvalidToken  = "238"
)

// Error is an answer from the IRP that reports failure: Status 0, or an HTTP
// status other than 200 that still carried a NIC envelope.
type Error struct {
	API        string
	IRP        string
	HTTPStatus int
	Details    []ErrorDetail
	Info       []Info
	// RetryAfter is how long the IRP asked callers to wait (its Retry-After header), if it did.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "irpclient: %s on %s failed", e.API, e.IRP)
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Code)
		if d.Message != "" {
			b.WriteString(" ")
			b.WriteString(d.Message)
		}
	}
	if len(e.Details) == 0 {
		b.WriteString(": no error details")
	}
	return b.String()
}

// Has reports whether the IRP returned the given error code.
func (e *Error) Has(code string) bool {
	for _, d := range e.Details {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Codes lists the error codes, in the IRP's order.
func (e *Error) Codes() []string {
	out := make([]string, 0, len(e.Details))
	for _, d := range e.Details {
		out = append(out, d.Code)
	}
	return out
}

// InfoByCode returns the first InfoDtls entry with that InfCd.
func (e *Error) InfoByCode(code string) (Info, bool) {
	return findInfo(e.Info, code)
}

func findInfo(infos []Info, code string) (Info, bool) {
	for _, in := range infos {
		if in.Code == code {
			return in, true
		}
	}
	return Info{}, false
}

// ErrOutcomeUnknown is the errors.Is target for a generate or cancel that
// was sent to the IRP without an answer the client could read (timeout after
// sending, dropped connection, 5xx). The IRP may have acted on it: the caller
// must reconcile (re-submit the same document and handle 2150 / DUPIRN, or
// read the IRN) instead of assuming it failed.
var ErrOutcomeUnknown = errors.New("irpclient: outcome unknown (request sent, no readable answer)")

// TransportError is a failure to exchange with the IRP: the request never
// reached it (Sent false) or its answer could not be read (Sent true).
type TransportError struct {
	API        string
	IRP        string
	Sent       bool // the request was completely written to the connection
	HTTPStatus int  // when a response arrived without a readable NIC envelope
	// OutcomeUnknown marks a non-idempotent call (generate, cancel) that was
	// sent; errors.Is(err, ErrOutcomeUnknown) is then true.
	OutcomeUnknown bool
	// RetryAfter is how long the IRP asked callers to wait (its Retry-After header), if it did.
	RetryAfter time.Duration
	Err        error
}

func (e *TransportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "irpclient: %s on %s: ", e.API, e.IRP)
	switch {
	case e.OutcomeUnknown:
		b.WriteString("outcome unknown: ")
	case e.Sent:
		b.WriteString("answer unreadable: ")
	default:
		b.WriteString("not sent: ")
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *TransportError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrOutcomeUnknown) true for an unknown outcome.
func (e *TransportError) Is(target error) bool {
	return target == ErrOutcomeUnknown && e.OutcomeUnknown
}

// DuplicateIRN reports a 2150 answer and returns its DUPIRN details (nil
// details if the IRP did not send them).
func DuplicateIRN(err error) (*DupIRN, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return nil, false
	}
	if in, ok := e.InfoByCode(InfoDuplicateIRN); ok && in.DupIRN != nil {
		return in.DupIRN, true
	}
	return nil, e.Has(CodeDuplicateIRN)
}

// IsInvalidToken reports whether the IRP rejected the session (1005 on the
// IRP, 238/105/106 from the e-way-bill system).
func IsInvalidToken(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, d := range e.Details {
		switch d.Code {
		case CodeInvalidToken, CodeEWBInvalidToken, "105", "106":
			return true
		}
	}
	return false
}

// IsOutcomeUnknown is errors.Is(err, ErrOutcomeUnknown).
func IsOutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// IsTransport reports whether err is a transport failure rather than an IRP answer.
func IsTransport(err error) bool {
	var t *TransportError
	return errors.As(err, &t)
}

// Codes returns the NIC error codes carried by err, or nil.
func Codes(err error) []string {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	return e.Codes()
}
