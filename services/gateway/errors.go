package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
)

// The error envelope follows the enriched API that ERP integrations already
// parse (DESIGN.md §7):
//
//	400 {"error":{"message":"err-invalid-request-body","type":"ClientRequest","args":{"errorLocation":"TranDtls -> SupTyp is invalid", ...}}}
//	502 {"error":{"message":"err-irp-returned-error","type":"IrpError","args":{"details":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]}}}
//
// A caller sending `X-Response-Format: v3` gets the v3 shape instead:
//
//	{"status":"0","data":null,"error":{...same object...},"info":[...],"additionalInfo":{...},"alert":null}

type envelopeError struct {
	Message string         `json:"message"`
	Type    string         `json:"type"`
	Args    map[string]any `json:"args,omitempty"`
}

func errorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
		if v := md.HeaderMD.Get("x-request-id"); len(v) > 0 {
			w.Header().Set("X-Request-Id", v[0])
		}
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 0), 10))
		}
	}
	if bodyTooLarge(r) {
		writeEnvelope(w, r, http.StatusRequestEntityTooLarge, "err-request-too-large", "ClientRequest",
			map[string]any{"limitBytes": MaxBodyBytes})
		return
	}
	httpCode, msg, typ, args, info := translate(st)
	writeEnvelopeInfo(w, r, httpCode, msg, typ, args, info)
}

func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		methodNotAllowed(w, r, allowed(r.URL.Path))
	case http.StatusBadRequest:
		writeEnvelope(w, r, httpStatus, "err-invalid-request-body", "ClientRequest", nil)
	default:
		writeEnvelope(w, r, httpStatus, "err-route-not-found", "ClientRequest", map[string]any{"path": r.URL.Path})
	}
}

// methodNotAllowed answers 405 in the envelope, with Allow listing the methods the path
// takes (when known).
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	if allow != "" {
		w.Header().Set("Allow", allow)
	}
	writeEnvelope(w, r, http.StatusMethodNotAllowed, "err-method-not-allowed", "ClientRequest",
		map[string]any{"method": r.Method, "path": r.URL.Path})
}

// translate maps a gRPC status onto the envelope. Exported behaviour is
// specified by TestTranslate.
func translate(st *status.Status) (httpCode int, msg, typ string, args map[string]any, info any) {
	args = map[string]any{}
	var reason string
	var meta map[string]string
	var violations []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason, meta = d.GetReason(), d.GetMetadata()
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		}
	}
	if reason != "" {
		args["reason"] = reason
	}
	httpCode = runtime.HTTPStatusFromCode(st.Code())
	typ = "ClientRequest"
	switch {
	case st.Code() == codes.InvalidArgument:
		msg = "err-invalid-request-body"
		if len(violations) > 0 {
			locs := make([]string, 0, len(violations))
			list := make([]map[string]string, 0, len(violations))
			for _, v := range violations {
				locs = append(locs, v.GetDescription())
				e := map[string]string{"field": v.GetField(), "message": v.GetDescription(), "reason": v.GetReason()}
				list = append(list, e)
			}
			args["errorLocation"] = strings.Join(locs, "; ")
			args["errors"] = list
		} else if v, ok := decodeViolation(st.Message()); ok {
			// The gateway's own JSON decoding refused the body: name the field as the
			// service's violations do, without protojson's wording.
			args["errorLocation"] = v.Message
			args["errors"] = []map[string]string{{"field": v.Field, "message": v.Message, "reason": v.Reason}}
			args["reason"] = errorsv1.ErrorReason_ERROR_REASON_INVALID_REQUEST.String()
			args["detail"] = "the request body is invalid"
			return httpCode, "err-invalid-request-body", typ, args, info
		} else {
			args["errorLocation"] = st.Message()
		}
	case reason == "ERROR_REASON_IRP_ERROR":
		httpCode, msg, typ = http.StatusBadGateway, "err-irp-returned-error", "IrpError"
		var details any = []any{}
		if raw := meta["irp_error_details"]; raw != "" {
			_ = json.Unmarshal([]byte(raw), &details)
		}
		args["details"] = details
		if raw := meta["irp_info_details"]; raw != "" {
			_ = json.Unmarshal([]byte(raw), &info)
		}
	case reason == "ERROR_REASON_IRP_RATE_LIMITED":
		httpCode, msg, typ = http.StatusTooManyRequests, "err-irp-rate-limited", "IrpError"
	case reason == "ERROR_REASON_IRP_UNAVAILABLE":
		httpCode, msg, typ = http.StatusBadGateway, "err-irp-unavailable", "IrpError"
	case reason == "ERROR_REASON_OUTCOME_UNKNOWN":
		httpCode, msg, typ = http.StatusGatewayTimeout, "err-irp-outcome-unknown", "IrpError"
	case reason == "ERROR_REASON_SIGNATURE_INVALID":
		httpCode, msg, typ = http.StatusBadGateway, "err-irp-signature-invalid", "IrpError"
	case st.Code() == codes.Unauthenticated:
		msg = "err-unauthenticated"
	case st.Code() == codes.PermissionDenied:
		msg = "err-forbidden"
	case st.Code() == codes.NotFound:
		msg = "err-not-found"
	case st.Code() == codes.AlreadyExists || st.Code() == codes.Aborted:
		msg = "err-conflict"
	case st.Code() == codes.FailedPrecondition:
		msg = "err-precondition-failed"
	case st.Code() == codes.Unimplemented:
		msg, typ = "err-not-implemented", "ServerError"
	case st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded:
		msg, typ = "err-service-unavailable", "ServerError"
	default:
		msg, typ = "err-internal", "ServerError"
	}
	if st.Code() != codes.Internal && st.Code() != codes.Unknown {
		args["detail"] = st.Message()
	}
	for k, v := range meta {
		if k == "irp_error_details" || k == "irp_info_details" {
			continue
		}
		args[k] = v
	}
	return httpCode, msg, typ, args, info
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, code int, msg, typ string, args map[string]any) {
	writeEnvelopeInfo(w, r, code, msg, typ, args, nil)
}

// wwwAuthenticate is the challenge of every 401: a bearer token, or an API key in
// X-Api-Key (which the gateway exchanges for one).
const wwwAuthenticate = `Bearer realm="irpgate"`

func writeEnvelopeInfo(w http.ResponseWriter, r *http.Request, code int, msg, typ string, args map[string]any, info any) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate)
	}
	e := envelopeError{Message: msg, Type: typ, Args: args}
	if wantsV3(r) {
		writeJSON(w, code, map[string]any{
			"status": "0", "data": nil, "error": e, "info": info,
			"additionalInfo": map[string]any{"requestId": w.Header().Get("X-Request-Id")}, "alert": nil,
		})
		return
	}
	body := map[string]any{"error": e}
	if info != nil {
		body["info"] = info
	}
	writeJSON(w, code, body)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func statusOf(err error) (*status.Status, bool) { return status.FromError(err) }

// decodeViolation reads a field violation out of protojson's refusal of a REST body: the
// message is `proto: (line 1:84): invalid value for string field CnlRsn: 1` or `proto: syntax
// error (line 1:5): unexpected token }` (protojson varies the space after "proto:" on purpose,
// so only what follows the position is read).
func decodeViolation(msg string) (fieldViolation, bool) {
	i := strings.Index(msg, "(line ")
	if i < 0 {
		if strings.HasPrefix(msg, gzipCorrupt) {
			return fieldViolation{"Content-Encoding", "INVALID_FORMAT", msg}, true
		}
		if strings.HasPrefix(msg, "proto") && strings.HasSuffix(msg, "unexpected EOF") {
			return fieldViolation{"", "INVALID_JSON", "the request is not valid JSON: it ends before its last value does"}, true
		}
		return fieldViolation{}, false
	}
	pos, rest, ok := strings.Cut(msg[i+len("(line "):], "): ")
	if !ok {
		return fieldViolation{}, false
	}
	line, col, _ := strings.Cut(pos, ":")
	where := "at line " + line + ", column " + col
	if strings.Contains(msg[:i], "syntax error") {
		// What protojson says next quotes the token ("unexpected token x", "invalid value x"),
		// which may be a secret sent unquoted: the position is enough.
		return fieldViolation{"", "INVALID_JSON", "the request is not valid JSON " + where}, true
	}
	if f, ok := strings.CutPrefix(rest, "unknown field "); ok {
		f = strings.Trim(f, `"`)
		return fieldViolation{f, "UNKNOWN_FIELD", f + " is not a field of this request"}, true
	}
	if f, ok := strings.CutPrefix(rest, "duplicate field "); ok {
		f = strings.Trim(f, `"`)
		return fieldViolation{f, "DUPLICATE_FIELD", f + " is given more than once"}, true
	}
	if r, ok := strings.CutPrefix(rest, "invalid value for "); ok {
		kind, after, ok1 := strings.Cut(r, " field ")
		name, raw, ok2 := strings.Cut(after, ": ")
		if ok1 && ok2 {
			reason, want := "INVALID_TYPE", "a "+kind
			switch kind {
			case "bool":
				want = "true or false"
			case "int32", "sint32", "sfixed32", "int64", "sint64", "sfixed64":
				want = "an integer"
			case "uint32", "fixed32", "uint64", "fixed64":
				want = "a whole number"
			case "float", "double":
				want = "a number"
			case "bytes":
				want = "base64 text"
			case "list", "object":
				want = map[string]string{"list": "a list", "object": "an object"}[kind]
			case "enum":
				reason, want = "INVALID_ENUM", "one of its allowed values"
			}
			if kind != "enum" { // an enum's value names no secret, and it is the useful part
				raw = jsonKind(raw)
			}
			return fieldViolation{name, reason, name + " must be " + want + ", not " + raw}, true
		}
	}
	return fieldViolation{"", "INVALID_JSON", "the request is invalid " + where}, true
}

// jsonKind names the kind of a JSON token without repeating it: the value may be a password
// or a client secret given the wrong type (`"password": 12345`).
func jsonKind(tok string) string {
	switch {
	case tok == "[":
		return "a list"
	case tok == "{":
		return "an object"
	case tok == "true" || tok == "false":
		return "true or false"
	case tok == "null":
		return "null"
	case strings.HasPrefix(tok, `"`):
		return "a string"
	default:
		return "a number"
	}
}
