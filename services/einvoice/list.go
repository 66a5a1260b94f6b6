package einvoice

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Page sizes of ListIrns.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageSize is the page size a list request asks for (defaultPageSize for 0), or 0 when it
// is out of range (pageSizeRule says why).
func pageSize(n int32) int {
	switch {
	case n == 0:
		return defaultPageSize
	case n < 0 || n > maxPageSize:
		return 0
	}
	return int(n)
}

func pageSizeRule(n int32) string {
	return fmt.Sprintf("page_size must be from 1 to %d (or 0 for %d), not %d", maxPageSize, defaultPageSize, n)
}

// listQuery is a ListIrns request once checked.
type listQuery struct {
	gstin, from, to string // from and to bound ack_dt ("" when open)
	states          []string
	buyer, docType  string // "" when any
	openSince       string // cancellable: ack_dt at or after this ("" when not asked)
	size            int
	after           *pageToken
	filter          string // what a page token is bound to
}

// pageToken is where a page ended: the last row's AckDt and IRN (rows are ordered by
// both, newest first), and the filters it was listed with.
type pageToken struct {
	AckDt  string `json:"a"`
	IRN    string `json:"i"`
	Filter string `json:"f"`
}

// ListIrns lists a seller's stored registrations, newest AckDt first, a page at a time.
// Documents never registered (pending or refused) are not listed: ListUnregisteredDocuments
// lists those.
func (s *Service) ListIrns(ctx context.Context, req *einvoicev1.ListIrnsRequest) (*einvoicev1.ListIrnsResponse, error) {
	q, err := checkList(req, s.now())
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, q.gstin); err != nil {
		return nil, err
	}
	recs, err := s.docs.list(ctx, q)
	if err != nil {
		return nil, s.storeFailed(ctx, fmt.Errorf("list registrations: %w", err), "")
	}
	res := &einvoicev1.ListIrnsResponse{}
	if len(recs) > q.size { // one more than asked: there is a next page
		recs = recs[:q.size]
		last := recs[len(recs)-1]
		res.NextPageToken = encodePageToken(pageToken{AckDt: last.AckDt, IRN: last.IRN, Filter: q.filter})
	}
	now := s.now()
	for _, r := range recs {
		status := "ACT"
		if r.State == stateCancelled {
			status = "CNL"
		}
		res.Irns = append(res.Irns, &einvoicev1.IrnEntry{
			Irn: r.IRN, AckNo: r.AckNo, AckDt: r.AckDt, Status: status,
			DocTyp: r.Key.DocType, DocNo: r.Key.DocNo, DocDt: r.DocDate, BuyerGstin: r.BuyerGSTIN, TotInvVal: r.TotInvVal,
			CancelDate: r.CancelDate, Irp: r.IRP, EwbNo: r.EwbNo, Unverified: r.unverified(), CancelBy: cancelBy(r, now),
		})
	}
	return res, nil
}

// cancelBy is the end of r's cancel window (cancelDeadline) while CancelIrn would still
// take it at now by time, else "".
func cancelBy(r *record, now time.Time) string {
	if r.State == stateCancelled {
		return ""
	}
	end, err := cancelDeadline(r.AckDt)
	if err != nil || now.After(end) {
		return ""
	}
	return end.Format(nicTime)
}

// checkList checks every field of req at once; now places the cancel windows.
func checkList(req *einvoicev1.ListIrnsRequest, now time.Time) (*listQuery, error) {
	q := &listQuery{gstin: strings.ToUpper(strings.TrimSpace(req.GetGstin()))}
	var vs []platform.FieldViolation
	bad := func(field, reason, msg string) {
		vs = append(vs, platform.FieldViolation{Field: field, Reason: reason, Description: msg})
	}
	if q.gstin == "" {
		bad("gstin", doc.ReasonRequired, "gstin is required")
	}
	var from, to time.Time
	for _, d := range []struct {
		field, value string
		t            *time.Time
		bound        *string
		clock        string
	}{
		{"from_date", req.GetFromDate(), &from, &q.from, " 00:00:00"},
		{"to_date", req.GetToDate(), &to, &q.to, " 23:59:59"},
	} {
		if d.value == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.value)
		if err != nil {
			bad(d.field, doc.ReasonInvalidDate, fmt.Sprintf("%s must be a date written yyyy-MM-dd, not %q", d.field, d.value))
			continue
		}
		*d.t, *d.bound = t, d.value+d.clock
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		bad("to_date", doc.ReasonDateOrder, fmt.Sprintf("to_date %s is before from_date %s", req.GetToDate(), req.GetFromDate()))
	}
	switch strings.ToUpper(strings.TrimSpace(req.GetStatus())) {
	case "":
		q.states = []string{stateActive, stateUnverified, stateCancelled}
	case "ACT":
		q.states = []string{stateActive, stateUnverified}
	case "CNL":
		q.states = []string{stateCancelled}
		if req.GetCancellable() {
			bad("cancellable", reasonOneOf, "cancellable lists active registrations only: leave status out, or send ACT")
		}
	default:
		bad("status", doc.ReasonInvalidEnum, fmt.Sprintf("status must be ACT or CNL (or left out for both), not %q", req.GetStatus()))
	}
	if b := strings.ToUpper(strings.TrimSpace(req.GetBuyerGstin())); b != "" {
		// The shape only: a stored buyer passed the check digit rule of its day.
		if err := doc.ValidateGSTIN(b, true); b != "URP" && errors.Is(err, doc.ErrGSTINFormat) {
			bad("buyer_gstin", doc.ReasonInvalidFormat, fmt.Sprintf("buyer_gstin must be a GSTIN (2 digits and 13 upper-case letters or digits) or URP, not %q", req.GetBuyerGstin()))
		}
		q.buyer = b
	}
	switch t := strings.ToUpper(strings.TrimSpace(req.GetDocType())); t {
	case "", "INV", "CRN", "DBN":
		q.docType = t
	default:
		bad("doc_type", doc.ReasonInvalidEnum, fmt.Sprintf("doc_type must be INV, CRN or DBN (or left out for all), not %q", req.GetDocType()))
	}
	if q.size = pageSize(req.GetPageSize()); q.size == 0 {
		bad("page_size", doc.ReasonOutOfRange, pageSizeRule(req.GetPageSize()))
	}
	if req.GetCancellable() {
		// AckDt >= now - 24 h is the window cancelDeadline keeps open; AckDt sorts as text.
		q.states = []string{stateActive, stateUnverified}
		q.openSince = now.Add(-cancelWindow).In(irpclient.IST).Format(nicTime)
	}
	// The cancel window's start moves with the clock, so the token binds the flag, not it.
	sum := sha256.Sum256([]byte(strings.Join(append([]string{
		q.gstin, q.from, q.to, q.buyer, q.docType,
		strconv.FormatBool(req.GetCancellable()),
	}, q.states...), "\x00")))
	q.filter = hex.EncodeToString(sum[:8])
	if t := req.GetPageToken(); t != "" {
		pt, ok := decodePageToken(t)
		switch {
		case !ok:
			bad("page_token", doc.ReasonInvalidFormat, "page_token is not a next_page_token of ListIrns")
		case pt.Filter != q.filter:
			bad("page_token", doc.ReasonInvalidFormat, "page_token was listed with other filters (gstin, from_date, to_date, status, buyer_gstin, doc_type, cancellable); send the same ones")
		default:
			q.after = &pt
		}
	}
	if len(vs) > 0 {
		return nil, platform.Status(codes.InvalidArgument, errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST,
			"the list request is invalid", nil, vs...).Err()
	}
	return q, nil
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (pageToken, bool) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.AckDt == "" || t.IRN == "" || t.Filter == "" {
		return pageToken{}, false
	}
	return t, true
}
