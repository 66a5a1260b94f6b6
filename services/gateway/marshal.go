package gateway

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// nicJSON is the gateway's JSON marshaler: grpc-gateway's JSONPb, except that a
// REST body mapped onto a bytes field (GenerateIrnRequest.invoice) is that
// field's value as sent (the NIC JSON reaches the service byte for byte,
// neither base64 nor parsed twice), and that answers are written in one pass.
type nicJSON struct{ *runtime.JSONPb }

func (m nicJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		if b, ok := v.(*[]byte); ok {
			raw, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if len(raw) == 0 {
				return io.EOF
			}
			*b = raw
			return nil
		}
		return m.JSONPb.NewDecoder(r).Decode(v)
	})
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
