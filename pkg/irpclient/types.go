package irpclient

import (
	"encoding/json"
	"strings"
)

// IRNDetails is the decrypted answer of Generate IRN, Get by IRN and Get by
// document details.
type IRNDetails struct {
	AckNo         int64
	AckDt         string // yyyy-MM-dd HH:mm:ss IST
	Irn           string
	SignedInvoice string // RS256 JWS
	SignedQRCode  string // RS256 JWS
	Status        string // ACT, CNL
	EwbNo         *int64
	EwbDt         *string
	EwbValidTill  *string
	Remarks       *string
	// Info holds the InfoDtls of the envelope (EWBERR, EWBPPD, ADDNLNFO).
	Info []Info `json:"-"`
}

type wireIRNDetails struct {
	AckNo         flexInt
	AckDt         flexString
	Irn           flexString
	SignedInvoice flexString
	SignedQRCode  flexString
	Status        flexString
	EwbNo         *flexInt
	EwbDt         *flexString
	EwbValidTill  *flexString
	Remarks       *flexString
}

// fastIRNDetails is the shape NIC documents; decoding into plain strings
// avoids a second pass over the large SignedInvoice.
type fastIRNDetails struct {
	AckNo         flexInt
	AckDt         string
	Irn           string
	SignedInvoice string
	SignedQRCode  string
	Status        string
	EwbNo         *flexInt
	EwbDt         *string
	EwbValidTill  *string
	Remarks       *string
}

// UnmarshalJSON accepts AckNo/EwbNo as numbers or strings.
func (d *IRNDetails) UnmarshalJSON(b []byte) error {
	var f fastIRNDetails
	if json.Unmarshal(b, &f) == nil {
		*d = IRNDetails{
			AckNo: int64(f.AckNo), AckDt: f.AckDt, Irn: f.Irn, SignedInvoice: f.SignedInvoice, SignedQRCode: f.SignedQRCode,
			Status: f.Status, EwbNo: optInt(f.EwbNo), EwbDt: nonEmpty(f.EwbDt), EwbValidTill: nonEmpty(f.EwbValidTill), Remarks: nonEmpty(f.Remarks),
		}
		return nil
	}
	var w wireIRNDetails
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = IRNDetails{
		AckNo: int64(w.AckNo), AckDt: string(w.AckDt), Irn: string(w.Irn),
		SignedInvoice: string(w.SignedInvoice), SignedQRCode: string(w.SignedQRCode), Status: string(w.Status),
		EwbNo: optInt(w.EwbNo), EwbDt: optString(w.EwbDt), EwbValidTill: optString(w.EwbValidTill), Remarks: optString(w.Remarks),
	}
	return nil
}

// InfoByCode returns the first InfoDtls entry with that InfCd.
func (d *IRNDetails) InfoByCode(code string) (Info, bool) { return findInfo(d.Info, code) }

func optInt(f *flexInt) *int64 {
	if f == nil || *f == 0 {
		return nil
	}
	v := int64(*f)
	return &v
}

func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

func optString(f *flexString) *string {
	if f == nil || *f == "" {
		return nil
	}
	v := string(*f)
	return &v
}

// CancelIRNRequest is the body of Cancel IRN. CnlRsn: 1 Duplicate, 2 Data
// entry mistake, 3 Order cancelled, 4 Others.
type CancelIRNRequest struct {
	Irn    string `json:"Irn"`
	CnlRsn string `json:"CnlRsn"`
	CnlRem string `json:"CnlRem"`
}

// CancelIRNResult is the answer of Cancel IRN.
type CancelIRNResult struct {
	Irn        string
	CancelDate string // yyyy-MM-dd HH:mm:ss IST
}

// EWBShipAddress is ExpShipDtls of Generate EWB by IRN.
type EWBShipAddress struct {
	Addr1 string `json:"Addr1,omitempty"`
	Addr2 string `json:"Addr2,omitempty"`
	Loc   string `json:"Loc,omitempty"`
	Pin   int    `json:"Pin,omitempty"`
	Stcd  string `json:"Stcd,omitempty"`
}

// EWBDispatch is DispDtls of Generate EWB by IRN.
type EWBDispatch struct {
	Nm    string `json:"Nm,omitempty"`
	Addr1 string `json:"Addr1,omitempty"`
	Addr2 string `json:"Addr2,omitempty"`
	Loc   string `json:"Loc,omitempty"`
	Pin   int    `json:"Pin,omitempty"`
	Stcd  string `json:"Stcd,omitempty"`
}

// GenerateEWBRequest is the body of Generate EWB by IRN. Distance 0 asks the
// IRP to compute the PIN-to-PIN distance (reported as EWBPPD info).
type GenerateEWBRequest struct {
	Irn         string          `json:"Irn"`
	Distance    int             `json:"Distance"`
	TransMode   string          `json:"TransMode,omitempty"` // 1 Road, 2 Rail, 3 Air, 4 Ship
	TransID     string          `json:"TransId,omitempty"`
	TransName   string          `json:"TransName,omitempty"`
	TransDocNo  string          `json:"TransDocNo,omitempty"`
	TransDocDt  string          `json:"TransDocDt,omitempty"` // dd/MM/yyyy
	VehNo       string          `json:"VehNo,omitempty"`
	VehType     string          `json:"VehType,omitempty"` // R, O
	ExpShipDtls *EWBShipAddress `json:"ExpShipDtls,omitempty"`
	DispDtls    *EWBDispatch    `json:"DispDtls,omitempty"`
}

// EWBDetails is the answer of Generate EWB by IRN.
type EWBDetails struct {
	EwbNo        int64
	EwbDt        string
	EwbValidTill string
	Remarks      *string
	Info         []Info `json:"-"`
}

// UnmarshalJSON accepts the v1.02+ names and the v1.01 ones (EwayBillNo, EwayBillDate, ValidUpto).
func (d *EWBDetails) UnmarshalJSON(b []byte) error {
	var w struct {
		EwbNo, EwayBillNo       flexInt
		EwbDt, EwayBillDate     flexString
		EwbValidTill, ValidUpto flexString
		Remarks                 *flexString
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = EWBDetails{EwbNo: int64(w.EwbNo), EwbDt: string(w.EwbDt), EwbValidTill: string(w.EwbValidTill), Remarks: optString(w.Remarks)}
	if d.EwbNo == 0 {
		d.EwbNo = int64(w.EwayBillNo)
	}
	if d.EwbDt == "" {
		d.EwbDt = string(w.EwayBillDate)
	}
	if d.EwbValidTill == "" {
		d.EwbValidTill = string(w.ValidUpto)
	}
	return nil
}

// InfoByCode returns the first InfoDtls entry with that InfCd.
func (d *EWBDetails) InfoByCode(code string) (Info, bool) { return findInfo(d.Info, code) }

// EWBStatus is the answer of Get EWB details by IRN.
type EWBStatus struct {
	EwbNo        int64
	Status       string // ACT, CNL
	GenGstin     string
	EwbDt        string
	EwbValidTill string
}

// UnmarshalJSON accepts EwbNo as a number or string.
func (d *EWBStatus) UnmarshalJSON(b []byte) error {
	var w struct {
		EwbNo                                 flexInt
		Status, GenGstin, EwbDt, EwbValidTill flexString
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = EWBStatus{EwbNo: int64(w.EwbNo), Status: string(w.Status), GenGstin: string(w.GenGstin), EwbDt: string(w.EwbDt), EwbValidTill: string(w.EwbValidTill)}
	return nil
}

// CancelEWBRequest is the body of Cancel EWB (e-way-bill system flavour).
// CancelRsnCode: 1 Duplicate, 2 Order cancelled, 3 Data entry mistake, 4 Others.
type CancelEWBRequest struct {
	EwbNo         int64  `json:"ewbNo"`
	CancelRsnCode int    `json:"cancelRsnCode"`
	CancelRmrk    string `json:"cancelRmrk"`
}

// CancelEWBResult is the answer of Cancel EWB.
type CancelEWBResult struct {
	EwbNo      int64  // ewayBillNo
	CancelDate string // dd/MM/yyyy hh:mm:ss AM/PM
}

// UnmarshalJSON reads ewayBillNo/cancelDate.
func (d *CancelEWBResult) UnmarshalJSON(b []byte) error {
	var w struct {
		EwayBillNo flexInt
		EwbNo      flexInt
		CancelDate flexString
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	d.EwbNo, d.CancelDate = int64(w.EwayBillNo), string(w.CancelDate)
	if d.EwbNo == 0 {
		d.EwbNo = int64(w.EwbNo)
	}
	return nil
}

// GSTINDetails is the answer of Get GSTIN details and Sync GSTIN.
type GSTINDetails struct {
	Gstin     string
	TradeName string
	LegalName string
	AddrBnm   string
	AddrBno   string
	AddrFlno  string
	AddrSt    string
	AddrLoc   string
	StateCode int
	AddrPncd  int
	TxpType   string // REG, ...
	Status    string // ACT, CNL, INA, PRO
	BlkStatus string // "", U, B
	DtReg     string // yyyy-MM-dd
	DtDReg    string
}

// UnmarshalJSON accepts StateCode/AddrPncd as numbers or strings and null strings.
func (d *GSTINDetails) UnmarshalJSON(b []byte) error {
	var w struct {
		Gstin, TradeName, LegalName, AddrBnm, AddrBno, AddrFlno, AddrSt, AddrLoc flexString
		StateCode, AddrPncd                                                      flexInt
		TxpType, Status, BlkStatus, DtReg, DtDReg                                flexString
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = GSTINDetails{
		Gstin: string(w.Gstin), TradeName: string(w.TradeName), LegalName: string(w.LegalName),
		AddrBnm: string(w.AddrBnm), AddrBno: string(w.AddrBno), AddrFlno: string(w.AddrFlno), AddrSt: string(w.AddrSt), AddrLoc: string(w.AddrLoc),
		StateCode: int(w.StateCode), AddrPncd: int(w.AddrPncd),
		TxpType: string(w.TxpType), Status: string(w.Status), BlkStatus: string(w.BlkStatus), DtReg: string(w.DtReg), DtDReg: string(w.DtDReg),
	}
	return nil
}

// Active reports Status ACT.
func (d *GSTINDetails) Active() bool { return strings.EqualFold(d.Status, "ACT") }

// Blocked reports BlkStatus B (e-way bill generation blocked).
func (d *GSTINDetails) Blocked() bool { return strings.EqualFold(d.BlkStatus, "B") }
