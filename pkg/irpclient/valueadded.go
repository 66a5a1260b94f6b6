package irpclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The value-added APIs below are served by irpgate's sandbox under
// /sandbox/v1/ (NIC has no such routes); they use the same session,
// headers and SEK encryption as the core APIs, except Verify, which is
// public plain JSON.
const (
	pathEnablement = "/sandbox/v1/einvoice/status/"
	pathBuyer      = "/sandbox/v1/einvoice/buyer/"
	pathSearch     = "/sandbox/v1/gstin/search"
	pathVerify     = "/sandbox/v1/verify"
)

// Enablement says whether a GSTIN is enabled for e-invoicing.
type Enablement struct {
	Gstin          string
	EInvoiceStatus string // Y or N
	Status         string // GSTIN status: ACT, INA, CNL, PRO
	LegalName      string
}

// Enabled reports EInvoiceStatus Y.
func (e *Enablement) Enabled() bool { return strings.EqualFold(e.EInvoiceStatus, "Y") }

// BuyerEInvoice is one e-invoice generated against a buyer GSTIN.
type BuyerEInvoice struct {
	Irn         string
	AckNo       int64
	AckDt       string
	SellerGstin string
	DocTyp      string
	DocNo       string
	DocDt       string
	TotInvVal   float64
	Status      string
	Irp         string
}

// UnmarshalJSON accepts AckNo as a number or string.
func (b *BuyerEInvoice) UnmarshalJSON(data []byte) error {
	var w struct {
		Irn, AckDt, SellerGstin, DocTyp, DocNo, DocDt, Status, Irp flexString
		AckNo                                                      flexInt
		TotInvVal                                                  float64
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = BuyerEInvoice{
		Irn: string(w.Irn), AckNo: int64(w.AckNo), AckDt: string(w.AckDt), SellerGstin: string(w.SellerGstin),
		DocTyp: string(w.DocTyp), DocNo: string(w.DocNo), DocDt: string(w.DocDt), TotInvVal: w.TotInvVal, Status: string(w.Status), Irp: string(w.Irp),
	}
	return nil
}

// Verification is the answer of the sandbox's signed-invoice/QR verification.
type Verification struct {
	Valid      bool
	Error      string
	Kid        string
	Issuer     string
	Irn        string
	Data       json.RawMessage // the signed JSON document
	Registered bool
	Status     string // ACT, CNL when registered
	Irp        string // where it was generated
}

// EInvoiceEnablement reads whether target is enabled for e-invoicing.
func (c *Client) EInvoiceEnablement(ctx context.Context, gstin, target string, opts ...CallOption) (*Enablement, error) {
	r := c.coreRequest("EInvoiceEnablement", http.MethodGet, pathEnablement+url.PathEscape(target), gstin, applyOptions(opts), true)
	var out struct{ Gstin, EInvoiceStatus, Status, LegalName flexString }
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &Enablement{Gstin: string(out.Gstin), EInvoiceStatus: string(out.EInvoiceStatus), Status: string(out.Status), LegalName: string(out.LegalName)}, nil
}

// BuyerEInvoices lists the e-invoices generated against the caller's own
// GSTIN as buyer, by document date (dd/MM/yyyy, either bound optional).
func (c *Client) BuyerEInvoices(ctx context.Context, gstin, from, to string, opts ...CallOption) ([]BuyerEInvoice, error) {
	r := c.coreRequest("BuyerEInvoices", http.MethodGet, pathBuyer+url.PathEscape(gstin), gstin, applyOptions(opts), true)
	r.query = url.Values{}
	if from != "" {
		r.query.Set("from", from)
	}
	if to != "" {
		r.query.Set("to", to)
	}
	var out []BuyerEInvoice
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SearchGSTIN finds taxpayers by PAN or by (part of) legal or trade name.
func (c *Client) SearchGSTIN(ctx context.Context, gstin, pan, name string, opts ...CallOption) ([]GSTINDetails, error) {
	r := c.coreRequest("SearchGSTIN", http.MethodGet, pathSearch, gstin, applyOptions(opts), true)
	r.query = url.Values{}
	if pan != "" {
		r.query.Set("pan", pan)
	}
	if name != "" {
		r.query.Set("name", name)
	}
	var out []GSTINDetails
	if _, err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// VerifySigned asks the IRP (sandbox) whether a SignedInvoice or
// SignedQRCode carries its signature, and whether the IRN is registered. An
// invalid signature is a Verification with Valid false, not an error.
func (c *Client) VerifySigned(ctx context.Context, irp, jws string) (*Verification, error) {
	if irp == "" {
		irp = c.cfg.DefaultIRP
	}
	body, err := json.Marshal(map[string]string{"Jws": jws})
	if err != nil {
		return nil, err
	}
	r := &request{
		api: "VerifySigned", method: http.MethodPost, path: pathVerify, irp: strings.ToUpper(irp),
		kind: kindRaw, idempotent: true, payload: body,
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var v Verification
	if err := json.Unmarshal(resp.data, &v); err != nil {
		return nil, c.unreadable(r, resp, fmt.Errorf("decode verification: %w", err))
	}
	if resp.httpStatus != http.StatusOK && !v.Valid {
		if v.Error == "" {
			v.Error = http.StatusText(resp.httpStatus)
		}
		return nil, &Error{API: r.api, IRP: r.irp, HTTPStatus: resp.httpStatus, Details: []ErrorDetail{{Message: v.Error}}}
	}
	return &v, nil
}
