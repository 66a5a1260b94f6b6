package gateway

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
)

// A successful answer asked for in the v3 shape carries the answer as data and the IRP's
// InfoDtls as info; one not asked for is left as it is.
func TestV3Answer(t *testing.T) {
	m := nicJSON{&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{}}}
	resp := &einvoicev1.GenerateIrnResponse{Details: &einvoicev1.IrnDetails{
		Irn: "abc", AckNo: 112610000000001,
		InfoDtls: []*einvoicev1.InfoDetail{{InfCd: "EWBERR", Desc: structpb.NewListValue(&structpb.ListValue{
			Values: []*structpb.Value{structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				"ErrorCode": structpb.NewStringValue("4019"),
			}})},
		})}},
	}}

	plain, err := v3Rewriter(context.WithValue(t.Context(), ridKey{}, "r-1"), resp)
	require.NoError(t, err)
	require.Same(t, resp, plain)

	ctx := context.WithValue(context.WithValue(t.Context(), ridKey{}, "r-1"), v3Key{}, true)
	wrapped, err := v3Rewriter(ctx, resp)
	require.NoError(t, err)
	raw, err := m.Marshal(wrapped)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got), "%s", raw)
	require.Equal(t, "1", got["status"])
	require.Equal(t, "abc", got["data"].(map[string]any)["details"].(map[string]any)["Irn"])
	require.Equal(t, []any{map[string]any{"InfCd": "EWBERR", "Desc": []any{map[string]any{"ErrorCode": "4019"}}}}, got["info"])
	require.Equal(t, map[string]any{"requestId": "r-1"}, got["additionalInfo"])
	require.Nil(t, got["error"])
	require.Nil(t, got["alert"])
}
