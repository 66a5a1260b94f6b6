package irpclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// wireEnvelope is the response envelope of every IRP API. encoding/json
// matches keys case-insensitively, which also covers the e-way-bill system's
// lower-case status/data/error.
type wireEnvelope struct {
	Status       json.RawMessage `json:"Status"`
	Data         json.RawMessage `json:"Data"`
	ErrorDetails json.RawMessage `json:"ErrorDetails"`
	InfoDtls     json.RawMessage `json:"InfoDtls"`
	Error        json.RawMessage `json:"error"` // e-way-bill system: base64 {"errorCodes":"312,"}
	Rek          string          `json:"rek"`
	Hmac         string          `json:"hmac"`
}

// envelope is a decoded response envelope before Data is decrypted.
type envelope struct {
	OK      bool
	Data    json.RawMessage // raw JSON value: a base64 string, an object (auth) or null
	Details []ErrorDetail
	Info    []Info
	Rek     string
	Hmac    string
}

var errNoStatus = errors.New("response has no Status")

// decodeEnvelope parses an IRP answer in every shape observed: Status as a
// number, string or boolean; ErrorDetails and InfoDtls as arrays, single
// objects, JSON-in-strings or base64. It never panics on hostile input.
func decodeEnvelope(body []byte) (*envelope, error) {
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("response is not a JSON envelope: %w", err)
	}
	ok, known := parseStatus(w.Status)
	env := &envelope{OK: ok, Data: w.Data, Rek: w.Rek, Hmac: w.Hmac}
	env.Details = parseErrorDetails(w.ErrorDetails)
	if len(env.Details) == 0 && !isNull(w.Error) {
		env.Details = parseErrorDetails(w.Error)
	}
	env.Info = parseInfos(w.InfoDtls)
	if !known {
		// No Status: an answer carrying errors is a failure; one carrying only
		// data is not something we can trust either way.
		if len(env.Details) > 0 {
			return env, nil
		}
		return nil, errNoStatus
	}
	return env, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func parseStatus(raw json.RawMessage) (ok, known bool) {
	if isNull(raw) {
		return false, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, false
	}
	switch s := v.(type) {
	case float64:
		return s == 1, true
	case bool:
		return s, true
	case string:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "true", "success":
			return true, true
		case "0", "false", "failure", "failed":
			return false, true
		}
	}
	return false, false
}

// flexString accepts a JSON string, number or boolean.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{' || b[0] == '[':
		*f = flexString(b)
	default:
		*f = flexString(b)
	}
	return nil
}

// flexInt accepts a JSON number or a string of digits.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || fl != fl || fl > 9.2e18 || fl < -9.2e18 {
		return fmt.Errorf("not an integer: %.40q", s)
	}
	*f = flexInt(int64(fl))
	return nil
}

type wireErrorDetail struct {
	ErrorCode    flexString `json:"ErrorCode"`
	ErrorMessage flexString `json:"ErrorMessage"`
	ErrorCodes   flexString `json:"errorCodes"` // e-way-bill system
}

// unwrapStringJSON turns a JSON string whose content is JSON (or base64 of
// JSON) into that JSON, and leaves anything else as is.
func unwrapStringJSON(raw json.RawMessage, depth int) (json.RawMessage, string) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '"' {
		return t, ""
	}
	var s string
	if json.Unmarshal(t, &s) != nil {
		return nil, ""
	}
	st := strings.TrimSpace(s)
	if depth > 0 && (strings.HasPrefix(st, "{") || strings.HasPrefix(st, "[")) && json.Valid([]byte(st)) {
		return unwrapStringJSON(json.RawMessage(st), depth-1)
	}
	if depth > 0 && st != "" {
		if dec, err := base64.StdEncoding.DecodeString(st); err == nil {
			d := bytes.TrimSpace(dec)
			if len(d) > 0 && (d[0] == '{' || d[0] == '[') && json.Valid(d) {
				return unwrapStringJSON(d, depth-1)
			}
		}
	}
	return nil, s
}

func parseErrorDetails(raw json.RawMessage) []ErrorDetail {
	if isNull(raw) {
		return nil
	}
	j, text := unwrapStringJSON(raw, 2)
	if j == nil {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		return []ErrorDetail{{Message: text}}
	}
	var items []wireErrorDetail
	switch j[0] {
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(j, &arr) != nil {
			return nil
		}
		for _, a := range arr {
			var w wireErrorDetail
			if json.Unmarshal(a, &w) == nil {
				items = append(items, w)
			} else if _, s := unwrapStringJSON(a, 0); s != "" {
				items = append(items, wireErrorDetail{ErrorMessage: flexString(s)})
			}
		}
	case '{':
		var w wireErrorDetail
		if json.Unmarshal(j, &w) != nil {
			return nil
		}
		items = append(items, w)
	default:
		return []ErrorDetail{{Message: string(j)}}
	}
	var out []ErrorDetail
	for _, w := range items {
		if w.ErrorCodes != "" {
			for _, c := range strings.Split(string(w.ErrorCodes), ",") {
				if c = strings.TrimSpace(c); c != "" {
					out = append(out, ErrorDetail{Code: c, Message: ewbErrorMessages[c]})
				}
			}
			continue
		}
		if w.ErrorCode == "" && w.ErrorMessage == "" {
			continue
		}
		out = append(out, ErrorDetail{Code: strings.TrimSpace(string(w.ErrorCode)), Message: string(w.ErrorMessage)})
	}
	return out
}

type wireInfo struct {
	InfCd flexString      `json:"InfCd"`
	Desc  json.RawMessage `json:"Desc"`
}

type wireDupIRN struct {
	AckNo flexInt    `json:"AckNo"`
	AckDt flexString `json:"AckDt"`
	Irn   flexString `json:"Irn"`
}

func parseInfos(raw json.RawMessage) []Info {
	if isNull(raw) {
		return nil
	}
	j, _ := unwrapStringJSON(raw, 2)
	if len(j) == 0 {
		return nil
	}
	var entries []json.RawMessage
	switch j[0] {
	case '[':
		if json.Unmarshal(j, &entries) != nil {
			return nil
		}
	case '{':
		entries = []json.RawMessage{j}
	default:
		return nil
	}
	var out []Info
	for _, e := range entries {
		var w wireInfo
		if json.Unmarshal(e, &w) != nil {
			continue
		}
		out = append(out, parseInfo(strings.ToUpper(strings.TrimSpace(string(w.InfCd))), w.Desc))
	}
	return out
}

func parseInfo(code string, desc json.RawMessage) Info {
	in := Info{Code: code, Raw: append([]byte(nil), bytes.TrimSpace(desc)...)}
	j, text := unwrapStringJSON(desc, 1)
	switch code {
	case InfoDuplicateIRN:
		if len(j) > 0 && j[0] == '{' {
			var d wireDupIRN
			if json.Unmarshal(j, &d) == nil {
				in.DupIRN = &DupIRN{AckNo: int64(d.AckNo), AckDt: string(d.AckDt), Irn: string(d.Irn)}
				return in
			}
		}
	case InfoEWBError:
		if len(j) > 0 {
			in.EWBErrors = parseErrorDetails(j)
			if len(in.EWBErrors) > 0 {
				return in
			}
		}
	}
	if text != "" {
		in.Text = text
	} else if len(j) > 0 {
		in.Text = string(j)
	}
	return in
}

// ewbErrorMessages names the e-way-bill system codes the cancel flow meets
// (the system sends codes only).
var ewbErrorMessages = map[string]string{
	"105": "Invalid Token",
	"106": "Token Expired",
	"109": "Decryption of data failed",
	"110": "Invalid Client-ID/Client-Secret",
	"238": "Invalid auth token",
	"240": "Could not generate eway bill, pls contact helpdesk",
	"307": "Invalid reason",
	"308": "Invalid remarks",
	"312": "This eway bill is either not generated by you or cancelled",
	"315": "Validity period lapsed, you cannot cancel this eway bill",
	"316": "Eway bill is already verified, you cannot cancel it",
	"317": "Could not cancel eway bill, please contact helpdesk",
	"444": "This e-way bill cannot be cancelled as it is generated from NIC1",
	"445": "This e-way bill cannot be cancelled as it is generated from NIC2",
}
