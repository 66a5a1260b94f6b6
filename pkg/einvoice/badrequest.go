package einvoice

import "google.golang.org/genproto/googleapis/rpc/errdetails"

// BadRequest renders the violations as google.rpc.BadRequest field violations: Field is the NIC
// path, Reason our reason code, Description the full message (with the NIC code in it).
func (e *ValidationError) BadRequest() *errdetails.BadRequest {
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, 0, len(e.Violations))}
	for _, v := range e.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       v.Field,
			Reason:      v.Reason,
			Description: v.Message,
		})
	}
	return br
}
