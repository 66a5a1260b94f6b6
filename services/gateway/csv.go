package gateway

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
)

// csvRoute is ListIrns as one CSV file: every registration the filters select, not a page.
const csvRoute = "/v1/einvoice/sellers/{gstin}/irns.csv"

// csvPageSize is how many entries each ListIrns call behind the CSV asks for.
var csvPageSize int32 = 1000

// csvHeader names the CSV's columns: IrnEntry's JSON names, in its field order.
var csvHeader = []string{
	"Irn", "AckNo", "AckDt", "Status", "DocTyp", "DocNo", "DocDt", "BuyerGstin",
	"TotInvVal", "CancelDate", "Irp", "EwbNo", "unverified", "cancelBy",
}

// irnsCSV answers GET csvRoute: ListIrns's filters (not pageSize or pageToken), and every
// matching registration as CSV, newest AckDt first, for a spreadsheet or GSTR-1
// reconciliation. It walks ListIrns's pages with the caller's credentials, so the rules
// (the caller must hold the GSTIN, every bad filter named) are ListIrns's. An error before
// the first row is the usual envelope; one after (the store failing mid-file) aborts the
// response, so a cut file never reads as complete.
func irnsCSV(client einvoicev1.EInvoiceServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nameRoute(r, csvRoute)
		gstin := r.PathValue("gstin")
		var vs []fieldViolation
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			vs = append(vs, fieldViolation{"", "INVALID_FORMAT", "the query string is not valid URL encoding: " + err.Error()})
		}
		for key := range q {
			if p := lowerCamel(key); p == "pageSize" || p == "pageToken" {
				vs = append(vs, fieldViolation{key, "UNKNOWN_FIELD", key + " is not a query parameter of GET " + csvRoute +
					": the file holds every page"})
				q.Del(key)
			}
		}
		vs = append(vs, queryViolations(http.MethodGet, "/v1/einvoice/sellers/"+url.PathEscape(gstin)+"/irns", q)...)
		req := &einvoicev1.ListIrnsRequest{}
		if len(vs) == 0 {
			if err := runtime.PopulateQueryParameters(req, q, &utilities.DoubleArray{}); err != nil {
				vs = append(vs, fieldViolation{"", "INVALID_FORMAT", err.Error()})
			}
		}
		if len(vs) > 0 {
			writeQueryViolations(w, r, "the query string is invalid", vs)
			return
		}
		req.Gstin, req.PageSize = gstin, csvPageSize

		// The headers grpc-gateway's routes pass on (forwardedHeaders), and the request's id
		// as those routes name it.
		md := metadata.MD{}
		for h := range forwardedHeaders {
			if v := r.Header.Values(h); len(v) > 0 {
				md.Set(h, v...)
			}
		}
		if len(md.Get("x-request-id")) == 0 {
			md.Set("x-request-id", requestIDFrom(r))
		}
		ctx := metadata.NewOutgoingContext(r.Context(), md)
		var out *csv.Writer
		for {
			res, err := client.ListIrns(ctx, req)
			if err != nil {
				if out == nil {
					errorHandler(ctx, nil, nil, w, r, err)
					return
				}
				panic(http.ErrAbortHandler) // net/http cuts the connection: the file is not complete
			}
			if out == nil {
				name := "irns-" + strings.ToUpper(gstin)
				for _, d := range []string{req.GetFromDate(), req.GetToDate()} {
					if d != "" {
						name += "-" + d
					}
				}
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
				w.WriteHeader(http.StatusOK)
				if r.Method == http.MethodHead {
					return
				}
				out = csv.NewWriter(w)
				_ = out.Write(csvHeader)
			}
			for _, e := range res.GetIrns() {
				_ = out.Write([]string{
					e.GetIrn(), strconv.FormatInt(e.GetAckNo(), 10), e.GetAckDt(), e.GetStatus(),
					e.GetDocTyp(), e.GetDocNo(), e.GetDocDt(), e.GetBuyerGstin(), strconv.FormatFloat(e.GetTotInvVal(), 'f', 2, 64),
					e.GetCancelDate(), e.GetIrp(), formatEwbNo(e.GetEwbNo()), strconv.FormatBool(e.GetUnverified()), e.GetCancelBy(),
				})
			}
			out.Flush()
			if out.Error() != nil || res.GetNextPageToken() == "" {
				return // a write error is the caller gone
			}
			_ = http.NewResponseController(w).Flush() // each page on its way while the next is read
			req.PageToken = res.GetNextPageToken()
		}
	})
}

func formatEwbNo(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// nameRoute names a route served outside grpc-gateway by its template, as routeLabel does.
func nameRoute(r *http.Request, template string) {
	route := semconv.HTTPRoute(template)
	if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
		l.Add(route)
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetName(r.Method + " " + template)
		span.SetAttributes(route)
	}
}
