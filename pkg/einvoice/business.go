package einvoice

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// earliestDocDate: the IRPs reject documents dated before e-invoicing began (§6 rule 7).
var earliestDocDate = time.Date(2020, time.October, 1, 0, 0, 0, 0, IST)

// Tolerances (reference §6 rule 16 and §10.9; NIC does not publish per-rule figures):
//   - item arithmetic (2192–2194), tax and cess against rate × AssAmt (2234, 2235, 2266, 2267),
//     header sums against items (2182–2187) and the invoice total (2189): opts.Tolerance,
//     default ±1.00, the "(+/-) one" NIC reports on item and invoice totals;
//   - CGST against SGST (2227): ±0.01, since the halves are computed alike and may differ only
//     by the paisa one of them absorbs in rounding.
const halvesTolerance = 0.01 + 1e-9

type biz struct {
	inv  *Invoice
	opts Options
	r    *report
	tol  float64
	sup  string // upper SupTyp
	typ  string // upper Typ
}

func (b *biz) add(field, reason, nic, format string, args ...any) {
	b.r.add(field, reason, nic, fmt.Sprintf(format, args...))
}

func (b *biz) differs(got, want float64) bool { return math.Abs(got-want) > b.tol+1e-9 }

// business applies the IRP's rules beyond the schema (reference §6).
func business(inv *Invoice, opts Options, r *report) {
	b := &biz{
		inv: inv, opts: opts, r: r, tol: opts.tol(),
		sup: strings.ToUpper(inv.TranDtls.SupTyp), typ: strings.ToUpper(inv.DocDtls.Typ),
	}
	b.dates()
	b.parties()
	b.supplyType()
	b.items()
	b.totals()
	b.references()
	b.export()
	b.ewayBill()
}

func (b *biz) isExport() bool { return b.sup == "EXPWP" || b.sup == "EXPWOP" }
func (b *biz) isSEZ() bool    { return b.sup == "SEZWP" || b.sup == "SEZWOP" }

// dateField parses an optional date field that passed (or will be reported by) the schema pattern.
func (b *biz) dateField(field, s string) (time.Time, bool) {
	if s == "" || !datePattern(s) {
		return time.Time{}, false
	}
	t, err := ParseDate(s)
	if err != nil {
		b.add(field, ReasonInvalidDate, "", "%q is not a calendar date", s)
		return time.Time{}, false
	}
	return t, true
}

func (b *biz) dates() {
	inv := b.inv
	now := b.opts.now().In(IST)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, IST)
	if s := inv.DocDtls.Dt; s != "" && datePattern(s) {
		t, err := ParseDate(s)
		switch {
		case err != nil:
			b.add("DocDtls -> Dt", ReasonInvalidDate, "2225", "%q is not a calendar date", s)
		case t.After(today):
			b.add("DocDtls -> Dt", ReasonFutureDate, "2163", "%s is in the future; the document date must be today or earlier", s)
		case t.Before(earliestDocDate):
			b.add("DocDtls -> Dt", ReasonInvalidDate, "", "%s is before 01/10/2020, when e-invoicing began", s)
		case b.opts.ReportingWindowDays > 0 && today.Sub(t) > time.Duration(b.opts.ReportingWindowDays)*24*time.Hour:
			b.add("DocDtls -> Dt", ReasonReportingWindow, "",
				"%s is more than %d days old; sellers above the turnover threshold must report within %d days of the document date",
				s, b.opts.ReportingWindowDays, b.opts.ReportingWindowDays)
		}
	}
	for i := range inv.ItemList {
		if bd := inv.ItemList[i].BchDtls; bd != nil {
			b.dateField(fmt.Sprintf("ItemList[%d] -> BchDtls -> ExpDt", i), bd.ExpDt)
			b.dateField(fmt.Sprintf("ItemList[%d] -> BchDtls -> WrDt", i), bd.WrDt)
		}
	}
	if rd := inv.RefDtls; rd != nil {
		if pd := rd.DocPerdDtls; pd != nil {
			st, ok1 := b.dateField("RefDtls -> DocPerdDtls -> InvStDt", pd.InvStDt)
			en, ok2 := b.dateField("RefDtls -> DocPerdDtls -> InvEndDt", pd.InvEndDt)
			if ok1 && ok2 && en.Before(st) {
				b.add("RefDtls -> DocPerdDtls -> InvEndDt", ReasonDateOrder, "", "%s is before the period start %s", pd.InvEndDt, pd.InvStDt)
			}
		}
		for i := range rd.PrecDocDtls {
			f := fmt.Sprintf("RefDtls -> PrecDocDtls[%d] -> InvDt", i)
			if t, ok := b.dateField(f, rd.PrecDocDtls[i].InvDt); ok && t.After(today) {
				b.add(f, ReasonFutureDate, "", "%s is in the future", rd.PrecDocDtls[i].InvDt)
			}
		}
		for i := range rd.ContrDtls {
			b.dateField(fmt.Sprintf("RefDtls -> ContrDtls[%d] -> RecAdvDt", i), rd.ContrDtls[i].RecAdvDt)
			b.dateField(fmt.Sprintf("RefDtls -> ContrDtls[%d] -> PORefDt", i), rd.ContrDtls[i].PORefDt)
		}
	}
	if ed := inv.ExpDtls; ed != nil {
		b.dateField("ExpDtls -> ShipBDt", ed.ShipBDt)
	}
}

// gstin checks state code and check digit of a GSTIN that has the schema shape.
func (b *biz) gstin(field, g string) {
	if !gstinShape(g) {
		return // the schema walk reported it
	}
	if err := ValidateGSTIN(g, b.opts.AcceptSandboxGSTINs); err != nil {
		b.add(field, ReasonInvalidGSTIN, "3028", "%s is not a valid GSTIN: %v", g, errTail(err))
	}
}

func errTail(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i >= 0 {
		return strings.TrimSpace(s[:i]) + " (" + s[i+2:] + ")"
	}
	return s
}

// state validates a Stcd/Pos value against the state master.
func (b *biz) state(field, code, nic string) (string, bool) {
	if code == "" || !stcdPattern(code) {
		return "", false
	}
	n := NormalizeStateCode(code)
	if _, ok := stateNames[n]; !ok {
		b.add(field, ReasonInvalidStateCode, nic, "%q is not a GST state code", code)
		return n, false
	}
	return n, true
}

func (b *biz) pin(field string, pin int, state string, stateOK bool) {
	if !stateOK || pin < 100000 || pin > 999999 {
		return
	}
	if !PINInState(pin, state) {
		name, _ := StateName(state)
		b.add(field, ReasonPINNotInState, "2178", "%d does not belong to state %s (%s)", pin, state, name)
	}
}

func (b *biz) parties() {
	s, by := &b.inv.SellerDtls, &b.inv.BuyerDtls
	b.gstin("SellerDtls -> Gstin", s.Gstin)
	if s.Gstin == "URP" {
		b.add("SellerDtls -> Gstin", ReasonURPNotAllowed, "2213", "cannot be URP: the supplier must be registered")
	}
	st, sok := b.state("SellerDtls -> Stcd", s.Stcd, "2259")
	if sok && (st == "96" || st == "97") {
		b.add("SellerDtls -> Stcd", ReasonInvalidStateCode, "2259", "%q is not a state in India", s.Stcd)
		sok = false
	}
	if sok && gstinShape(s.Gstin) && s.Gstin[:2] != st {
		b.add("SellerDtls -> Stcd", ReasonGSTINStateMismatch, "2258", "%s differs from the state code %s of the supplier GSTIN %s", s.Stcd, s.Gstin[:2], s.Gstin)
	}
	b.pin("SellerDtls -> Pin", s.Pin, st, sok)

	if by.Gstin != "URP" {
		b.gstin("BuyerDtls -> Gstin", by.Gstin)
	}
	bt, bok := b.state("BuyerDtls -> Stcd", by.Stcd, "2260")
	if bok && gstinShape(by.Gstin) && by.Gstin[:2] != bt {
		b.add("BuyerDtls -> Stcd", ReasonGSTINStateMismatch, "2265", "%s differs from the state code %s of the recipient GSTIN %s", by.Stcd, by.Gstin[:2], by.Gstin)
	}
	if by.Pin != 0 {
		b.pin("BuyerDtls -> Pin", by.Pin, bt, bok)
	}
	b.state("BuyerDtls -> Pos", by.Pos, "2243")
	if s.Gstin != "" && s.Gstin == by.Gstin {
		b.add("BuyerDtls -> Gstin", ReasonSameParty, "2211", "equals the supplier GSTIN; supplier and recipient must differ")
	}
	if d := b.inv.DispDtls; d != nil {
		dt, dok := b.state("DispDtls -> Stcd", d.Stcd, "2200")
		b.pin("DispDtls -> Pin", d.Pin, dt, dok)
	}
	if sh := b.inv.ShipDtls; sh != nil {
		if sh.Gstin != "" && sh.Gstin != "URP" {
			b.gstin("ShipDtls -> Gstin", sh.Gstin)
		}
		ht, hok := b.state("ShipDtls -> Stcd", sh.Stcd, "2200")
		b.pin("ShipDtls -> Pin", sh.Pin, ht, hok)
	}
	if e := b.inv.TranDtls.EcmGstin; e != "" && gstinShape(e) {
		if !isTCSGSTIN(e) {
			b.add("TranDtls -> EcmGstin", ReasonEcmNotTCS, "2195", "%s is not an e-commerce operator (TCS) GSTIN: its 14th character must be C", e)
		} else {
			b.gstin("TranDtls -> EcmGstin", e)
		}
	}
}

// isTCSGSTIN: ^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]C[0-9A-Z]$ (§6, IC-const TCS).
func isTCSGSTIN(g string) bool {
	return len(g) == 15 && allBytes(g[2:7], isUpper) && allBytes(g[7:11], isDigit) && isUpper(g[11]) &&
		(isUpper(g[12]) || (g[12] >= '1' && g[12] <= '9')) && g[13] == 'C' && isAlnum(g[14])
}

func (b *biz) supplyType() {
	inv := b.inv
	by := &inv.BuyerDtls
	pos := NormalizeStateCode(by.Pos)
	if inv.TranDtls.RegRev == "Y" && b.sup != "" && b.sup != "B2B" {
		b.add("TranDtls -> RegRev", ReasonReverseCharge, "2162", "is Y but reverse charge applies only to B2B supplies, not %s", b.sup)
	}
	switch {
	case b.isExport():
		if by.Gstin != "" && by.Gstin != "URP" {
			b.add("BuyerDtls -> Gstin", ReasonURPRequired, "2248", "must be URP for an export (%s), not %s", b.sup, by.Gstin)
		}
		if pos != "" && pos != "96" {
			b.add("BuyerDtls -> Pos", ReasonExport, "2232", "must be 96 (other country) for %s, not %s", b.sup, by.Pos)
		}
		if st := NormalizeStateCode(by.Stcd); st != "" && st != "96" {
			b.add("BuyerDtls -> Stcd", ReasonExport, "2261", "must be 96 (other country) for %s, not %s", b.sup, by.Stcd)
		}
		if inv.TranDtls.IgstOnIntra == "Y" {
			b.add("TranDtls -> IgstOnIntra", ReasonExport, "2181", "cannot be Y: an export is never an intra-state supply")
		}
	case b.sup != "":
		if by.Gstin == "URP" {
			if b.sup == "DEXP" {
				b.add("BuyerDtls -> Gstin", ReasonURPNotAllowed, "2171", "cannot be URP for a deemed export")
			} else {
				b.add("BuyerDtls -> Gstin", ReasonURPNotAllowed, "2212", "cannot be URP for supply type %s", b.sup)
			}
		}
		if pos == "96" {
			b.add("BuyerDtls -> Pos", ReasonPOSMismatch, "2242", "cannot be 96 (other country) for %s", b.sup)
		}
		if by.Pin == 0 {
			b.add("BuyerDtls -> Pin", ReasonPINRequired, "2244", "is required for %s", b.sup)
		}
	}
	if inv.TranDtls.IgstOnIntra == "Y" && !b.isExport() && pos != "" && inv.sellerState() != pos {
		b.add("TranDtls -> IgstOnIntra", ReasonIgstOnIntra, "2262", "is Y, so the supplier state %s and the place of supply %s must be the same", inv.sellerState(), pos)
	}
	if sh := inv.ShipDtls; sh != nil && b.sup == "B2B" && pos != "" {
		if st := NormalizeStateCode(sh.Stcd); st != "" && st != pos {
			b.add("ShipDtls -> Stcd", ReasonPOSMismatch, "2245", "%s differs from the place of supply %s; for B2B the ship-to state must be the place of supply", sh.Stcd, by.Pos)
		}
	}
}

func (b *biz) items() {
	inv := b.inv
	inter := inv.IsInterState()
	igstOnIntra := inv.TranDtls.IgstOnIntra == "Y"
	checkTax := b.typ == "INV" // §6 rule 13: tax amounts of CRN/DBN are not cross-checked
	wop := b.sup == "EXPWOP" || b.sup == "SEZWOP"
	withoutTaxOK := inv.TranDtls.RegRev == "Y" || b.sup == "EXPWP"
	var goods, services int
	slno := make(map[string]int, len(inv.ItemList))
	for i := range inv.ItemList {
		it := &inv.ItemList[i]
		f := func(name string) string { return "ItemList[" + itoa(i) + "] -> " + name }
		hsn := it.HsnCd
		if it.SlNo != "" {
			if j, dup := slno[it.SlNo]; dup {
				b.add(f("SlNo"), ReasonDuplicateSlNo, "2233", "%s repeats the serial number of ItemList[%d]", it.SlNo, j)
			} else {
				slno[it.SlNo] = i
			}
		}
		service := it.IsServc == "Y"
		if service {
			services++
		} else if it.IsServc == "N" {
			goods++
		}
		if hsnPattern(hsn) {
			if service && !strings.HasPrefix(hsn, "99") {
				b.add(f("HsnCd"), ReasonInvalidHSN, "2176", "%s is a goods HSN but IsServc is Y; service codes (SAC) start with 99", hsn)
			}
			if it.IsServc == "N" && strings.HasPrefix(hsn, "99") {
				b.add(f("HsnCd"), ReasonInvalidHSN, "2176", "%s is a service code (SAC, starts with 99) but IsServc is N", hsn)
			}
			if b.opts.MinHSNDigits > len(hsn) {
				b.add(f("HsnCd"), ReasonInvalidHSN, "2176", "%s has %d digits; at least %d are required for this seller", hsn, len(hsn), b.opts.MinHSNDigits)
			}
		}
		if it.Unit != "" && !IsUQC(it.Unit) {
			b.add(f("Unit"), ReasonInvalidUnit, "2177", "%q is not a UQC unit code (e.g. NOS, KGS, PCS)", it.Unit)
		}
		if it.IsServc == "N" {
			if it.Qty == 0 {
				b.add(f("Qty"), ReasonQtyRequired, "2238", "is required for goods (HSN %s)", hsn)
			}
			if it.Unit == "" {
				b.add(f("Unit"), ReasonUnitRequired, "2239", "is required for goods (HSN %s)", hsn)
			}
		}
		if it.OrgCntry != "" && len(it.OrgCntry) == 2 && !IsCountry(strings.ToUpper(it.OrgCntry)) {
			b.add(f("OrgCntry"), ReasonInvalidMaster, "2202", "%q is not a country code", it.OrgCntry)
		}
		if it.GstRt >= 0 && it.GstRt <= 999.999 && !IsGSTRate(it.GstRt) {
			b.add(f("GstRt"), ReasonInvalidGSTRate, "2240", "%s%% is not a GST rate (allowed: %s) for HSN %s", fmtNum(it.GstRt), ratesList(), hsn)
		}

		// arithmetic (§6 rule 14)
		if b.opts.EnforceQtyTimesPrice && it.Qty > 0 && b.differs(it.TotAmt, it.Qty*it.UnitPrice) {
			b.add(f("TotAmt"), ReasonItemArithmetic, "2192", "%s should equal Qty × UnitPrice = %.2f for HSN %s", fmtNum(it.TotAmt), it.Qty*it.UnitPrice, hsn)
		}
		if b.differs(it.AssAmt, it.TotAmt-it.Discount) {
			b.add(f("AssAmt"), ReasonItemArithmetic, "2193", "%s should equal TotAmt − Discount = %.2f for HSN %s", fmtNum(it.AssAmt), it.TotAmt-it.Discount, hsn)
		}
		taxes := it.IgstAmt + it.CgstAmt + it.SgstAmt
		rest := it.AssAmt + it.CesAmt + it.CesNonAdvlAmt + it.StateCesAmt + it.StateCesNonAdvlAmt + it.OthChrg
		if b.differs(it.TotItemVal, rest+taxes) && (!withoutTaxOK || b.differs(it.TotItemVal, rest)) {
			b.add(f("TotItemVal"), ReasonItemArithmetic, "2194", "%s should equal AssAmt + GST + cess + OthChrg = %.2f for HSN %s", fmtNum(it.TotItemVal), rest+taxes, hsn)
		}

		// tax heads (§6 rules 10–11)
		hasCS := it.CgstAmt > 0 || it.SgstAmt > 0
		switch {
		case b.isExport() && hasCS:
			b.add(f("CgstAmt"), ReasonTaxHeadMismatch, "2180", "CGST/SGST are not allowed on an export (%s); use IgstAmt for HSN %s", b.sup, hsn)
		case b.isSEZ() && hasCS:
			b.add(f("CgstAmt"), ReasonTaxHeadMismatch, "2237", "CGST/SGST are not allowed for a supply to an SEZ (%s); use IgstAmt for HSN %s", b.sup, hsn)
		case inter && hasCS:
			b.add(f("CgstAmt"), ReasonTaxHeadMismatch, "2174", "CGST and SGST are not applicable to an inter-state supply (item %s); only IgstAmt is", it.SlNo)
		case !inter && it.IgstAmt > 0:
			b.add(f("IgstAmt"), ReasonTaxHeadMismatch, "2172", "IGST is not applicable to an intra-state supply (item %s); only CgstAmt and SgstAmt are", it.SlNo)
		}
		if !inter {
			if math.Abs(it.CgstAmt-it.SgstAmt) > halvesTolerance {
				b.add(f("SgstAmt"), ReasonUnequalHalves, "2227", "%s differs from CgstAmt %s; CGST and SGST must be equal halves for HSN %s", fmtNum(it.SgstAmt), fmtNum(it.CgstAmt), hsn)
			}
			if checkTax && it.GstRt > 0 && it.AssAmt > 0 && !hasCS && it.IgstAmt == 0 {
				b.add(f("CgstAmt"), ReasonTaxAmount, "2241", "CGST and SGST are required for an intra-state supply at %s%% (HSN %s)", fmtNum(it.GstRt), hsn)
			}
		}
		if checkTax {
			if inter && !(wop && it.IgstAmt == 0) && b.differs(it.IgstAmt, it.AssAmt*it.GstRt/100) && !hasCS {
				b.add(f("IgstAmt"), ReasonTaxAmount, "2235", "%s should be AssAmt × GstRt = %.2f for HSN %s", fmtNum(it.IgstAmt), it.AssAmt*it.GstRt/100, hsn)
			}
			if !inter && hasCS && (b.differs(it.CgstAmt, it.AssAmt*it.GstRt/200) || b.differs(it.SgstAmt, it.AssAmt*it.GstRt/200)) {
				b.add(f("CgstAmt"), ReasonTaxAmount, "2234", "CGST %s and SGST %s should each be AssAmt × GstRt/2 = %.2f for HSN %s", fmtNum(it.CgstAmt), fmtNum(it.SgstAmt), it.AssAmt*it.GstRt/200, hsn)
			}
			if (it.CesRt > 0 || it.CesAmt > 0) && b.differs(it.CesAmt, it.AssAmt*it.CesRt/100) {
				b.add(f("CesAmt"), ReasonTaxAmount, "2266", "%s should be AssAmt × CesRt = %.2f for HSN %s", fmtNum(it.CesAmt), it.AssAmt*it.CesRt/100, hsn)
			}
			if (it.StateCesRt > 0 || it.StateCesAmt > 0) && b.differs(it.StateCesAmt, it.AssAmt*it.StateCesRt/100) {
				b.add(f("StateCesAmt"), ReasonTaxAmount, "2267", "%s should be AssAmt × StateCesRt = %.2f for HSN %s", fmtNum(it.StateCesAmt), it.AssAmt*it.StateCesRt/100, hsn)
			}
		}
	}
	if igstOnIntra && goods > 0 && services > 0 {
		b.add("ItemList", ReasonGoodsServicesMix, "2249", "mixes goods and services in an IGST-on-intra-state supply (place of supply = supplier state)")
	}
}

func ratesList() string {
	s := make([]string, len(gstRates))
	for i, r := range gstRates {
		s[i] = fmtNum(r)
	}
	return strings.Join(s, ", ")
}

// totals checks the header against item sums (§6 rule 15).
func (b *biz) totals() {
	inv := b.inv
	if len(inv.ItemList) == 0 {
		return
	}
	v := &inv.ValDtls
	t := inv.ItemTotals()
	check := func(field, nic string, header, sum float64, what string) {
		if b.differs(header, sum) {
			b.add("ValDtls -> "+field, ReasonTotalMismatch, nic, "%s should equal the sum of item %s %.2f", fmtNum(header), what, sum)
		}
	}
	check("AssVal", "2182", v.AssVal, t.AssAmt, "AssAmt")
	check("SgstVal", "2183", v.SgstVal, t.SgstAmt, "SgstAmt")
	check("CgstVal", "2184", v.CgstVal, t.CgstAmt, "CgstAmt")
	check("IgstVal", "2185", v.IgstVal, t.IgstAmt, "IgstAmt")
	check("CesVal", "2186", v.CesVal, t.Cess, "CesAmt + CesNonAdvlAmt")
	check("StCesVal", "2187", v.StCesVal, t.StateCess, "StateCesAmt + StateCesNonAdvlAmt")

	// TotInvVal (2189). NIC's formula adds header OthChrg to AssVal and taxes; item OthChrg is part
	// of TotItemVal. Which of the two a seller uses for item-level other charges is not settled
	// (2264, §10), so either reading is accepted, each with or without tax where the invoice total
	// may exclude it (reverse charge, EXPWP).
	adj := v.OthChrg - v.Discount + v.RndOffAmt
	taxes := v.CgstVal + v.SgstVal + v.IgstVal
	cands := []float64{v.AssVal + taxes + v.CesVal + v.StCesVal + adj, t.TotItemVal + adj}
	if inv.TranDtls.RegRev == "Y" || b.sup == "EXPWP" {
		cands = append(cands, cands[0]-taxes, cands[1]-(t.IgstAmt+t.CgstAmt+t.SgstAmt))
	}
	ok := false
	for _, c := range cands {
		if !b.differs(v.TotInvVal, c) {
			ok = true
			break
		}
	}
	if !ok {
		b.add("ValDtls -> TotInvVal", ReasonTotalMismatch, "2189",
			"%s is invalid: it should be AssVal + CGST + SGST + IGST + cess + OthChrg − Discount + RndOffAmt = %.2f", fmtNum(v.TotInvVal), cands[0])
	}
	if v.Discount > 0 && v.Discount >= v.TotInvVal {
		b.add("ValDtls -> Discount", ReasonDiscountTooHigh, "2220", "%s must be less than the total invoice value %s", fmtNum(v.Discount), fmtNum(v.TotInvVal))
	}
}

func (b *biz) references() {
	var prec int
	if rd := b.inv.RefDtls; rd != nil {
		prec = len(rd.PrecDocDtls)
	}
	switch {
	case (b.typ == "CRN" || b.typ == "DBN") && prec == 0:
		b.add("RefDtls -> PrecDocDtls", ReasonPrecedingRequired, "2191", "is required for a %s: give the original invoice number and date", b.typ)
	case b.typ == "INV" && prec > 0:
		b.add("RefDtls -> PrecDocDtls", ReasonPrecedingNotAllowed, "2210", "is not allowed for an invoice (INV); it is for credit and debit notes")
	}
}

func (b *biz) export() {
	ed := b.inv.ExpDtls
	if ed == nil {
		return
	}
	if ed.Port != "" && !IsPort(strings.ToUpper(ed.Port)) {
		b.add("ExpDtls -> Port", ReasonInvalidMaster, "2201", "%q is not a port code in the NIC port master (e.g. INNSA1)", ed.Port)
	}
	if ed.CntCode != "" && len(ed.CntCode) == 2 && allBytes(ed.CntCode, isUpper) && !IsCountry(ed.CntCode) {
		b.add("ExpDtls -> CntCode", ReasonInvalidMaster, "2202", "%q is not a country code", ed.CntCode)
	}
	if ed.ForCur != "" && allBytes(ed.ForCur, isAlpha) && !IsCurrency(strings.ToUpper(ed.ForCur)) {
		b.add("ExpDtls -> ForCur", ReasonInvalidMaster, "2203", "%q is not a currency code", ed.ForCur)
	}
}

func (b *biz) ewayBill() {
	inv := b.inv
	e := inv.EwbDtls
	if e == nil {
		return
	}
	if b.typ == "CRN" || b.typ == "DBN" {
		b.add("EwbDtls", ReasonEwayBill, "2252", "is not allowed for a %s: e-way bills are generated only for invoices", b.typ)
	}
	goods := false
	for i := range inv.ItemList {
		if inv.ItemList[i].IsServc == "N" {
			goods = true
		}
	}
	if len(inv.ItemList) > 0 && !goods {
		b.add("EwbDtls", ReasonEwayBill, "2251", "needs at least one goods item (IsServc N); this document has only services")
	}
	switch e.TransMode {
	case "":
		if e.VehNo != "" || e.TransDocNo != "" {
			b.add("EwbDtls -> TransMode", ReasonEwayBill, "4028", "is required when a vehicle or transport document number is given")
		} else if e.TransId == "" {
			b.add("EwbDtls -> TransId", ReasonEwayBill, "4019", "is required to generate Part-A of the e-way bill when no transport details are given")
		}
	case "1":
		if e.VehNo == "" {
			b.add("EwbDtls -> VehNo", ReasonEwayBill, "2253", "is required for transport by road (TransMode 1)")
		} else if !validVehicleNo(e.VehNo) {
			b.add("EwbDtls -> VehNo", ReasonEwayBill, "4014", "%q is not a vehicle number (e.g. KA12AB1234)", e.VehNo)
		}
		if e.VehType == "" {
			b.add("EwbDtls -> VehType", ReasonEwayBill, "4022", "is required for transport by road (R regular or O over-dimensional)")
		}
	case "2", "3", "4":
		if e.TransMode == "4" && e.VehNo == "" && e.TransDocNo == "" {
			b.add("EwbDtls -> TransDocNo", ReasonEwayBill, "4040", "or VehNo is required for transport by ship")
		} else if e.TransMode != "4" && e.TransDocNo == "" {
			b.add("EwbDtls -> TransDocNo", ReasonEwayBill, "2254", "is required for transport mode %s", e.TransMode)
		}
		if e.TransMode != "4" && e.TransDocNo != "" && e.TransDocDt == "" {
			b.add("EwbDtls -> TransDocDt", ReasonEwayBill, "4023", "is required with TransDocNo for transport mode %s", e.TransMode)
		}
		if e.TransMode == "4" && e.VehType == "R" {
			b.add("EwbDtls -> VehType", ReasonEwayBill, "4039", "cannot be R (regular) for transport by ship")
		}
		if e.TransMode != "4" && e.VehType == "O" {
			b.add("EwbDtls -> VehType", ReasonEwayBill, "4024", "O (over-dimensional cargo) is allowed only for road or ship")
		}
	}
	if t, ok := b.dateField("EwbDtls -> TransDocDt", e.TransDocDt); ok {
		now := b.opts.now().In(IST)
		if t.After(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, IST)) {
			b.add("EwbDtls -> TransDocDt", ReasonEwayBill, "4016", "%s is in the future", e.TransDocDt)
		} else if dt, err := inv.DocDate(); err == nil && t.Before(dt) {
			b.add("EwbDtls -> TransDocDt", ReasonEwayBill, "4021", "%s is before the document date %s", e.TransDocDt, inv.DocDtls.Dt)
		}
	}
	if b.isExport() {
		sh := inv.ShipDtls
		switch sh {
		case nil:
			b.add("ShipDtls", ReasonEwayBill, "4031", "is required for an export e-way bill: give the Indian port of export as ship-to")
		default:
			if NormalizeStateCode(sh.Stcd) == "96" {
				b.add("ShipDtls -> Stcd", ReasonEwayBill, "4032", "cannot be 96 for an export e-way bill: the ship-to is the Indian port")
			}
			if sh.Pin == 999999 {
				b.add("ShipDtls -> Pin", ReasonEwayBill, "4033", "cannot be 999999 for an export e-way bill: the ship-to is the Indian port")
			}
		}
	}
	if d := inv.DispDtls; d != nil {
		if NormalizeStateCode(d.Stcd) == "96" {
			b.add("DispDtls -> Stcd", ReasonEwayBill, "4035", "cannot be 96 when an e-way bill is requested")
		}
		if d.Pin == 999999 {
			b.add("DispDtls -> Pin", ReasonEwayBill, "4036", "cannot be 999999 when an e-way bill is requested")
		}
	}
}

// validVehicleNo accepts the formats of the IRP general master (§5): AB121234, AB12A1234,
// AB12AB1234, ABC1234, AB123A1234, AB12ABC1234, and defence (DF), temporary (TM), Bhutan (BP)
// and Nepal (NP) registrations of at least 7 characters.
func validVehicleNo(v string) bool {
	v = strings.ToUpper(v)
	if len(v) >= 7 && (strings.HasPrefix(v, "DF") || strings.HasPrefix(v, "TM") || strings.HasPrefix(v, "BP") || strings.HasPrefix(v, "NP")) {
		return allBytes(v, isAlnum)
	}
	shape := make([]byte, len(v))
	for i := 0; i < len(v); i++ {
		switch {
		case isUpper(v[i]):
			shape[i] = 'A'
		case isDigit(v[i]):
			shape[i] = '9'
		default:
			return false
		}
	}
	switch string(shape) {
	case "AA999999", "AA99A9999", "AA99AA9999", "AAA9999", "AA999A9999", "AA99AAA9999":
		return true
	}
	return false
}
