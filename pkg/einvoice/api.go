package einvoice

import (
	"encoding/json"
	"strings"
	"time"
)

// Options tune the business rules that depend on the caller or the clock.
type Options struct {
	Now                 time.Time // clock for "not in the future" and the 30-day window; zero = time.Now()
	AcceptSandboxGSTINs bool      // accept NIC sandbox test GSTINs that fail the check digit
	ReportingWindowDays int       // 0 = rule off; 30 for sellers above the turnover threshold

	// Tolerance is the rupee difference allowed in every arithmetic rule; 0 means 1.00, the ±1
	// NIC reports on item and invoice totals (reference §6 rule 16, §10.9).
	Tolerance float64
	// EnforceQtyTimesPrice turns on TotAmt = Qty × UnitPrice (2192), which NIC withdrew
	// "temporarily" (§6 rule 14, §10.10).
	EnforceQtyTimesPrice bool
	// MinHSNDigits, when 6 or 8, requires that many HSN digits (6 for AATO above ₹5 crore).
	MinHSNDigits int
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o Options) tol() float64 {
	if o.Tolerance > 0 {
		return o.Tolerance
	}
	return 1.0
}

// Decode reads NIC JSON into an Invoice. Syntax errors, type errors, unknown fields and absent
// required numbers, objects and arrays come back together as a *ValidationError; the Invoice is
// still returned (as far as it could be read) unless the JSON itself is broken.
func Decode(data []byte) (*Invoice, error) {
	var r report
	inv := decodeInvoice(data, &r)
	for _, v := range r.vs {
		if v.Reason == ReasonInvalidJSON {
			return nil, &ValidationError{Violations: []Violation{v}}
		}
	}
	return inv, r.err()
}

// Check decodes and validates data, returning every violation in one *ValidationError.
func Check(data []byte, opts Options) (*Invoice, error) {
	var r report
	inv := decodeInvoice(data, &r)
	for _, v := range r.vs {
		if v.Reason == ReasonInvalidJSON {
			return nil, &ValidationError{Violations: []Violation{v}}
		}
	}
	for _, v := range r.vs {
		if v.Field == "" { // not an object at all: nothing else is worth saying
			return inv, &ValidationError{Violations: []Violation{v}}
		}
	}
	decoded := len(r.vs)
	validate(inv, opts, &r)
	if decoded > 0 && len(r.vs) > decoded {
		r.vs = suppressFollowOns(r.vs, decoded)
	}
	return inv, r.err()
}

// suppressFollowOns drops validator findings on a field (or inside a section) the decoder already
// reported: a missing TranDtls needs one message, not one per TranDtls field.
func suppressFollowOns(vs []Violation, decoded int) []Violation {
	out := vs[:decoded]
	for _, v := range vs[decoded:] {
		dup := false
		for _, dv := range vs[:decoded] {
			if dv.Field == "" {
				continue
			}
			if v.Field == dv.Field || strings.HasPrefix(v.Field, dv.Field+" -> ") {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// Validate applies every schema and business rule to a decoded or constructed Invoice.
// It returns nil or a *ValidationError listing all violations.
func Validate(inv *Invoice, opts Options) error {
	var r report
	if inv == nil {
		r.add("", ReasonRequired, "2255", "the invoice is empty")
		return r.err()
	}
	validate(inv, opts, &r)
	return r.err()
}

// Encode writes the Invoice back as NIC JSON (NIC field names; absent optional fields omitted).
func (inv *Invoice) Encode() ([]byte, error) { return json.Marshal(inv) }

// DocDate parses DocDtls.Dt.
func (inv *Invoice) DocDate() (time.Time, error) { return ParseDate(inv.DocDtls.Dt) }

// Key is the IRP's duplicate-detection key: seller GSTIN, FY, upper-case type and number (the number
// upper-cased for documents dated from 2025-06-01, as the IRN is).
func (inv *Invoice) Key() DocKey {
	k := DocKey{SellerGSTIN: inv.SellerDtls.Gstin, DocType: strings.ToUpper(inv.DocDtls.Typ), DocNo: inv.DocDtls.No}
	if t, err := inv.DocDate(); err == nil {
		k.FY = FinancialYear(t)
		if !t.Before(caseInsensitiveDocNoFrom) {
			k.DocNo = strings.ToUpper(k.DocNo)
		}
	}
	return k
}

// IRN computes the document's IRN ("" if the document date cannot be parsed).
func (inv *Invoice) IRN() string {
	t, err := inv.DocDate()
	if err != nil {
		return ""
	}
	return IRN(inv.SellerDtls.Gstin, inv.DocDtls.Typ, inv.DocDtls.No, t)
}

// SellerGSTIN is SellerDtls.Gstin.
func (inv *Invoice) SellerGSTIN() string { return inv.SellerDtls.Gstin }

// BuyerGSTIN is BuyerDtls.Gstin ("URP" for exports).
func (inv *Invoice) BuyerGSTIN() string { return inv.BuyerDtls.Gstin }

// SupplyType is TranDtls.SupTyp upper-cased.
func (inv *Invoice) SupplyType() string { return strings.ToUpper(inv.TranDtls.SupTyp) }

// DocType is DocDtls.Typ upper-cased.
func (inv *Invoice) DocType() string { return strings.ToUpper(inv.DocDtls.Typ) }

// TotalInvoiceValue is ValDtls.TotInvVal.
func (inv *Invoice) TotalInvoiceValue() float64 { return inv.ValDtls.TotInvVal }

// ItemCount is the number of lines (the QR code's ItemCnt).
func (inv *Invoice) ItemCount() int { return len(inv.ItemList) }

// MainHSN is the HSN of the line with the highest AssAmt (the QR code's MainHsnCode); the first
// such line wins a tie.
func (inv *Invoice) MainHSN() string {
	best, hsn := -1.0, ""
	for i := range inv.ItemList {
		if inv.ItemList[i].AssAmt > best {
			best, hsn = inv.ItemList[i].AssAmt, inv.ItemList[i].HsnCd
		}
	}
	return hsn
}

// IsInterState reports whether the supply is taxed as IGST: supplier state differs from the place
// of supply, or it is an export or SEZ supply, or IgstOnIntra is Y.
func (inv *Invoice) IsInterState() bool {
	switch inv.SupplyType() {
	case "EXPWP", "EXPWOP", "SEZWP", "SEZWOP":
		return true
	}
	if strings.EqualFold(inv.TranDtls.IgstOnIntra, "Y") {
		return true
	}
	return inv.sellerState() != NormalizeStateCode(inv.BuyerDtls.Pos)
}

func (inv *Invoice) sellerState() string {
	if s := NormalizeStateCode(inv.SellerDtls.Stcd); s != "" {
		return s
	}
	return StateCode(inv.SellerDtls.Gstin)
}

// ItemTotals sums the item amounts the header totals are checked against.
type ItemTotals struct {
	AssAmt, CgstAmt, SgstAmt, IgstAmt, Cess, StateCess, OthChrg, TotItemVal float64
}

// ItemTotals adds up the items (cess includes the non-advalorem part, as ValDtls.CesVal does).
func (inv *Invoice) ItemTotals() ItemTotals {
	var t ItemTotals
	for i := range inv.ItemList {
		it := &inv.ItemList[i]
		t.AssAmt += it.AssAmt
		t.CgstAmt += it.CgstAmt
		t.SgstAmt += it.SgstAmt
		t.IgstAmt += it.IgstAmt
		t.Cess += it.CesAmt + it.CesNonAdvlAmt
		t.StateCess += it.StateCesAmt + it.StateCesNonAdvlAmt
		t.OthChrg += it.OthChrg
		t.TotItemVal += it.TotItemVal
	}
	return t
}
