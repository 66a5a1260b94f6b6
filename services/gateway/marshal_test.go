package gateway

import (
	"io"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/stretchr/testify/require"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
)

// The gateway's decoder reads the whole body: what follows the request's JSON is refused,
// and a value of the wrong shape is worded as one of the wrong type, naming the field.
func TestDecoderReadsTheWholeBody(t *testing.T) {
	m := nicJSON{&runtime.JSONPb{}}
	decode := func(body string, v any) error { return m.NewDecoder(strings.NewReader(body)).Decode(v) }

	var cancel einvoicev1.CancelIrnRequest
	require.NoError(t, decode("{\"Irn\":\"abc\",\n \"CnlRsn\":\"1\"}\n", &cancel))
	require.Equal(t, "abc", cancel.GetIrn())
	require.Equal(t, "1", cancel.GetCnlRsn())
	require.ErrorIs(t, decode(" \n", &cancel), io.EOF, "an empty body is no body")

	for body, want := range map[string]fieldViolation{
		`{"Irn":"abc"}}`:         {"", "INVALID_JSON", "the request is not valid JSON at line 1, column 14"},
		`{"Irn":"abc"} {"a":1}`:  {"", "INVALID_JSON", "the request is not valid JSON at line 1, column 15"},
		`{"Irn":["abc"]}`:        {"Irn", "INVALID_TYPE", "Irn must be a string, not a list"},
		`{"CnlRsn":1}`:           {"CnlRsn", "INVALID_TYPE", "CnlRsn must be a string, not a number"},
		`{"Irn":"abc",`:          {"", "INVALID_JSON", "the request is not valid JSON: it ends before its last value does"},
		`{"Irn":"a","irn":"b"}`:  {"irn", "DUPLICATE_FIELD", "irn is given more than once"},
		`{"Irn":"a","Reason":1}`: {"Reason", "UNKNOWN_FIELD", "Reason is not a field of this request"},
	} {
		err := decode(body, &einvoicev1.CancelIrnRequest{})
		require.Error(t, err, body)
		got, ok := decodeViolation(err.Error())
		require.True(t, ok, "%s: %v", body, err)
		require.Equal(t, want, got, body)
	}

	for body, want := range map[string]fieldViolation{
		`{"tenant":"acme","gstins":"29AWGPV7107B1Z1"}`: {"gstins", "INVALID_TYPE", "gstins must be a list, not a string"},
		"{\n  \"tenant\": {\"x\":1}}":                  {"tenant", "INVALID_TYPE", "tenant must be a string, not an object"},
		`{"tenant":"ünïcode","admin":"yes"}`:           {"admin", "INVALID_TYPE", "admin must be true or false, not a string"},
		`{"tenant":"ünïcode","pans":"AAAPI3182M"}`:     {"pans", "INVALID_TYPE", "pans must be a list, not a string"},
	} {
		err := decode(body, &authv1.CreateApiKeyRequest{})
		require.Error(t, err, body)
		got, ok := decodeViolation(err.Error())
		require.True(t, ok, "%s: %v", body, err)
		require.Equal(t, want, got, body)
	}

	// A secret of the wrong type or sent unquoted is not repeated back.
	for _, body := range []string{`{"gstin":"29AWGPV7107B1Z1","password":123456789}`, `{"gstin":"x","password":Hunter2secret}`} {
		err := decode(body, &authv1.RegisterCredentialRequest{})
		require.Error(t, err, body)
		got, ok := decodeViolation(err.Error())
		require.True(t, ok, "%s: %v", body, err)
		require.NotContains(t, got.Message, "123456789")
		require.NotContains(t, got.Message, "Hunter2secret")
	}

	// The NIC JSON of a GenerateIrn body is handed on as sent, byte for byte.
	var raw []byte
	require.NoError(t, decode(`{"Version":"1.1"} `, &raw))
	require.Equal(t, `{"Version":"1.1"} `, string(raw)) //nolint:testifylint // encoded-compare: the body must come through byte for byte, trailing space included; JSONEq would pass a re-encoding
}
