package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	doc "github.com/irpgate/irpgate/pkg/einvoice"
)

// Registration is what the IRP answered for an invoice: the e-invoice part of its
// printout.
type Registration struct {
	IRN          string
	AckNo        int64
	AckDt        string // yyyy-MM-dd HH:mm:ss, IST
	SignedQRCode string
	EwbNo        int64
	EwbDt        string
	EwbValidTill string
	CancelDate   string // set when the IRN is cancelled
	Copy         string // the copy's mark (CopyMark), top right on every page; none when empty
}

// CopyMark is the mark of a copy under Rule 48 of the CGST Rules: goods invoices are made
// in triplicate (ORIGINAL FOR RECIPIENT, DUPLICATE FOR TRANSPORTER, TRIPLICATE FOR
// SUPPLIER), services invoices in duplicate (ORIGINAL FOR RECIPIENT, DUPLICATE FOR
// SUPPLIER). copy is ORIGINAL, DUPLICATE or TRIPLICATE in any case; "" marks nothing. ok
// is false for a copy the document does not have.
func CopyMark(copy string, inv *doc.Invoice) (mark string, ok bool) {
	goods := false
	for _, it := range inv.ItemList {
		goods = goods || !strings.EqualFold(it.IsServc, "Y")
	}
	switch strings.ToUpper(strings.TrimSpace(copy)) {
	case "":
		return "", true
	case "ORIGINAL":
		return "ORIGINAL FOR RECIPIENT", true
	case "DUPLICATE":
		if goods {
			return "DUPLICATE FOR TRANSPORTER", true
		}
		return "DUPLICATE FOR SUPPLIER", true
	case "TRIPLICATE":
		if goods {
			return "TRIPLICATE FOR SUPPLIER", true
		}
	}
	return "", false
}

// ist is India Standard Time, the zone of every NIC timestamp.
var ist = time.FixedZone("IST", 5*3600+1800)

// A4 portrait, millimetres.
const (
	pageW   = 210.0
	margin  = 12.0
	bodyW   = pageW - 2*margin
	lineH   = 4.6
	qrEdge  = 38.0
	fontPt  = 8.5
	smallPt = 7.0
)

// PDF prints inv, as the IRP signed it, with its registration: a tax invoice (credit
// note, debit note) on A4 with the IRN, AckNo, AckDt and the signed QR code, both
// parties, the items and the totals. A cancelled IRN is marked CANCELLED on every page.
//
// The PDF is the same bytes for the same registration (its dates are the AckDt), so it
// can be cached and compared. Text uses the PDF core fonts: characters outside Windows
// code page 1252 print as '?'. Every page after the first repeats the document number and
// the IRN under its title, so a page that comes apart from the first still names its invoice.
func PDF(inv *doc.Invoice, reg Registration) ([]byte, error) {
	qr, err := QRPNG(reg.SignedQRCode, 0)
	if err != nil {
		return nil, err
	}
	p := newPrinter()
	p.title = docTitle(inv.DocType())
	p.continued = fmt.Sprintf("%s %s dated %s, IRN %s (continued)", p.title, inv.DocDtls.No, inv.DocDtls.Dt, reg.IRN)
	if ack, err := time.ParseInLocation(time.DateTime, reg.AckDt, ist); err == nil {
		p.f.SetCreationDate(ack)
		p.f.SetModificationDate(ack)
	}
	p.f.SetTitle(p.title+" "+inv.DocDtls.No, true)
	p.f.SetAuthor(inv.SellerDtls.LglNm, true)
	p.f.SetCreator("irpgate", false)
	p.f.SetProducer("irpgate", false)
	p.f.SetHeaderFunc(func() { p.header(reg) })
	p.f.SetFooterFunc(p.footer)
	p.f.AliasNbPages("{nb}")
	p.f.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	p.f.AddPage()

	p.registration(inv, reg)
	p.references(inv)
	p.parties(inv)
	p.items(inv.ItemList)
	p.totals(inv.ValDtls)
	p.payment(inv)

	var out bytes.Buffer
	if err := p.f.Output(&out); err != nil {
		return nil, fmt.Errorf("write PDF: %w", err)
	}
	return out.Bytes(), nil
}

type printer struct {
	f         *fpdf.Fpdf
	tr        func(string) string
	title     string
	continued string // under the title from page 2 on
}

func newPrinter() *printer {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, 16)
	f.SetCatalogSort(true)
	return &printer{f: f, tr: cp1252(f.UnicodeTranslatorFromDescriptor(""))}
}

// cp1252 is the core fonts' translation with '?' for characters they cannot print
// (fpdf's own prints '.', which reads as punctuation).
func cp1252(tr func(string) string) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch t := tr(string(r)); {
			case r < 0x80:
				b.WriteRune(r)
			case t == ".":
				b.WriteByte('?')
			default:
				b.WriteString(t)
			}
		}
		return b.String()
	}
}

func docTitle(typ string) string {
	switch typ {
	case "CRN":
		return "Credit Note"
	case "DBN":
		return "Debit Note"
	}
	return "Tax Invoice"
}

// header opens every page: the copy's mark, the title, the document and IRN from page 2
// on, and the cancel mark of a cancelled IRN.
func (p *printer) header(reg Registration) {
	f := p.f
	if reg.Copy != "" {
		x, y := f.GetXY()
		f.SetFont("Helvetica", "B", smallPt)
		f.CellFormat(bodyW, 4, reg.Copy, "", 0, "R", false, 0, "")
		f.SetXY(x, y)
	}
	f.SetFont("Helvetica", "B", 14)
	f.CellFormat(bodyW, 7, p.tr(p.title), "", 1, "C", false, 0, "")
	f.SetFont("Helvetica", "", smallPt)
	f.CellFormat(bodyW, 3.5, "e-Invoice registered under the GST e-invoice system", "", 1, "C", false, 0, "")
	if f.PageNo() > 1 {
		f.CellFormat(bodyW, 3.5, p.tr(p.continued), "", 1, "C", false, 0, "")
	}
	if reg.CancelDate != "" {
		f.SetTextColor(200, 0, 0)
		f.SetFont("Helvetica", "B", 12)
		f.CellFormat(bodyW, 7, p.tr("CANCELLED on "+reg.CancelDate), "", 1, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
	}
	f.Ln(2)
}

func (p *printer) footer() {
	f := p.f
	f.SetY(-12)
	f.SetFont("Helvetica", "", smallPt)
	f.CellFormat(bodyW/2, 4, "Printed from the IRP's signed invoice by irpgate", "", 0, "L", false, 0, "")
	f.CellFormat(bodyW/2, 4, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
}

// registration prints the IRN block beside the QR code, and the document's own details.
func (p *printer) registration(inv *doc.Invoice, reg Registration) {
	f := p.f
	top := f.GetY()
	f.ImageOptions("qr", pageW-margin-qrEdge, top, qrEdge, qrEdge, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	w := bodyW - qrEdge - 4
	p.field(w, "IRN", reg.IRN)
	p.field(w, "Ack No.", strconv.FormatInt(reg.AckNo, 10))
	p.field(w, "Ack Date", reg.AckDt)
	f.Ln(1.5)
	p.field(w, "Document No.", inv.DocDtls.No)
	p.field(w, "Document Date", inv.DocDtls.Dt)
	p.field(w, "Supply Type", inv.SupplyType())
	p.field(w, "Reverse Charge", yesNo(inv.TranDtls.RegRev))
	if inv.TranDtls.IgstOnIntra == "Y" {
		p.field(w, "IGST on intra-state supply", "Yes")
	}
	if inv.TranDtls.EcmGstin != "" {
		p.field(w, "E-commerce GSTIN", inv.TranDtls.EcmGstin)
	}
	if reg.EwbNo != 0 {
		p.field(w, "E-way Bill No.", strconv.FormatInt(reg.EwbNo, 10))
		p.field(w, "E-way Bill Date", reg.EwbDt)
		p.field(w, "Valid Till", reg.EwbValidTill)
	}
	if y := top + qrEdge + 2; f.GetY() < y {
		f.SetY(y)
	}
	f.Ln(2)
}

// references prints what the document refers to, when it says: the invoices a credit or
// debit note adjusts, the period, remarks, purchase orders and export details.
func (p *printer) references(inv *doc.Invoice) {
	var fields [][2]string
	if r := inv.RefDtls; r != nil {
		for _, pd := range r.PrecDocDtls {
			v := pd.InvNo + " dated " + pd.InvDt
			if pd.OthRefNo != "" {
				v += " (ref. " + pd.OthRefNo + ")"
			}
			fields = append(fields, [2]string{"Against Invoice", v})
		}
		if pr := r.DocPerdDtls; pr != nil {
			fields = append(fields, [2]string{"Period", pr.InvStDt + " to " + pr.InvEndDt})
		}
		for _, c := range r.ContrDtls {
			if c.PORefr != "" {
				v := c.PORefr
				if c.PORefDt != "" {
					v += " dated " + c.PORefDt
				}
				fields = append(fields, [2]string{"Purchase Order", v})
			}
			if c.ContrRefr != "" {
				fields = append(fields, [2]string{"Contract", c.ContrRefr})
			}
		}
		if r.InvRm != "" {
			fields = append(fields, [2]string{"Remarks", r.InvRm})
		}
	}
	if x := inv.ExpDtls; x != nil {
		for _, kv := range [][2]string{
			{"Shipping Bill", joinNonEmpty(" dated ", x.ShipBNo, x.ShipBDt)},
			{"Port", x.Port},
			{"Country", x.CntCode},
			{"Currency", x.ForCur},
		} {
			if kv[1] != "" {
				fields = append(fields, kv)
			}
		}
	}
	for _, kv := range fields {
		p.field(bodyW, kv[0], kv[1])
	}
	if len(fields) > 0 {
		p.f.Ln(2)
	}
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, sep)
}

// field prints one "label: value" line w wide.
func (p *printer) field(w float64, label, value string) {
	f := p.f
	f.SetFont("Helvetica", "B", fontPt)
	lw := f.GetStringWidth(label+": ") + 1
	f.CellFormat(lw, lineH, p.tr(label+":"), "", 0, "L", false, 0, "")
	f.SetFont("Helvetica", "", fontPt)
	f.MultiCell(w-lw, lineH, p.tr(value), "", "L", false)
}

// parties prints the seller and the buyer side by side, then the dispatch-from and
// ship-to addresses when the invoice has them.
func (p *printer) parties(inv *doc.Invoice) {
	s, b := inv.SellerDtls, inv.BuyerDtls
	seller := []string{
		s.LglNm, s.TrdNm, "GSTIN: " + s.Gstin, s.Addr1, s.Addr2,
		place(s.Loc, s.Pin, s.Stcd), contact(s.Ph, s.Em),
	}
	buyer := []string{
		b.LglNm, b.TrdNm, "GSTIN: " + b.Gstin, b.Addr1, b.Addr2,
		place(b.Loc, b.Pin, b.Stcd), "Place of Supply: " + b.Pos, contact(b.Ph, b.Em),
	}
	p.boxes("Supplier", seller, "Recipient", buyer)
	var left, right []string
	var lt, rt string
	if d := inv.DispDtls; d != nil {
		lt, left = "Dispatch From", []string{d.Nm, d.Addr1, d.Addr2, place(d.Loc, d.Pin, d.Stcd)}
	}
	if sh := inv.ShipDtls; sh != nil {
		gstin := ""
		if sh.Gstin != "" {
			gstin = "GSTIN: " + sh.Gstin
		}
		rt, right = "Ship To", []string{sh.LglNm, sh.TrdNm, gstin, sh.Addr1, sh.Addr2, place(sh.Loc, sh.Pin, sh.Stcd)}
	}
	if lt != "" || rt != "" {
		p.boxes(lt, left, rt, right)
	}
}

// boxes prints two titled address blocks side by side, each line wrapped to its half.
func (p *printer) boxes(lt string, left []string, rt string, right []string) {
	f := p.f
	half := bodyW / 2
	f.SetFont("Helvetica", "B", fontPt)
	f.SetFillColor(235, 235, 235)
	f.CellFormat(half, lineH+1, p.tr(lt), "1", 0, "L", true, 0, "")
	f.CellFormat(half, lineH+1, p.tr(rt), "1", 1, "L", true, 0, "")
	f.SetFont("Helvetica", "", fontPt)
	l, r := p.wrap(left, half-2), p.wrap(right, half-2)
	n := max(len(l), len(r))
	for i := range n {
		border := "LR"
		if i == n-1 {
			border = "LRB"
		}
		f.CellFormat(half, lineH, at(l, i), border, 0, "L", false, 0, "")
		f.CellFormat(half, lineH, at(r, i), border, 1, "L", false, 0, "")
	}
	f.Ln(2)
}

// wrap splits the non-empty lines to width w, translated for the page's font.
func (p *printer) wrap(lines []string, w float64) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, p.split(l, w)...)
		}
	}
	return out
}

// split translates s for the page's font and wraps it to lines w wide.
func (p *printer) split(s string, w float64) []string {
	var lines []string
	for _, l := range p.f.SplitLines([]byte(p.tr(s)), w) {
		lines = append(lines, string(l))
	}
	return lines
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// itemCols are the item table's columns: title, width (mm), alignment.
var itemCols = []struct {
	title string
	w     float64
	align string
}{
	{"Sl", 8, "C"},
	{"Description", 50, "L"},
	{"HSN", 15, "C"},
	{"Qty", 15, "R"},
	{"Unit", 11, "C"},
	{"Unit Price", 19, "R"},
	{"Taxable", 21, "R"},
	{"GST %", 11, "R"},
	{"Tax", 16, "R"},
	{"Total", 20, "R"},
}

// items prints the item table; its header repeats on every page it runs onto.
func (p *printer) items(items []doc.Item) {
	f := p.f
	head := func() {
		f.SetFont("Helvetica", "B", smallPt+0.5)
		f.SetFillColor(235, 235, 235)
		for _, c := range itemCols {
			f.CellFormat(c.w, lineH+1, c.title, "1", 0, "C", true, 0, "")
		}
		f.Ln(-1)
		f.SetFont("Helvetica", "", smallPt+0.5)
	}
	head()
	_, pageH := f.GetPageSize()
	_, _, _, bottom := f.GetMargins()
	for _, it := range items {
		desc := p.split(itemDescription(it), itemCols[1].w-1.5)
		if len(desc) == 0 {
			desc = []string{""}
		}
		h := float64(len(desc)) * lineH
		if f.GetY()+h > pageH-bottom-4 {
			f.AddPage()
			head()
		}
		tax := it.IgstAmt + it.CgstAmt + it.SgstAmt + it.CesAmt + it.CesNonAdvlAmt + it.StateCesAmt + it.StateCesNonAdvlAmt
		cells := []string{
			it.SlNo, "", it.HsnCd, qty(it.Qty), it.Unit, money(it.UnitPrice),
			money(it.AssAmt), rate(it.GstRt), money(tax), money(it.TotItemVal),
		}
		x, y := f.GetXY()
		for i, c := range itemCols {
			if i == 1 {
				f.MultiCell(c.w, lineH, strings.Join(desc, "\n"), "1", "L", false)
				f.SetXY(x+c.w, y)
			} else {
				f.CellFormat(c.w, h, p.tr(cells[i]), "1", 0, c.align, false, 0, "")
			}
			x += c.w
		}
		f.SetXY(margin, y+h)
	}
	f.Ln(3)
}

func itemDescription(it doc.Item) string {
	d := it.PrdDesc
	if it.IsServc == "Y" {
		d += " (service)"
	}
	if it.BchDtls != nil && it.BchDtls.Nm != "" {
		d += ", batch " + it.BchDtls.Nm
	}
	if it.FreeQty != 0 {
		d += ", free qty " + qty(it.FreeQty)
	}
	return strings.TrimSpace(d)
}

// totals prints the document totals, right-aligned, only the heads the invoice has.
func (p *printer) totals(v doc.ValDtls) {
	rows := []struct {
		label string
		val   float64
		keep  bool
	}{
		{"Taxable Value", v.AssVal, true},
		{"CGST", v.CgstVal, false},
		{"SGST", v.SgstVal, false},
		{"IGST", v.IgstVal, false},
		{"Cess", v.CesVal, false},
		{"State Cess", v.StCesVal, false},
		{"Discount", -v.Discount, false},
		{"Other Charges", v.OthChrg, false},
		{"Round Off", v.RndOffAmt, false},
	}
	f := p.f
	lw, vw := 40.0, 30.0
	for _, r := range rows {
		if r.val == 0 && !r.keep {
			continue
		}
		f.SetX(pageW - margin - lw - vw)
		f.SetFont("Helvetica", "", fontPt)
		f.CellFormat(lw, lineH, r.label, "", 0, "R", false, 0, "")
		f.CellFormat(vw, lineH, money(r.val), "", 1, "R", false, 0, "")
	}
	f.SetX(pageW - margin - lw - vw)
	f.SetFont("Helvetica", "B", fontPt+1)
	f.CellFormat(lw, lineH+1.5, "Total Invoice Value (INR)", "T", 0, "R", false, 0, "")
	f.CellFormat(vw, lineH+1.5, money(v.TotInvVal), "T", 1, "R", false, 0, "")
	if v.TotInvValFc != 0 {
		f.SetX(pageW - margin - lw - vw)
		f.SetFont("Helvetica", "", fontPt)
		f.CellFormat(lw, lineH, "In foreign currency", "", 0, "R", false, 0, "")
		f.CellFormat(vw, lineH, money(v.TotInvValFc), "", 1, "R", false, 0, "")
	}
	f.Ln(3)
}

// payment prints the payee's bank details when the invoice carries them.
func (p *printer) payment(inv *doc.Invoice) {
	pay := inv.PayDtls
	if pay == nil {
		return
	}
	var lines []string
	due, days := "", ""
	if pay.PaymtDue != 0 {
		due = money(pay.PaymtDue)
	}
	if pay.CrDay != 0 {
		days = strconv.Itoa(pay.CrDay)
	}
	for _, kv := range [][2]string{
		{"Payee", pay.Nm},
		{"Account", pay.AccDet},
		{"Mode", pay.Mode},
		{"IFSC", pay.FinInsBr},
		{"Terms", pay.PayTerm},
		{"Credit Days", days},
		{"Amount Due", due},
	} {
		if kv[1] != "" {
			lines = append(lines, kv[0]+": "+kv[1])
		}
	}
	if len(lines) == 0 {
		return
	}
	p.f.SetFont("Helvetica", "B", fontPt)
	p.f.CellFormat(bodyW, lineH, "Payment", "", 1, "L", false, 0, "")
	p.f.SetFont("Helvetica", "", fontPt)
	p.f.MultiCell(bodyW, lineH, p.tr(strings.Join(lines, "   ")), "", "L", false)
}

func place(loc string, pin int, stcd string) string {
	s := loc
	if pin != 0 {
		s += " - " + strconv.Itoa(pin)
	}
	if stcd != "" {
		s += ", State Code " + stcd
	}
	return s
}

func contact(ph, em string) string {
	switch {
	case ph != "" && em != "":
		return "Ph: " + ph + ", " + em
	case ph != "":
		return "Ph: " + ph
	}
	return em
}

func yesNo(s string) string {
	if strings.EqualFold(s, "Y") {
		return "Yes"
	}
	return "No"
}

// money prints an amount with two decimals and Indian digit grouping (12,34,567.89).
func money(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	if len(whole) > 3 {
		head, tail := whole[:len(whole)-3], whole[len(whole)-3:]
		var b strings.Builder
		for i, r := range head {
			if i > 0 && (len(head)-i)%2 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(r)
		}
		whole = b.String() + "," + tail
	}
	if neg {
		whole = "-" + whole
	}
	return whole + "." + frac
}

func qty(v float64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
