package einvoice

import (
	"strconv"
	"strings"
)

// Reason codes are ours and stable; clients may switch on them. Schema-level reasons are the ones a
// JSON Schema of v1.1 would also report (see IsSchemaReason).
const (
	// Schema level.
	ReasonInvalidJSON   = "INVALID_JSON"
	ReasonUnknownField  = "UNKNOWN_FIELD"
	ReasonInvalidType   = "INVALID_TYPE"
	ReasonRequired      = "REQUIRED"
	ReasonInvalidLength = "INVALID_LENGTH"
	ReasonInvalidFormat = "INVALID_FORMAT"
	ReasonInvalidEnum   = "INVALID_ENUM"
	ReasonOutOfRange    = "OUT_OF_RANGE"
	ReasonItemCount     = "ITEM_COUNT"
	// A field given twice: valid JSON, but readers differ on which value counts (RFC 8259 §4).
	ReasonDuplicateField = "DUPLICATE_FIELD"

	// Business level (reference §6).
	ReasonInvalidDate         = "INVALID_DATE"
	ReasonFutureDate          = "FUTURE_DATE"
	ReasonReportingWindow     = "REPORTING_WINDOW_EXCEEDED"
	ReasonInvalidGSTIN        = "INVALID_GSTIN"
	ReasonGSTINCheckDigit     = "GSTIN_CHECK_DIGIT"
	ReasonGSTINStateMismatch  = "GSTIN_STATE_MISMATCH"
	ReasonSameParty           = "SUPPLIER_IS_RECIPIENT"
	ReasonURPNotAllowed       = "URP_NOT_ALLOWED"
	ReasonURPRequired         = "URP_REQUIRED"
	ReasonInvalidStateCode    = "INVALID_STATE_CODE"
	ReasonPINNotInState       = "PIN_NOT_IN_STATE"
	ReasonPINRequired         = "PIN_REQUIRED"
	ReasonPOSMismatch         = "POS_MISMATCH"
	ReasonTaxHeadMismatch     = "TAX_HEAD_MISMATCH"
	ReasonUnequalHalves       = "CGST_SGST_UNEQUAL"
	ReasonTaxAmount           = "TAX_AMOUNT_MISMATCH"
	ReasonInvalidGSTRate      = "INVALID_GST_RATE"
	ReasonInvalidUnit         = "INVALID_UNIT"
	ReasonInvalidHSN          = "INVALID_HSN"
	ReasonQtyRequired         = "QTY_REQUIRED"
	ReasonUnitRequired        = "UNIT_REQUIRED"
	ReasonDuplicateSlNo       = "DUPLICATE_SLNO"
	ReasonItemArithmetic      = "ITEM_ARITHMETIC"
	ReasonTotalMismatch       = "TOTAL_MISMATCH"
	ReasonReverseCharge       = "REVERSE_CHARGE_NOT_ALLOWED"
	ReasonPrecedingRequired   = "PRECEDING_DOC_REQUIRED"
	ReasonPrecedingNotAllowed = "PRECEDING_DOC_NOT_ALLOWED"
	ReasonIgstOnIntra         = "IGST_ON_INTRA_INVALID"
	ReasonExport              = "EXPORT_RULE"
	ReasonEcmNotTCS           = "ECOM_GSTIN_NOT_TCS"
	ReasonGoodsServicesMix    = "GOODS_SERVICES_MIX"
	ReasonDiscountTooHigh     = "DISCOUNT_TOO_HIGH"
	ReasonInvalidMaster       = "NOT_IN_MASTER"
	ReasonEwayBill            = "EWB_RULE"
	ReasonDateOrder           = "DATE_ORDER"
)

// IsSchemaReason reports whether a reason is one a JSON Schema validator of v1.1 would also find.
func IsSchemaReason(reason string) bool {
	switch reason {
	case ReasonInvalidJSON, ReasonUnknownField, ReasonInvalidType, ReasonRequired, ReasonInvalidLength,
		ReasonInvalidFormat, ReasonInvalidEnum, ReasonOutOfRange, ReasonItemCount:
		return true
	}
	return false
}

// Violation is one broken rule, located by a NIC-style field path.
type Violation struct {
	Field   string // NIC-style path: "TranDtls -> SupTyp", "ItemList[3] -> GstRt"
	Reason  string // stable reason code of ours, e.g. "INVALID_ENUM", "TAX_HEAD_MISMATCH"
	NICCode string // NIC ErrorCode the IRP would return, "" if none
	Message string // full human text naming the field and the rule
}

// ErrorLocation is the REST errorLocation string (same as Field; "" for the whole document).
func (v Violation) ErrorLocation() string { return v.Field }

// ValidationError carries every violation found in one pass.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.Message)
	}
	return b.String()
}

// NICCodes lists the distinct NIC error codes of the violations, in order of first appearance.
func (e *ValidationError) NICCodes() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range e.Violations {
		if v.NICCode != "" && !seen[v.NICCode] {
			seen[v.NICCode] = true
			out = append(out, v.NICCode)
		}
	}
	return out
}

// path is a NIC-style field path held by value (no allocation until a violation needs its text).
type path struct {
	n   int
	seg [maxPathDepth]pathSeg
}

type pathSeg struct {
	name string
	idx  int // -1 when not an array element
}

const maxPathDepth = 6

func (p path) field(name string) path {
	if p.n < maxPathDepth {
		p.seg[p.n] = pathSeg{name: name, idx: -1}
		p.n++
	}
	return p
}

func (p path) index(i int) path {
	if p.n > 0 {
		p.seg[p.n-1].idx = i
	}
	return p
}

func (p path) String() string {
	var b strings.Builder
	for i := 0; i < p.n; i++ {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(p.seg[i].name)
		if p.seg[i].idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.seg[i].idx))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// report collects violations.
type report struct{ vs []Violation }

func (r *report) add(field, reason, nic, msg string) {
	if field != "" {
		msg = field + " " + msg
	}
	if nic != "" {
		msg += " (NIC " + nic + ")"
	}
	r.vs = append(r.vs, Violation{Field: field, Reason: reason, NICCode: nic, Message: msg})
}

func (r *report) err() error {
	if len(r.vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: r.vs}
}
