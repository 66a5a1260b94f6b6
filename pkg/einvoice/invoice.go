package einvoice

// Invoice is the Generate-IRN request body of NIC e-invoice schema v1.1.
//
// The `nic` tags are the schema rules of each field (see spec.go); the JSON tags are NIC's names.
type Invoice struct {
	Version     string        `json:"Version" nic:"req,len=1:6"`
	TranDtls    TranDtls      `json:"TranDtls" nic:"req"`
	DocDtls     DocDtls       `json:"DocDtls" nic:"req"`
	SellerDtls  SellerDtls    `json:"SellerDtls" nic:"req"`
	BuyerDtls   BuyerDtls     `json:"BuyerDtls" nic:"req"`
	DispDtls    *DispDtls     `json:"DispDtls,omitempty"`
	ShipDtls    *ShipDtls     `json:"ShipDtls,omitempty"`
	ItemList    []Item        `json:"ItemList" nic:"req,items=1:1000"`
	ValDtls     ValDtls       `json:"ValDtls" nic:"req"`
	PayDtls     *PayDtls      `json:"PayDtls,omitempty"`
	RefDtls     *RefDtls      `json:"RefDtls,omitempty"`
	AddlDocDtls []AddlDocDtls `json:"AddlDocDtls,omitempty"`
	ExpDtls     *ExpDtls      `json:"ExpDtls,omitempty"`
	EwbDtls     *EwbDtls      `json:"EwbDtls,omitempty"`
}

// TranDtls describes the kind of supply.
type TranDtls struct {
	TaxSch      string `json:"TaxSch" nic:"req,len=3:10,enum=GST"`
	SupTyp      string `json:"SupTyp" nic:"req,len=3:10,enumfold=B2B|SEZWP|SEZWOP|EXPWP|EXPWOP|DEXP"`
	RegRev      string `json:"RegRev,omitempty" nic:"len=1:1,enum=Y|N"`
	EcmGstin    string `json:"EcmGstin,omitempty" nic:"len=15:15,pat=gstin"`
	IgstOnIntra string `json:"IgstOnIntra,omitempty" nic:"len=1:1,enum=Y|N"`
}

// DocDtls identifies the document; Typ+No+FY+seller GSTIN make the IRN.
type DocDtls struct {
	Typ string `json:"Typ" nic:"req,len=3:3,enumfold=INV|CRN|DBN"`
	No  string `json:"No" nic:"req,len=1:16,pat=docno"`
	Dt  string `json:"Dt" nic:"req,len=10:10,pat=date"`
}

// SellerDtls is the supplier.
type SellerDtls struct {
	Gstin string `json:"Gstin" nic:"req,len=15:15,pat=gstin"`
	LglNm string `json:"LglNm" nic:"req,len=3:100,text"`
	TrdNm string `json:"TrdNm,omitempty" nic:"len=3:100,text"`
	Addr1 string `json:"Addr1" nic:"req,len=1:100,text"`
	Addr2 string `json:"Addr2,omitempty" nic:"len=3:100,text"`
	Loc   string `json:"Loc" nic:"req,len=3:50,text"`
	Pin   int    `json:"Pin" nic:"req,int=100000:999999"`
	Stcd  string `json:"Stcd" nic:"req,len=1:2,pat=stcd"`
	Ph    string `json:"Ph,omitempty" nic:"len=6:12,pat=phone"`
	Em    string `json:"Em,omitempty" nic:"len=6:100,pat=email"`
}

// Party is the supplier's shape; kept as a name for callers that speak of parties in general.
type Party = SellerDtls

// BuyerDtls is the recipient; Pos is the place of supply.
type BuyerDtls struct {
	Gstin string `json:"Gstin" nic:"req,len=3:15,pat=gstinurp"`
	LglNm string `json:"LglNm" nic:"req,len=3:100,text"`
	TrdNm string `json:"TrdNm,omitempty" nic:"len=3:100,text"`
	Pos   string `json:"Pos" nic:"req,len=1:2,pat=stcd"`
	Addr1 string `json:"Addr1" nic:"req,len=1:100,text"`
	Addr2 string `json:"Addr2,omitempty" nic:"len=3:100,text"`
	Loc   string `json:"Loc" nic:"req,len=3:100,text"`
	Pin   int    `json:"Pin,omitempty" nic:"int=100000:999999"`
	Stcd  string `json:"Stcd" nic:"req,len=1:2,pat=stcd"`
	Ph    string `json:"Ph,omitempty" nic:"len=6:12,pat=phone"`
	Em    string `json:"Em,omitempty" nic:"len=6:100,pat=email"`
}

// DispDtls is the dispatch-from address when it differs from the seller's.
type DispDtls struct {
	Nm    string `json:"Nm" nic:"req,len=3:100,text"`
	Addr1 string `json:"Addr1" nic:"req,len=1:100,text"`
	Addr2 string `json:"Addr2,omitempty" nic:"len=3:100,text"`
	Loc   string `json:"Loc" nic:"req,len=3:100,text"`
	Pin   int    `json:"Pin" nic:"req,int=100000:999999"`
	Stcd  string `json:"Stcd" nic:"req,len=1:2,pat=stcd"`
}

// ShipDtls is the ship-to address when it differs from the buyer's.
type ShipDtls struct {
	Gstin string `json:"Gstin,omitempty" nic:"len=3:15,pat=gstinurp"`
	LglNm string `json:"LglNm" nic:"req,len=3:100,text"`
	TrdNm string `json:"TrdNm,omitempty" nic:"len=3:100,text"`
	Addr1 string `json:"Addr1" nic:"req,len=1:100,text"`
	Addr2 string `json:"Addr2,omitempty" nic:"len=3:100,text"`
	Loc   string `json:"Loc" nic:"req,len=3:100,text"`
	Pin   int    `json:"Pin" nic:"req,int=100000:999999"`
	Stcd  string `json:"Stcd" nic:"req,len=1:2,pat=stcd"`
}

// Item is one line of ItemList.
type Item struct {
	SlNo               string       `json:"SlNo" nic:"req,len=1:6,pat=slno"`
	PrdDesc            string       `json:"PrdDesc,omitempty" nic:"len=3:300,text"`
	IsServc            string       `json:"IsServc" nic:"req,len=1:1,enum=Y|N"`
	HsnCd              string       `json:"HsnCd" nic:"req,len=4:8,pat=hsn"`
	Barcde             string       `json:"Barcde,omitempty" nic:"len=3:30,text"`
	Qty                float64      `json:"Qty,omitempty" nic:"num=0:9999999999.999"`
	FreeQty            float64      `json:"FreeQty,omitempty" nic:"num=0:9999999999.999"`
	Unit               string       `json:"Unit,omitempty" nic:"len=3:8,pat=unit"`
	UnitPrice          float64      `json:"UnitPrice" nic:"req,num=0:999999999999.999"`
	TotAmt             float64      `json:"TotAmt" nic:"req,num=0:999999999999.99"`
	Discount           float64      `json:"Discount,omitempty" nic:"num=0:999999999999.99"`
	PreTaxVal          float64      `json:"PreTaxVal,omitempty" nic:"num=0:999999999999.99"`
	AssAmt             float64      `json:"AssAmt" nic:"req,num=0:999999999999.99"`
	GstRt              float64      `json:"GstRt" nic:"req,num=0:999.999"`
	IgstAmt            float64      `json:"IgstAmt,omitempty" nic:"num=0:999999999999.99"`
	CgstAmt            float64      `json:"CgstAmt,omitempty" nic:"num=0:999999999999.99"`
	SgstAmt            float64      `json:"SgstAmt,omitempty" nic:"num=0:999999999999.99"`
	CesRt              float64      `json:"CesRt,omitempty" nic:"num=0:999.999"`
	CesAmt             float64      `json:"CesAmt,omitempty" nic:"num=0:999999999999.99"`
	CesNonAdvlAmt      float64      `json:"CesNonAdvlAmt,omitempty" nic:"num=0:999999999999.99"`
	StateCesRt         float64      `json:"StateCesRt,omitempty" nic:"num=0:999.999"`
	StateCesAmt        float64      `json:"StateCesAmt,omitempty" nic:"num=0:999999999999.99"`
	StateCesNonAdvlAmt float64      `json:"StateCesNonAdvlAmt,omitempty" nic:"num=0:999999999999.99"`
	OthChrg            float64      `json:"OthChrg,omitempty" nic:"num=0:999999999999.99"`
	TotItemVal         float64      `json:"TotItemVal" nic:"req,num=0:999999999999.99"`
	OrdLineRef         string       `json:"OrdLineRef,omitempty" nic:"len=1:50,text"`
	OrgCntry           string       `json:"OrgCntry,omitempty" nic:"len=2:2,pat=alpha"`
	PrdSlNo            string       `json:"PrdSlNo,omitempty" nic:"len=1:20,text"`
	BchDtls            *BchDtls     `json:"BchDtls,omitempty"`
	AttribDtls         []AttribDtls `json:"AttribDtls,omitempty"`
}

// BchDtls is the batch of an item.
type BchDtls struct {
	Nm    string `json:"Nm" nic:"req,len=3:20,text"`
	ExpDt string `json:"ExpDt,omitempty" nic:"len=10:10,pat=date"`
	WrDt  string `json:"WrDt,omitempty" nic:"len=10:10,pat=date"`
}

// AttribDtls is a free name/value attribute of an item.
type AttribDtls struct {
	Nm  string `json:"Nm,omitempty" nic:"len=1:100,text"`
	Val string `json:"Val,omitempty" nic:"len=1:100,text"`
}

// ValDtls holds the document totals.
type ValDtls struct {
	AssVal      float64 `json:"AssVal" nic:"req,num=0:99999999999999.99"`
	CgstVal     float64 `json:"CgstVal,omitempty" nic:"num=0:99999999999999.99"`
	SgstVal     float64 `json:"SgstVal,omitempty" nic:"num=0:99999999999999.99"`
	IgstVal     float64 `json:"IgstVal,omitempty" nic:"num=0:99999999999999.99"`
	CesVal      float64 `json:"CesVal,omitempty" nic:"num=0:99999999999999.99"`
	StCesVal    float64 `json:"StCesVal,omitempty" nic:"num=0:99999999999999.99"`
	Discount    float64 `json:"Discount,omitempty" nic:"num=0:99999999999999.99"`
	OthChrg     float64 `json:"OthChrg,omitempty" nic:"num=0:99999999999999.99"`
	RndOffAmt   float64 `json:"RndOffAmt,omitempty" nic:"num=-99.99:99.99"`
	TotInvVal   float64 `json:"TotInvVal" nic:"req,num=0:99999999999999.99"`
	TotInvValFc float64 `json:"TotInvValFc,omitempty" nic:"num=0:99999999999999.99"`
}

// PayDtls holds payment terms.
type PayDtls struct {
	Nm       string  `json:"Nm,omitempty" nic:"len=1:100,text"`
	AccDet   string  `json:"AccDet,omitempty" nic:"len=1:18,text"`
	Mode     string  `json:"Mode,omitempty" nic:"len=1:18,text"`
	FinInsBr string  `json:"FinInsBr,omitempty" nic:"len=1:11,text"`
	PayTerm  string  `json:"PayTerm,omitempty" nic:"len=1:100,text"`
	PayInstr string  `json:"PayInstr,omitempty" nic:"len=1:100,text"`
	CrTrn    string  `json:"CrTrn,omitempty" nic:"len=1:100,text"`
	DirDr    string  `json:"DirDr,omitempty" nic:"len=1:100,text"`
	CrDay    int     `json:"CrDay,omitempty" nic:"int=0:9999"`
	PaidAmt  float64 `json:"PaidAmt,omitempty" nic:"num=0:99999999999999.99"`
	PaymtDue float64 `json:"PaymtDue,omitempty" nic:"num=0:99999999999999.99"`
}

// RefDtls holds references: remarks, period, preceding documents, contracts.
type RefDtls struct {
	InvRm       string        `json:"InvRm,omitempty" nic:"len=3:100,text"`
	DocPerdDtls *DocPerdDtls  `json:"DocPerdDtls,omitempty"`
	PrecDocDtls []PrecDocDtls `json:"PrecDocDtls,omitempty"`
	ContrDtls   []ContrDtls   `json:"ContrDtls,omitempty"`
}

// DocPerdDtls is the period a document covers.
type DocPerdDtls struct {
	InvStDt  string `json:"InvStDt" nic:"req,len=10:10,pat=date"`
	InvEndDt string `json:"InvEndDt" nic:"req,len=10:10,pat=date"`
}

// PrecDocDtls is a preceding document (the invoice a CRN/DBN adjusts).
type PrecDocDtls struct {
	InvNo    string `json:"InvNo" nic:"req,len=1:16,pat=precno"`
	InvDt    string `json:"InvDt" nic:"req,len=10:10,pat=date"`
	OthRefNo string `json:"OthRefNo,omitempty" nic:"len=1:20,text"`
}

// ContrDtls holds contract and purchase-order references.
type ContrDtls struct {
	RecAdvRefr string `json:"RecAdvRefr,omitempty" nic:"len=1:20,text"`
	RecAdvDt   string `json:"RecAdvDt,omitempty" nic:"len=10:10,pat=date"`
	TendRefr   string `json:"TendRefr,omitempty" nic:"len=1:20,text"`
	ContrRefr  string `json:"ContrRefr,omitempty" nic:"len=1:20,text"`
	ExtRefr    string `json:"ExtRefr,omitempty" nic:"len=1:20,text"`
	ProjRefr   string `json:"ProjRefr,omitempty" nic:"len=1:20,text"`
	PORefr     string `json:"PORefr,omitempty" nic:"len=1:16,text"`
	PORefDt    string `json:"PORefDt,omitempty" nic:"len=10:10,pat=date"`
}

// AddlDocDtls is a supporting document attached by URL or inline.
type AddlDocDtls struct {
	Url  string `json:"Url,omitempty" nic:"len=3:100,text"`
	Docs string `json:"Docs,omitempty" nic:"len=3:1000,text"`
	Info string `json:"Info,omitempty" nic:"len=3:1000,text"`
}

// ExpDtls holds export details.
type ExpDtls struct {
	ShipBNo string  `json:"ShipBNo,omitempty" nic:"len=1:20,text"`
	ShipBDt string  `json:"ShipBDt,omitempty" nic:"len=10:10,pat=date"`
	Port    string  `json:"Port,omitempty" nic:"len=2:10,pat=alnum"`
	RefClm  string  `json:"RefClm,omitempty" nic:"len=1:1,enum=Y|N"`
	ForCur  string  `json:"ForCur,omitempty" nic:"len=3:16,pat=alpha"`
	CntCode string  `json:"CntCode,omitempty" nic:"len=2:2,pat=upper2"`
	ExpDuty float64 `json:"ExpDuty,omitempty" nic:"num=0:999999999999.99"`
}

// EwbDtls asks the IRP to generate an e-way bill together with the IRN.
type EwbDtls struct {
	TransId    string `json:"TransId,omitempty" nic:"len=15:15,pat=gstin"`
	TransName  string `json:"TransName,omitempty" nic:"len=3:100,text"`
	TransMode  string `json:"TransMode,omitempty" nic:"len=0:1,empty,enum=1|2|3|4"`
	Distance   int    `json:"Distance" nic:"req,int=0:4000"`
	TransDocNo string `json:"TransDocNo,omitempty" nic:"len=1:15,pat=transdoc"`
	TransDocDt string `json:"TransDocDt,omitempty" nic:"len=10:10,pat=date"`
	VehNo      string `json:"VehNo,omitempty" nic:"len=4:20,pat=alnum"`
	VehType    string `json:"VehType,omitempty" nic:"len=1:1,enum=R|O"`
}

// DocKey is what the IRP treats as one document: a number is unique per seller, FY and type.
type DocKey struct {
	SellerGSTIN string
	FY          string
	DocType     string
	DocNo       string
}
