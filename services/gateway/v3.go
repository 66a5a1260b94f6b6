package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
)

// v3Key marks a request whose caller sent `X-Response-Format: v3`.
type v3Key struct{}

func wantsV3(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("X-Response-Format"), "v3")
}

// v3Answer is a successful answer in the v3 shape: `status` "1", the answer as `data`, the
// IRP's InfoDtls (when the answer has any) as `info`, and the request id in
// `additionalInfo`, as an error in that shape carries them.
type v3Answer struct {
	data      proto.Message
	requestID string
}

// v3Rewriter wraps successful answers of callers that asked for the v3 shape. Answers that
// are a file (a PDF, a QR image) stay as they are.
func v3Rewriter(ctx context.Context, resp proto.Message) (any, error) {
	if v3, _ := ctx.Value(v3Key{}).(bool); !v3 {
		return resp, nil
	}
	if _, file := resp.(interface{ XXX_ResponseBody() any }); file {
		return resp, nil
	}
	id, _ := ctx.Value(ridKey{}).(string)
	return v3Answer{data: resp, requestID: id}, nil
}

// marshalV3 writes a in the v3 shape, its fields in the documented order.
func (m nicJSON) marshalV3(a v3Answer) ([]byte, error) {
	data, err := m.Marshal(a.data)
	if err != nil {
		return nil, err
	}
	info := []byte("null")
	if d, ok := a.data.(interface{ GetDetails() *einvoicev1.IrnDetails }); ok && len(d.GetDetails().GetInfoDtls()) > 0 {
		info = []byte{'['}
		for i, e := range d.GetDetails().GetInfoDtls() {
			if i > 0 {
				info = append(info, ',')
			}
			if info, err = m.MarshalOptions.MarshalAppend(info, e); err != nil {
				return nil, err
			}
		}
		info = append(info, ']')
	}
	id, _ := json.Marshal(a.requestID)
	out := make([]byte, 0, len(data)+len(info)+len(id)+96)
	out = append(out, `{"status":"1","data":`...)
	out = append(out, data...)
	out = append(out, `,"error":null,"info":`...)
	out = append(out, info...)
	out = append(out, `,"additionalInfo":{"requestId":`...)
	out = append(out, id...)
	out = append(out, `},"alert":null}`...)
	return out, nil
}
