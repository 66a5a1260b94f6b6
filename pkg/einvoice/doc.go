// Package einvoice holds the GST e-invoice document (NIC schema v1.1) and checks it against every
// schema and business rule the IRP applies, reporting all violations at once in words that name the field.
//
// Numbers are float64: amounts never need more than 2–3 decimals and 14 integer digits, which float64
// holds exactly enough for comparisons with NIC's tolerance (see the tolerance notes in business.go). Absence of a required
// number is a property of the JSON document, so Decode reports it (REQUIRED) rather than the Go struct
// carrying a pointer per field; a Go-constructed Invoice treats a zero number as "given as 0".
package einvoice
