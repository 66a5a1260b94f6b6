package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// ewbRequest is the decrypted Generate-EWB-by-IRN body (also the shape of EwbDtls).
type ewbRequest struct {
	Irn         string `json:"Irn"`
	Distance    int    `json:"Distance"`
	TransMode   string `json:"TransMode"`
	TransID     string `json:"TransId"`
	TransName   string `json:"TransName"`
	TransDocNo  string `json:"TransDocNo"`
	TransDocDt  string `json:"TransDocDt"`
	VehNo       string `json:"VehNo"`
	VehType     string `json:"VehType"`
	ExpShipDtls *struct {
		Pin  int    `json:"Pin"`
		Stcd string `json:"Stcd"`
	} `json:"ExpShipDtls"`
	DispDtls *struct {
		Pin  int    `json:"Pin"`
		Stcd string `json:"Stcd"`
	} `json:"DispDtls"`
}

// transportErrors applies pkg/einvoice's e-way bill rules (the same ones Generate IRN applies to
// EwbDtls) to a Generate-EWB-by-IRN request: the request is placed as EwbDtls of a stand-in
// document with the registered type and date, and only the EwbDtls findings are kept.
func (s *Sandbox) transportErrors(e *entry, req *ewbRequest) []nicError {
	reg := s.reg.snapshot(e)
	inv := &einvoice.Invoice{
		DocDtls:  einvoice.DocDtls{Typ: reg.DocType, No: reg.DocNo, Dt: reg.DocDate},
		ItemList: []einvoice.Item{{SlNo: "1", IsServc: "N"}},
		EwbDtls: &einvoice.EwbDtls{
			TransId: req.TransID, TransName: req.TransName, TransMode: req.TransMode, Distance: req.Distance,
			TransDocNo: req.TransDocNo, TransDocDt: req.TransDocDt, VehNo: req.VehNo, VehType: req.VehType,
		},
	}
	var ve *einvoice.ValidationError
	if !errors.As(einvoice.Validate(inv, einvoice.Options{Now: s.now(), AcceptSandboxGSTINs: true}), &ve) {
		return nil
	}
	var vs []einvoice.Violation
	for _, v := range ve.Violations {
		if strings.HasPrefix(v.Field, "EwbDtls") {
			vs = append(vs, v)
		}
	}
	return violationErrors(vs, nil)
}

// pinDistance is the sandbox's deterministic stand-in for NIC's PIN-to-PIN road distance:
// symmetric, 5–99 km inside one 3-digit postal area, 50 km + 3 km per area step otherwise.
func pinDistance(a, b int) int {
	if a == b {
		return 0
	}
	d := abs(a/1000 - b/1000)
	if d == 0 {
		return 5 + abs(a-b)%95
	}
	return min(4000, 50+3*d)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ewbOutcome is a planned e-way bill.
type ewbOutcome struct {
	partAOnly bool
	distance  int
	odc       bool
	ppd       string // "Pin-Pin calc distance: 57KM" when the IRP computed it
}

// planEWB applies the e-way bill rules (§6 rules 19–22) to a request for a registered document.
func (s *Sandbox) planEWB(e *entry, req *ewbRequest, transportRules bool) (*ewbOutcome, []nicError) {
	reg := s.reg.snapshot(e)
	if reg.DocType != "INV" || !e.hasGoods {
		return nil, []nicError{nicErr("4010")}
	}
	for _, g := range []string{reg.SellerGSTIN, reg.BuyerGSTIN} {
		if tp := s.taxpayers[g]; tp != nil && tp.BlkStatus == "B" {
			return nil, []nicError{nicErr("4015", g)}
		}
	}
	var errs []nicError
	add := func(code string, args ...string) { errs = append(errs, nicErr(code, args...)) }
	if transportRules {
		errs = append(errs, s.transportErrors(e, req)...)
	}
	out := &ewbOutcome{odc: strings.EqualFold(req.VehType, "O")}
	out.partAOnly = req.VehNo == "" && req.TransDocNo == "" && req.TransMode == ""
	from, to := e.sellerPin, e.buyerPin
	if e.dispatchPin != 0 {
		from = e.dispatchPin
	}
	if e.shipPin != 0 {
		to = e.shipPin
	}
	if req.DispDtls != nil && req.DispDtls.Pin != 0 {
		from = req.DispDtls.Pin
	}
	if req.ExpShipDtls != nil && req.ExpShipDtls.Pin != 0 {
		to = req.ExpShipDtls.Pin
	}
	calc := pinDistance(from, to)
	out.distance = req.Distance
	switch {
	case from == 999999 || to == 999999 || from == 0 || to == 0:
		if req.Distance == 0 {
			add("4034")
		}
	case from == to:
		if req.Distance <= 0 || req.Distance > 100 {
			add("4029")
		}
	case req.Distance == 0:
		out.distance = calc
		out.ppd = "Pin-Pin calc distance: " + strconv.Itoa(calc) + "KM"
	case float64(req.Distance) > float64(calc)*1.1:
		add("4038")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// issueEWB records the e-way bill on the registration.
func (s *Sandbox) issueEWB(e *entry, inst string, out *ewbOutcome) Registration {
	now := s.now().Truncate(time.Second)
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	no := s.reg.nextEwbNo(inst)
	e.EwbNo, e.EwbDt, e.EwbStatus, e.EwbValidTill = no, now, "ACT", time.Time{}
	if !out.partAOnly {
		per := 200
		if out.odc {
			per = 20
		}
		days := max(1, (out.distance+per-1)/per)
		d := now.In(IST)
		e.EwbValidTill = time.Date(d.Year(), d.Month(), d.Day()+days, 23, 59, 0, 0, IST)
	}
	s.reg.byEWB[no] = e
	s.reg.saveLocked(e)
	return e.Registration
}

// embeddedEWB tries the e-way bill asked for in EwbDtls of Generate IRN; failures become EWBERR.
func (s *Sandbox) embeddedEWB(c *call, e *entry, inv *einvoice.Invoice, vs []einvoice.Violation) []infoDtl {
	if len(vs) > 0 {
		return []infoDtl{{InfCd: "EWBERR", Desc: violationErrors(vs, inv)}}
	}
	d := inv.EwbDtls
	req := &ewbRequest{
		Distance: d.Distance, TransMode: d.TransMode, TransID: d.TransId, TransName: d.TransName,
		TransDocNo: d.TransDocNo, TransDocDt: d.TransDocDt, VehNo: d.VehNo, VehType: d.VehType,
	}
	out, errs := s.planEWB(e, req, false)
	if len(errs) > 0 {
		return []infoDtl{{InfCd: "EWBERR", Desc: errs}}
	}
	s.issueEWB(e, c.inst, out)
	if out.ppd != "" {
		return []infoDtl{{InfCd: "EWBPPD", Desc: out.ppd}}
	}
	return nil
}

// generateEWB serves POST /eiewb/v1.03/ewaybill.
func (s *Sandbox) generateEWB(c *call) result {
	s.stats.ewbCalls.Add(1)
	body, bad := c.body()
	if bad != nil {
		return *bad
	}
	var req ewbRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return failed("4006")
	}
	if req.Irn == "" {
		return failed("4006")
	}
	e, code := s.lookup(c, req.Irn)
	switch code {
	case lookupOK:
	case lookupNotOwner:
		return failed("4037")
	default:
		return failed("4003")
	}
	reg := s.reg.snapshot(e)
	switch {
	case reg.Status != "ACT":
		return failed("4000")
	case reg.EwbNo != 0 && reg.EwbStatus == "ACT":
		return failed("4002")
	}
	out, errs := s.planEWB(e, &req, true)
	if len(errs) > 0 {
		return result{errs: errs}
	}
	reg = s.issueEWB(e, c.inst, out)
	data := map[string]any{"EwbNo": reg.EwbNo, "EwbDt": nicTime(reg.EwbDt), "EwbValidTill": nil, "Remarks": nil}
	if !reg.EwbValidTill.IsZero() {
		data["EwbValidTill"] = nicTime(reg.EwbValidTill)
	}
	res := result{data: data, write: true}
	if out.ppd != "" {
		data["Remarks"] = out.ppd
		res.info = []infoDtl{{InfCd: "EWBPPD", Desc: out.ppd}}
	}
	return res
}

// getEWB serves GET /eiewb/v1.03/ewaybill/irn/{irn}.
func (s *Sandbox) getEWB(c *call) result {
	s.stats.getCalls.Add(1)
	irn := c.r.PathValue("irn")
	if irn == "" {
		return failed("4006")
	}
	e, code := s.lookup(c, irn)
	switch code {
	case lookupOK:
	case lookupNotOwner:
		return failed("4037")
	default:
		return failed("4003")
	}
	reg := s.reg.snapshot(e)
	if reg.EwbNo == 0 {
		return failed("4005")
	}
	data := map[string]any{"EwbNo": reg.EwbNo, "Status": reg.EwbStatus, "GenGstin": reg.SellerGSTIN, "EwbDt": nicTime(reg.EwbDt), "EwbValidTill": nil}
	if !reg.EwbValidTill.IsZero() {
		data["EwbValidTill"] = nicTime(reg.EwbValidTill)
	}
	return result{data: data}
}

// ewbFail answers in the e-way bill system's error form.
func ewbFail(w http.ResponseWriter, codes ...string) {
	b, _ := json.Marshal(map[string]string{"errorCodes": strings.Join(codes, ",") + ","})
	writeJSON(w, http.StatusOK, map[string]any{"status": "0", "error": base64.StdEncoding.EncodeToString(b)})
}

// handleEwayAPI serves POST /ewaybillapi/v1.03/ewayapi (action CANEWB), e-way bill system style:
// lower-case envelope, errors as base64 {"errorCodes": "312,"}, data encrypted with the SEK.
func (s *Sandbox) handleEwayAPI(w http.ResponseWriter, r *http.Request, inst string) {
	s.stats.cancelEWBCalls.Add(1)
	sess, code := s.authorize(r, inst)
	switch code {
	case "":
	case "1010", "1011", "1012":
		ewbFail(w, "110")
		return
	default:
		ewbFail(w, "238")
		return
	}
	raw, err := readBody(r)
	if err != nil {
		ewbFail(w, "5002")
		return
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		ewbFail(w, "109")
		return
	}
	var action, data string
	for k, v := range env {
		switch strings.ToLower(k) {
		case "action":
			_ = json.Unmarshal(v, &action)
		case "data":
			_ = json.Unmarshal(v, &data)
		}
	}
	if !strings.EqualFold(action, "CANEWB") {
		ewbFail(w, "5001")
		return
	}
	plain, err := irpcrypto.DecryptB64(sess.SEK, data)
	if err != nil {
		ewbFail(w, "109")
		return
	}
	var req struct {
		EwbNo         json.Number `json:"ewbNo"`
		CancelRsnCode json.Number `json:"cancelRsnCode"`
		CancelRmrk    string      `json:"cancelRmrk"`
	}
	dec := json.NewDecoder(strings.NewReader(string(plain)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		ewbFail(w, "109")
		return
	}
	rsn, _ := req.CancelRsnCode.Int64()
	if rsn < 1 || rsn > 4 {
		ewbFail(w, "307")
		return
	}
	if len(req.CancelRmrk) > 50 {
		ewbFail(w, "308")
		return
	}
	no, _ := req.EwbNo.Int64()
	s.reg.mu.Lock()
	e := s.reg.byEWB[no]
	now := s.now()
	switch {
	case e == nil || e.EwbNo != no || e.SellerGSTIN != sess.GSTIN || e.EwbStatus != "ACT":
		s.reg.mu.Unlock()
		ewbFail(w, "312")
		return
	case ewbInstance(no) != inst:
		s.reg.mu.Unlock()
		if ewbInstance(no) == NIC1 {
			ewbFail(w, "444")
		} else {
			ewbFail(w, "445")
		}
		return
	case now.Sub(e.EwbDt) > 24*time.Hour:
		s.reg.mu.Unlock()
		ewbFail(w, "315")
		return
	}
	e.EwbStatus = "CNL"
	s.reg.saveLocked(e)
	s.reg.mu.Unlock()
	out, _ := json.Marshal(map[string]any{"ewayBillNo": no, "cancelDate": now.In(IST).Format(ewbTimeLayout)})
	enc, err := irpcrypto.EncryptB64(sess.SEK, out)
	if err != nil {
		ewbFail(w, "5001")
		return
	}
	if k := s.answerLost(OpCancelEWB, inst); k != failNone {
		s.fail(w, r, k, s.Faults().TimeoutAfter)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "1", "data": enc})
}
