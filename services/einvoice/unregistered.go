package einvoice

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
)

// unregisteredQuery is a ListUnregisteredDocuments request once checked.
type unregisteredQuery struct {
	gstin  string
	states []string // statePending, stateFailed: constants, written into the SQL
	size   int
	after  *unregisteredToken
	filter string
}

// unregisteredToken is where a page ended: the last row's updated_at and document (rows
// are ordered by both, newest first), and the filter it was listed with.
type unregisteredToken struct {
	UpdatedAt string `json:"u"`
	FY        string `json:"y"`
	DocType   string `json:"t"`
	DocNo     string `json:"n"`
	Filter    string `json:"f"`
}

// ListUnregisteredDocuments lists a seller's documents stored but not registered (FAILED,
// PENDING), the most recently written first, a page at a time.
func (s *Service) ListUnregisteredDocuments(ctx context.Context, req *einvoicev1.ListUnregisteredDocumentsRequest) (*einvoicev1.ListUnregisteredDocumentsResponse, error) {
	q, err := checkUnregistered(req)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, q.gstin); err != nil {
		return nil, err
	}
	recs, err := s.docs.unregistered(ctx, q)
	if err != nil {
		return nil, s.storeFailed(ctx, fmt.Errorf("list unregistered documents: %w", err), "")
	}
	res := &einvoicev1.ListUnregisteredDocumentsResponse{}
	if len(recs) > q.size { // one more than asked: there is a next page
		recs = recs[:q.size]
		last := recs[len(recs)-1]
		b, _ := json.Marshal(unregisteredToken{ // strings only: cannot fail
			UpdatedAt: last.UpdatedAt, FY: last.Key.FY, DocType: last.Key.DocType, DocNo: last.Key.DocNo, Filter: q.filter,
		})
		res.NextPageToken = base64.RawURLEncoding.EncodeToString(b)
	}
	for _, r := range recs {
		res.Documents = append(res.Documents, &einvoicev1.UnregisteredDocument{
			DocTyp: r.Key.DocType, DocNo: r.Key.DocNo, DocDt: r.DocDate, BuyerGstin: r.BuyerGSTIN, TotInvVal: r.TotInvVal,
			Irn: r.IRN, Irp: r.IRP, State: r.State, LastError: r.LastError, UpdatedAt: r.UpdatedAt,
		})
	}
	return res, nil
}

// checkUnregistered checks every field of req at once.
func checkUnregistered(req *einvoicev1.ListUnregisteredDocumentsRequest) (*unregisteredQuery, error) {
	q := &unregisteredQuery{gstin: strings.ToUpper(strings.TrimSpace(req.GetGstin()))}
	var vs []platform.FieldViolation
	bad := func(field, reason, msg string) {
		vs = append(vs, platform.FieldViolation{Field: field, Reason: reason, Description: msg})
	}
	if q.gstin == "" {
		bad("gstin", doc.ReasonRequired, "gstin is required")
	}
	switch st := strings.ToUpper(strings.TrimSpace(req.GetState())); st {
	case "":
		q.states = []string{stateFailed, statePending}
	case stateFailed, statePending:
		q.states = []string{st}
	default:
		bad("state", doc.ReasonInvalidEnum, fmt.Sprintf("state must be FAILED or PENDING (or left out for both), not %q", req.GetState()))
	}
	if q.size = pageSize(req.GetPageSize()); q.size == 0 {
		bad("page_size", doc.ReasonOutOfRange, pageSizeRule(req.GetPageSize()))
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{q.gstin}, q.states...), "\x00")))
	q.filter = hex.EncodeToString(sum[:8])
	if t := req.GetPageToken(); t != "" {
		var pt unregisteredToken
		b, err := base64.RawURLEncoding.DecodeString(t)
		switch {
		case err != nil || json.Unmarshal(b, &pt) != nil || pt.UpdatedAt == "" || pt.DocNo == "" || pt.Filter == "":
			bad("page_token", doc.ReasonInvalidFormat, "page_token is not a next_page_token of ListUnregisteredDocuments")
		case pt.Filter != q.filter:
			bad("page_token", doc.ReasonInvalidFormat, "page_token was listed with other filters (gstin, state); send the same ones")
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
