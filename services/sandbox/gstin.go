package sandbox

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// gstinData is Get GSTIN Details' Data (StateCode and AddrPncd are numbers, as on NIC).
type gstinData struct {
	Gstin     string  `json:"Gstin"`
	TradeName string  `json:"TradeName"`
	LegalName string  `json:"LegalName"`
	AddrBnm   string  `json:"AddrBnm"`
	AddrBno   string  `json:"AddrBno"`
	AddrFlno  string  `json:"AddrFlno"`
	AddrSt    string  `json:"AddrSt"`
	AddrLoc   string  `json:"AddrLoc"`
	StateCode int     `json:"StateCode"`
	AddrPncd  int     `json:"AddrPncd"`
	TxpType   string  `json:"TxpType"`
	Status    string  `json:"Status"`
	BlkStatus *string `json:"BlkStatus"`
	DtReg     *string `json:"DtReg"`
	DtDReg    *string `json:"DtDReg"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toGSTINData(t *Taxpayer) gstinData {
	return gstinData{
		Gstin: t.Gstin, TradeName: t.TradeName, LegalName: t.LegalName, AddrBnm: t.AddrBnm, AddrBno: t.AddrBno,
		AddrFlno: t.AddrFlno, AddrSt: t.AddrSt, AddrLoc: t.AddrLoc, StateCode: t.StateCode, AddrPncd: t.AddrPncd,
		TxpType: t.TxpType, Status: t.Status, BlkStatus: optional(t.BlkStatus), DtReg: optional(t.DtReg),
		DtDReg: optional(t.DtDReg),
	}
}

func (s *Sandbox) gstinLookup(c *call) result {
	s.stats.gstinCalls.Add(1)
	g := strings.ToUpper(c.r.PathValue("gstin"))
	if einvoice.ValidateGSTIN(g, !s.cfg.EnforceCheckDigit) != nil {
		return failed("3030")
	}
	tp := s.taxpayers[g]
	if tp == nil {
		return failed("3001")
	}
	return result{data: toGSTINData(tp)}
}

// gstinDetails serves GET /eivital/v1.0x/Master/gstin/{gstin}.
func (s *Sandbox) gstinDetails(c *call) result { return s.gstinLookup(c) }

// syncGSTIN serves GET /eivital/v1.0x/Master/syncgstin/{gstin}: the master is local, so the
// "common portal" answer is the same row.
func (s *Sandbox) syncGSTIN(c *call) result { return s.gstinLookup(c) }

// enablement serves GET /sandbox/v1/einvoice/status/{gstin}.
func (s *Sandbox) enablement(c *call) result {
	g := strings.ToUpper(c.r.PathValue("gstin"))
	tp := s.taxpayers[g]
	if tp == nil {
		return failed("3001")
	}
	en := "N"
	if tp.EInvoiceEnabled {
		en = "Y"
	}
	return result{data: map[string]any{"Gstin": g, "EInvoiceStatus": en, "Status": tp.Status, "LegalName": tp.LegalName}}
}

// buyerInvoice is one row of the e-invoices received by a buyer.
type buyerInvoice struct {
	Irn         string  `json:"Irn"`
	AckNo       int64   `json:"AckNo"`
	AckDt       string  `json:"AckDt"`
	SellerGstin string  `json:"SellerGstin"`
	DocTyp      string  `json:"DocTyp"`
	DocNo       string  `json:"DocNo"`
	DocDt       string  `json:"DocDt"`
	TotInvVal   float64 `json:"TotInvVal"`
	Status      string  `json:"Status"`
	Irp         string  `json:"Irp"`
}

// buyerInvoices serves GET /sandbox/v1/einvoice/buyer/{gstin}?from=dd/MM/yyyy&to=dd/MM/yyyy: the
// e-invoices generated against the caller's own GSTIN as buyer, by document date.
func (s *Sandbox) buyerInvoices(c *call) result {
	g := strings.ToUpper(c.r.PathValue("gstin"))
	if g != c.sess.GSTIN {
		return failed("2226")
	}
	q := c.r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	var errs []nicError
	fromT, err := einvoice.ParseDate(from)
	if from != "" && err != nil {
		errs = append(errs, nicErr("2156"))
	}
	toT, err := einvoice.ParseDate(to)
	if to != "" && err != nil {
		errs = append(errs, nicErr("2157"))
	}
	if len(errs) > 0 {
		return result{errs: errs}
	}
	if from != "" && to != "" && fromT.After(toT) {
		return failed("2219")
	}
	s.reg.mu.RLock()
	var out []buyerInvoice
	for _, e := range s.reg.byBuyer[g] {
		if (from != "" && e.docDate.Before(fromT)) || (to != "" && e.docDate.After(toT)) {
			continue
		}
		out = append(out, buyerInvoice{
			Irn: e.Irn, AckNo: e.AckNo, AckDt: nicTime(e.AckDt), SellerGstin: e.SellerGSTIN, DocTyp: e.DocType,
			DocNo: e.DocNo, DocDt: e.DocDate, TotInvVal: e.TotInvVal, Status: e.Status, Irp: e.Instance,
		})
	}
	s.reg.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].AckNo < out[j].AckNo })
	if out == nil {
		out = []buyerInvoice{}
	}
	return result{data: out}
}

// searchGSTIN serves GET /sandbox/v1/gstin/search?pan=… or ?name=… (case-insensitive substring
// of legal or trade name).
func (s *Sandbox) searchGSTIN(c *call) result {
	s.stats.gstinCalls.Add(1)
	q := c.r.URL.Query()
	pan, name := strings.ToUpper(q.Get("pan")), strings.ToLower(q.Get("name"))
	if pan == "" && name == "" {
		return failed("2142")
	}
	var out []gstinData
	for i := range s.tpList {
		t := &s.tpList[i]
		if pan != "" && einvoice.PAN(t.Gstin) != pan {
			continue
		}
		if name != "" && !strings.Contains(strings.ToLower(t.LegalName), name) && !strings.Contains(strings.ToLower(t.TradeName), name) {
			continue
		}
		out = append(out, toGSTINData(t))
	}
	if len(out) == 0 {
		return failed("3001")
	}
	return result{data: out}
}

// verify serves POST /sandbox/v1/verify with {"Jws": "<SignedInvoice or SignedQRCode>"} (the
// keys SignedInvoice, SignedQRCode and QRCode are read too). Public and plain JSON: anyone
// holding a printed QR code may check it.
func (s *Sandbox) verify(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"Valid": false, "Error": "request body too large"})
		return
	}
	var req map[string]string
	_ = json.Unmarshal(raw, &req)
	var tok string
	for k, v := range req {
		switch strings.ToLower(k) {
		case "jws", "signedinvoice", "signedqrcode", "qrcode":
			tok = v
		}
	}
	if tok == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"Valid": false, "Error": "Jws is required"})
		return
	}
	signed, err := irpcrypto.Verify(tok, []*x509.Certificate{s.keys.Certificate})
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"Valid": false, "Error": err.Error()})
		return
	}
	var claims struct {
		Irn string `json:"Irn"`
	}
	_ = json.Unmarshal(signed.Data, &claims)
	out := map[string]any{"Valid": true, "Kid": signed.Kid, "Issuer": signed.Issuer, "Data": signed.Data, "Irn": claims.Irn}
	if e := s.reg.get(claims.Irn); e != nil {
		reg := s.reg.snapshot(e)
		out["Registered"] = true
		out["Status"] = reg.Status
		out["Irp"] = reg.Instance
	} else {
		out["Registered"] = false
	}
	writeJSON(w, http.StatusOK, out)
}
