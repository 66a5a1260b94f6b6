// Package einvoice is the IRN lifecycle service: it validates, registers,
// cancels, reads and verifies e-invoices with an IRP exactly once, keeping
// every signed answer in its own tables.
//
// Exactly once (DESIGN.md §3): a pending row keyed by seller GSTIN + FY +
// document type + number is written before the IRP is called and completed
// with the signed answer before the caller hears back. An answer lost on the
// way is never reported as "not generated": the same document is sent again,
// and the IRP's 2150 Duplicate IRN (with DUPIRN) is reconciled by reading the
// registration, verifying its signature and comparing buyer GSTIN and total.
// A registration whose signed answer does not verify against the configured IRP
// certificates is stored UNVERIFIED, never sent again, and answered once it verifies
// (ERROR_REASON_SIGNATURE_INVALID until then).
package einvoice
