package sandbox

import (
	"errors"
	"time"

	"github.com/irpgate/irpgate/pkg/einvoice"
)

// checkOptions are what the IRP knows beyond the document when it applies the rules.
type checkOptions struct {
	now           time.Time
	windowDays    int  // reporting window of the seller (30 for large taxpayers, 0 off)
	acceptSandbox bool // NIC's test GSTINs pass the check-digit rule
}

// checkInvoice is the one seam to pkg/einvoice: the sandbox refuses with exactly the rules that
// package implements and keeps no copy of its own.
func checkInvoice(data []byte, o checkOptions) (*einvoice.Invoice, []einvoice.Violation) {
	inv, err := einvoice.Check(data, einvoice.Options{
		Now: o.now, AcceptSandboxGSTINs: o.acceptSandbox, ReportingWindowDays: o.windowDays,
	})
	if err == nil {
		return inv, nil
	}
	var ve *einvoice.ValidationError
	if errors.As(err, &ve) {
		return inv, ve.Violations
	}
	return inv, []einvoice.Violation{{Reason: einvoice.ReasonInvalidJSON, NICCode: "2140", Message: err.Error()}}
}
