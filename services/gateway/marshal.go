package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// nicJSON is the gateway's JSON marshaler: grpc-gateway's JSONPb, except that a
// REST body mapped onto a bytes field (GenerateIrnRequest.invoice) is that
// field's value as sent (the NIC JSON reaches the service byte for byte,
// neither base64 nor parsed twice), and that answers are written in one pass.
type nicJSON struct{ *runtime.JSONPb }

func (m nicJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		raw, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if b, ok := v.(*[]byte); ok {
			if len(raw) == 0 {
				return io.EOF
			}
			*b = raw
			return nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return io.EOF
		}
		p, ok := v.(proto.Message)
		if !ok {
			return m.JSONPb.Unmarshal(raw, v)
		}
		// The whole body, unlike JSONPb's stream decoder, which reads the first value and
		// ignores whatever follows it (`{"Irn":"…"}}` went through).
		if err := m.UnmarshalOptions.Unmarshal(raw, p); err != nil {
			return explainDecode(raw, p, err)
		}
		return nil
	})
}

// explainDecode turns protojson's "syntax error (line 1:27): unexpected token "29AWG…"",
// which it gives for a value of the wrong shape (a string where a list or an object goes),
// into "invalid value for list field gstins", as it words a scalar of the wrong type, when
// the key before the position is a field of p. decodeViolation reads both.
func explainDecode(raw []byte, p proto.Message, err error) error {
	msg := err.Error()
	_, rest, ok := strings.Cut(msg, "syntax error (line ")
	if !ok {
		return err
	}
	pos, tok, ok := strings.Cut(rest, "): unexpected token ")
	if !ok {
		return err
	}
	ls, cs, _ := strings.Cut(pos, ":")
	line, err1 := strconv.Atoi(ls)
	col, err2 := strconv.Atoi(cs)
	if err1 != nil || err2 != nil {
		return err
	}
	key := keyBefore(raw, line, col)
	fields := p.ProtoReflect().Descriptor().Fields()
	fd := fields.ByJSONName(key)
	if fd == nil {
		fd = fields.ByName(protoreflect.Name(key))
	}
	if fd == nil {
		return err
	}
	kind := fd.Kind().String()
	switch {
	case fd.IsList():
		kind = "list"
	case fd.IsMap(), fd.Message() != nil:
		kind = "object"
	}
	return fmt.Errorf("(line %d:%d): invalid value for %s field %s: %s", line, col, kind, key, tok)
}

var keyColon = regexp.MustCompile(`"([^"\\]+)"\s*:\s*$`)

// keyBefore returns the JSON key whose value starts at line:col (1-based, columns in runes,
// as protojson counts them), or "".
func keyBefore(raw []byte, line, col int) string {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(raw[off:], '\n')
		if i < 0 {
			return ""
		}
		off += i + 1
	}
	for ; col > 1 && off < len(raw); col-- {
		_, n := utf8.DecodeRune(raw[off:])
		off += n
	}
	m := keyColon.FindSubmatch(raw[:off])
	if m == nil {
		return ""
	}
	return string(m[1])
}

// ContentType is the file's own type for an answer whose body is a google.api.HttpBody
// field (response_body: "file", the PDF and the QR image): grpc-gateway asks the type of
// the whole answer, which runtime.HTTPBodyMarshaler does not see through.
func (m nicJSON) ContentType(v any) string {
	if rb, ok := v.(interface{ XXX_ResponseBody() any }); ok {
		if hb, ok := rb.XXX_ResponseBody().(*httpbody.HttpBody); ok && hb.GetContentType() != "" {
			return hb.GetContentType()
		}
	}
	return m.JSONPb.ContentType(v)
}

// Marshal writes a proto message with protojson straight into a buffer sized for it (the
// embedded JSONPb lets protojson grow its own buffer, then copies it into another). An
// e-invoice answer is mostly its 4-5 KB of signed JWS, so this saves most of its garbage.
func (m nicJSON) Marshal(v any) ([]byte, error) {
	if a, ok := v.(v3Answer); ok {
		return m.marshalV3(a)
	}
	if p, ok := v.(proto.Message); ok && m.Indent == "" {
		return m.MarshalOptions.MarshalAppend(make([]byte, 0, proto.Size(p)+proto.Size(p)/8+256), p)
	}
	return m.JSONPb.Marshal(v)
}

// openAPI is the generated OpenAPI document with every body parameter of a
// bytes field (which protoc-gen-openapiv2 describes as a base64 string)
// described as what nicJSON takes: a JSON object.
func openAPI(generated []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, fmt.Errorf("gateway: openapi: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range paths {
		ops, _ := p.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			params, _ := o["parameters"].([]any)
			for _, prm := range params {
				prm, _ := prm.(map[string]any)
				schema, _ := prm["schema"].(map[string]any)
				if prm["in"] == "body" && schema["type"] == "string" && schema["format"] == "byte" {
					prm["schema"] = map[string]any{"type": "object"}
				}
			}
		}
	}
	return json.Marshal(doc)
}
