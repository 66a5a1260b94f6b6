package sandbox

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/irpgate/irpgate/pkg/einvoice"
)

// irnData is the decrypted Data of Generate IRN, Get by IRN and Get by document details.
type irnData struct {
	AckNo         int64   `json:"AckNo"`
	AckDt         string  `json:"AckDt"`
	Irn           string  `json:"Irn"`
	SignedInvoice string  `json:"SignedInvoice"`
	SignedQRCode  string  `json:"SignedQRCode"`
	Status        string  `json:"Status"`
	EwbNo         *int64  `json:"EwbNo"`
	EwbDt         *string `json:"EwbDt"`
	EwbValidTill  *string `json:"EwbValidTill"`
	Remarks       *string `json:"Remarks"`
}

// qrData is the data claim of SignedQRCode, keys in NIC's order.
type qrData struct {
	SellerGstin string  `json:"SellerGstin"`
	BuyerGstin  string  `json:"BuyerGstin"`
	DocNo       string  `json:"DocNo"`
	DocTyp      string  `json:"DocTyp"`
	DocDt       string  `json:"DocDt"`
	TotInvVal   float64 `json:"TotInvVal"`
	ItemCnt     int     `json:"ItemCnt"`
	MainHsnCode string  `json:"MainHsnCode"`
	Irn         string  `json:"Irn"`
	IrnDt       string  `json:"IrnDt"`
}

type dupIRN struct {
	AckNo int64  `json:"AckNo"`
	AckDt string `json:"AckDt"`
	Irn   string `json:"Irn"`
}

func nicTime(t time.Time) string { return t.In(IST).Format(nicTimeLayout) }

func strp(s string) *string { return &s }

func toIRNData(r Registration) irnData {
	d := irnData{
		AckNo: r.AckNo, AckDt: nicTime(r.AckDt), Irn: r.Irn, SignedInvoice: r.SignedInvoice,
		SignedQRCode: r.SignedQRCode, Status: r.Status,
	}
	if r.EwbNo != 0 {
		n := r.EwbNo
		d.EwbNo = &n
		d.EwbDt = strp(nicTime(r.EwbDt))
		if !r.EwbValidTill.IsZero() {
			d.EwbValidTill = strp(nicTime(r.EwbValidTill))
		}
	}
	return d
}

// violationErrors maps pkg/einvoice violations to ErrorDetails: the violation's NIC code with
// NIC's published text, its {0} filled with the item's HSN or serial number where the text names
// one; the violation's own text (which names the field) where NIC publishes none.
func violationErrors(vs []einvoice.Violation, inv *einvoice.Invoice) []nicError {
	out := make([]nicError, 0, len(vs))
	seen := map[nicError]bool{}
	for _, v := range vs {
		code := v.NICCode
		if code == "" {
			code = "2140"
			if v.Reason == einvoice.ReasonReportingWindow {
				code = "2163"
			}
		}
		msg := v.Message
		if m, ok := nicText(code); ok && code != "2140" && code != "2163" {
			if strings.Contains(m, "{0}") {
				if arg := itemArg(v.Field, m, inv); arg != "" {
					msg = strings.ReplaceAll(m, "{0}", arg)
				}
			} else {
				msg = m
			}
		}
		e := nicError{ErrorCode: code, ErrorMessage: msg}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// nicText finds a code's published text.
func nicText(code string) (string, bool) {
	if m, ok := nicMessages[code]; ok {
		return m, true
	}
	m, ok := nicGenerateMessages[code]
	return m, ok
}

// itemArg fills {0} of a per-item message from "ItemList[i] -> ...": the HSN when the text
// speaks of HSN, else the serial number.
func itemArg(field, msg string, inv *einvoice.Invoice) string {
	if inv == nil || !strings.HasPrefix(field, "ItemList[") {
		return ""
	}
	end := strings.IndexByte(field, ']')
	i, err := strconv.Atoi(field[len("ItemList["):max(end, len("ItemList["))])
	if err != nil || i < 0 || i >= len(inv.ItemList) {
		return ""
	}
	if strings.Contains(msg, "HSN") {
		return inv.ItemList[i].HsnCd
	}
	return inv.ItemList[i].SlNo
}

func (s *Sandbox) windowDays(gstin string) int {
	if tp := s.taxpayers[gstin]; tp != nil && tp.LargeTaxpayer {
		return 30
	}
	return 0
}

// statusErrors checks a party against the GSTIN master on the document date (3028/3029 family).
func (s *Sandbox) statusErrors(gstin string, docDate time.Time) []nicError {
	tp := s.taxpayers[gstin]
	if tp == nil {
		return []nicError{nicErr("3028")}
	}
	dt := einvoice.FormatDate(docDate)
	reg, _ := time.ParseInLocation("2006-01-02", tp.DtReg, IST)
	switch tp.Status {
	case "INA":
		return []nicError{nicErr("3029")}
	case "CNL":
		if tp.DtDReg == "" {
			return []nicError{nicErr("3075", gstin)}
		}
		dreg, _ := time.ParseInLocation("2006-01-02", tp.DtDReg, IST)
		if docDate.After(dreg) {
			return []nicError{nicErr("3074", gstin, dt)}
		}
		if !reg.IsZero() && docDate.Before(reg) {
			return []nicError{nicErr("3077", gstin, dt)}
		}
	default:
		if !reg.IsZero() && docDate.Before(reg) {
			return []nicError{nicErr("3079")}
		}
	}
	return nil
}

// generate serves POST /eicore/v1.03/Invoice.
func (s *Sandbox) generate(c *call) result {
	s.stats.generateCalls.Add(1)
	body, bad := c.body()
	if bad != nil {
		return *bad
	}
	now := s.now()
	opts := checkOptions{now: now, windowDays: s.windowDays(c.sess.GSTIN), acceptSandbox: !s.cfg.EnforceCheckDigit}
	inv, vs := checkInvoice(body, opts)
	if inv != nil && inv.SellerDtls.Gstin != c.sess.GSTIN && s.windowDays(inv.SellerDtls.Gstin) != opts.windowDays {
		opts.windowDays = s.windowDays(inv.SellerDtls.Gstin)
		inv, vs = checkInvoice(body, opts)
	}
	// E-way bill rules do not stop the IRN: they come back as EWBERR.
	var ewbVs, docVs []einvoice.Violation
	for _, v := range vs {
		if strings.HasPrefix(v.Field, "EwbDtls") || v.Reason == einvoice.ReasonEwayBill {
			ewbVs = append(ewbVs, v)
		} else {
			docVs = append(docVs, v)
		}
	}
	if len(docVs) > 0 || inv == nil {
		return result{errs: violationErrors(docVs, inv)}
	}
	typ := strings.ToUpper(inv.DocDtls.Typ)
	inv.DocDtls.Typ = typ
	docDate, err := einvoice.ParseDate(inv.DocDtls.Dt)
	if err != nil {
		return failed("2144")
	}
	seller, buyer := inv.SellerDtls.Gstin, inv.BuyerDtls.Gstin
	if seller != c.sess.GSTIN && inv.TranDtls.EcmGstin != c.sess.GSTIN {
		return failed("2143")
	}
	var errs []nicError
	if tp := s.taxpayers[seller]; tp != nil && tp.TxpType == "SEZ" {
		errs = append(errs, nicErr("2231", seller))
	}
	errs = append(errs, s.statusErrors(seller, docDate)...)
	if buyer != "URP" {
		errs = append(errs, s.statusErrors(buyer, docDate)...)
		if tp := s.taxpayers[buyer]; tp != nil {
			sup := strings.ToUpper(inv.TranDtls.SupTyp)
			switch {
			case (sup == "SEZWP" || sup == "SEZWOP") && tp.TxpType != "SEZ":
				errs = append(errs, nicErr("2247"))
			case sup == "B2B" && tp.TxpType == "SEZ":
				errs = append(errs, nicErr("2246"))
			}
		}
	}
	if len(errs) > 0 {
		return result{errs: errs}
	}

	irn := einvoice.IRN(seller, typ, inv.DocDtls.No, docDate)
	e := &entry{
		Registration: Registration{
			Irn: irn, Instance: c.inst, SellerGSTIN: seller, BuyerGSTIN: buyer, DocType: typ,
			DocNo: inv.DocDtls.No, DocDate: inv.DocDtls.Dt, TotInvVal: inv.ValDtls.TotInvVal,
			AckDt: now.Truncate(time.Second), Status: "ACT",
		},
		docDate: docDate, sellerPin: inv.SellerDtls.Pin, buyerPin: inv.BuyerDtls.Pin,
		ecoGSTIN: inv.TranDtls.EcmGstin, ready: make(chan struct{}),
	}
	if inv.DispDtls != nil {
		e.dispatchPin = inv.DispDtls.Pin
	}
	if inv.ShipDtls != nil {
		e.shipPin = inv.ShipDtls.Pin
	}
	for i := range inv.ItemList {
		if inv.ItemList[i].IsServc != "Y" {
			e.hasGoods = true
			break
		}
	}
	cur, fresh := s.reg.reserve(e)
	if !fresh {
		reg := s.reg.snapshot(cur)
		if reg.Status == "CNL" {
			return failed("2278")
		}
		s.stats.duplicates.Add(1)
		return result{
			errs: []nicError{nicErr("2150")},
			info: []infoDtl{{InfCd: "DUPIRN", Desc: dupIRN{AckNo: reg.AckNo, AckDt: nicTime(reg.AckDt), Irn: reg.Irn}}},
		}
	}
	defer close(e.ready)

	var info []infoDtl
	if inv.EwbDtls != nil {
		info = s.embeddedEWB(c, e, inv, ewbVs)
	}
	signedInv, signedQR, err := s.sign(e, inv)
	if err != nil {
		s.reg.mu.Lock()
		delete(s.reg.byIRN, irn)
		s.reg.mu.Unlock()
		return failed("2147")
	}
	s.reg.mu.Lock()
	e.SignedInvoice, e.SignedQRCode = signedInv, signedQR
	s.reg.saveLocked(e)
	reg := e.Registration
	s.reg.mu.Unlock()
	s.stats.generated.Add(1)
	return result{data: toIRNData(reg), info: info, write: true}
}

// sign makes SignedInvoice (AckNo, AckDt, Irn, then the document) and SignedQRCode.
func (s *Sandbox) sign(e *entry, inv *einvoice.Invoice) (string, string, error) {
	doc, err := inv.Encode()
	if err != nil {
		return "", "", err
	}
	s.reg.mu.RLock()
	ackNo, ackDt := e.AckNo, nicTime(e.AckDt)
	s.reg.mu.RUnlock()
	head, _ := json.Marshal(dupIRN{AckNo: ackNo, AckDt: ackDt, Irn: e.Irn})
	data := make([]byte, 0, len(head)+len(doc))
	data = append(data, head[:len(head)-1]...)
	data = append(data, ',')
	data = append(data, doc[1:]...)
	qr, _ := json.Marshal(qrData{
		SellerGstin: e.SellerGSTIN, BuyerGstin: e.BuyerGSTIN, DocNo: e.DocNo, DocTyp: e.DocType,
		DocDt: e.DocDate, TotInvVal: e.TotInvVal, ItemCnt: len(inv.ItemList), MainHsnCode: inv.MainHSN(),
		Irn: e.Irn, IrnDt: ackDt,
	})
	// The two RSA signatures are most of the cost of a generate: make them side by side.
	var signedQR string
	var qrErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		signedQR, qrErr = s.signer.Sign(qr)
	}()
	signedInv, err := s.signer.Sign(data)
	<-done
	if err != nil {
		return "", "", err
	}
	if qrErr != nil {
		return "", "", qrErr
	}
	return signedInv, signedQR, nil
}

const (
	lookupOK = ""
	// lookupNotOwner: the IRN exists and is visible but belongs to another GSTIN.
	lookupNotOwner = "owner"
)

func isIRN(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < 64; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// lookup finds an IRN as the calling instance sees it: its own registrations at once, the other
// instance's only with the irp header naming it ("criss-cross") and after the replication lag.
func (s *Sandbox) lookup(c *call, irn string) (*entry, string) {
	e := s.reg.get(strings.ToLower(irn))
	if e == nil {
		return nil, "2148"
	}
	if e.Instance != c.inst {
		if !strings.EqualFold(header(c.r, "irp"), e.Instance) || s.now().Before(e.AckDt.Add(s.cfg.ReplicationLag)) {
			return nil, "2148"
		}
	}
	select {
	case <-e.ready:
	case <-c.r.Context().Done():
		return nil, "2148"
	}
	sup := header(c.r, "sup_gstin", "sup-gstin")
	owner := e.SellerGSTIN == c.sess.GSTIN ||
		(e.ecoGSTIN == c.sess.GSTIN && (sup == "" || strings.EqualFold(sup, e.SellerGSTIN)))
	if !owner {
		return e, lookupNotOwner
	}
	return e, lookupOK
}

// cancelRequest is the decrypted Cancel IRN body; CnlRsn may come as a string or a number.
type cancelRequest struct {
	Irn    string          `json:"Irn"`
	CnlRsn json.RawMessage `json:"CnlRsn"`
	CnlRem string          `json:"CnlRem"`
}

// cancel serves POST /eicore/v1.03/Invoice/Cancel.
func (s *Sandbox) cancel(c *call) result {
	s.stats.cancelCalls.Add(1)
	body, bad := c.body()
	if bad != nil {
		return *bad
	}
	var req cancelRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return failed("2140")
	}
	rsn := strings.Trim(string(req.CnlRsn), `" `)
	switch {
	case req.Irn == "" || rsn == "":
		return failed("2142")
	case !isIRN(req.Irn):
		return failed("2145")
	case len(rsn) != 1 || rsn[0] < '1' || rsn[0] > '4' || len(req.CnlRem) > 100:
		return failed("2142")
	}
	e, code := s.lookup(c, req.Irn)
	switch code {
	case lookupOK:
	case lookupNotOwner:
		return failed("2143")
	default:
		return failed(code)
	}
	now := s.now()
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	switch {
	case e.Status != "ACT":
		return failed("9999")
	case now.Sub(e.AckDt) > s.cfg.CancelWindow:
		return failed("2270")
	case e.EwbNo != 0 && e.EwbStatus == "ACT":
		return failed("2230")
	}
	e.Status, e.CancelDate, e.CancelReason, e.CancelRemark = "CNL", now.Truncate(time.Second), rsn, req.CnlRem
	s.reg.saveLocked(e)
	return result{data: map[string]string{"Irn": e.Irn, "CancelDate": nicTime(e.CancelDate)}, write: true}
}

// readable applies the retention window of the Get APIs.
func (s *Sandbox) readable(e *entry) result {
	reg := s.reg.snapshot(e)
	if s.now().Sub(reg.AckDt) > time.Duration(s.cfg.RetentionDays)*24*time.Hour {
		res := failed("2283")
		if s.cfg.RetentionDays != 2 {
			res.errs[0].ErrorMessage = "IRN details cannot be provided as it is generated more than " + strconv.Itoa(s.cfg.RetentionDays) + " days ago"
		}
		return res
	}
	return result{data: toIRNData(reg)}
}

// getByIRN serves GET /eicore/v1.03/Invoice/irn/{irn}.
func (s *Sandbox) getByIRN(c *call) result {
	s.stats.getCalls.Add(1)
	irn := c.r.PathValue("irn")
	if !isIRN(irn) {
		return failed("2145")
	}
	e, code := s.lookup(c, irn)
	if code != lookupOK {
		return failed("2148")
	}
	return s.readable(e)
}

// getByDoc serves GET /eicore/v1.03/Invoice/irnbydocdetails?doctype=&docnum=&docdate=.
func (s *Sandbox) getByDoc(c *call) result {
	s.stats.getCalls.Add(1)
	q := c.r.URL.Query()
	get := func(k string) string {
		if v := q.Get(k); v != "" {
			return v
		}
		return header(c.r, k)
	}
	typ, no, dt := strings.ToUpper(get("doctype")), get("docnum"), get("docdate")
	if typ == "" || no == "" || dt == "" {
		return failed("2142")
	}
	if typ != "INV" && typ != "CRN" && typ != "DBN" {
		return failed("2161")
	}
	date, err := einvoice.ParseDate(dt)
	if err != nil {
		return failed("2144")
	}
	seller := c.sess.GSTIN
	if sup := header(c.r, "sup_gstin", "sup-gstin"); sup != "" {
		seller = strings.ToUpper(sup)
	}
	e, code := s.lookup(c, einvoice.IRN(seller, typ, no, date))
	if code != lookupOK {
		return failed("2148")
	}
	return s.readable(e)
}
