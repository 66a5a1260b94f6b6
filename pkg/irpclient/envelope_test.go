package irpclient

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

func TestDecodeEnvelope(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name     string
		body     string
		ok       bool
		codes    []string
		info     []string
		wantErr  bool
		dup      *DupIRN
		ewbErrs  []string
		infoText string
	}{
		{name: "status number 1", body: `{"Status":1,"Data":"abc","ErrorDetails":null,"InfoDtls":null}`, ok: true},
		{name: "status string 1", body: `{"Status":"1","Data":"abc"}`, ok: true},
		{name: "status bool true", body: `{"status":true,"data":"abc"}`, ok: true},
		{name: "status string 0 with array details", body: `{"Status":"0","Data":null,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]}`, codes: []string{"2150"}},
		{name: "numeric ErrorCode", body: `{"Status":0,"ErrorDetails":[{"ErrorCode":1005,"ErrorMessage":"Invalid Token"}]}`, codes: []string{"1005"}},
		{name: "ErrorDetails as single object", body: `{"Status":0,"ErrorDetails":{"ErrorCode":"3028","ErrorMessage":"GSTIN is invalid"}}`, codes: []string{"3028"}},
		{name: "ErrorDetails as JSON in a string", body: `{"Status":0,"ErrorDetails":"[{\"ErrorCode\":\"2270\",\"ErrorMessage\":\"x\"}]"}`, codes: []string{"2270"}},
		{name: "ErrorDetails base64 encoded", body: `{"Status":0,"ErrorDetails":"` + b64(`[{"ErrorCode":"2283","ErrorMessage":"old"}]`) + `"}`, codes: []string{"2283"}},
		{name: "ewb system error codes 312", body: `{"status":"0","error":"` + b64(`{"errorCodes":"312,315,"}`) + `"}`, codes: []string{"312", "315"}},
		{name: "missing Status with errors is a failure", body: `{"ErrorDetails":[{"ErrorCode":"5002","ErrorMessage":"down"}]}`, codes: []string{"5002"}},
		{name: "missing Status without errors is unreadable", body: `{"Data":"abc"}`, wantErr: true},
		{name: "not JSON", body: `<html>502 Bad Gateway</html>`, wantErr: true},
		{
			name:  "2150 DUPIRN object desc",
			body:  `{"Status":0,"Data":null,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}],"InfoDtls":[{"InfCd":"DUPIRN","Desc":{"AckNo":232210036743849,"AckDt":"2022-09-16 15:08:00","Irn":"abc"}}]}`,
			codes: []string{"2150"}, info: []string{"DUPIRN"}, dup: &DupIRN{AckNo: 232210036743849, AckDt: "2022-09-16 15:08:00", Irn: "abc"},
		},
		{
			name:  "2150 DUPIRN desc as a JSON string with string AckNo",
			body:  `{"Status":0,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}],"InfoDtls":[{"InfCd":"DUPIRN","Desc":"{\"AckNo\":\"112010000002315\",\"AckDt\":\"2020-01-01 10:00:00\",\"Irn\":\"x\"}"}]}`,
			codes: []string{"2150"}, info: []string{"DUPIRN"}, dup: &DupIRN{AckNo: 112010000002315, AckDt: "2020-01-01 10:00:00", Irn: "x"},
		},
		{
			name: "InfoDtls as single object",
			body: `{"Status":1,"Data":"abc","InfoDtls":{"InfCd":"EWBPPD","Desc":"Pin-Pin calc distance: 57KM"}}`,
			ok:   true, info: []string{"EWBPPD"}, infoText: "Pin-Pin calc distance: 57KM",
		},
		{
			name: "EWBERR array 4019",
			body: `{"Status":1,"Data":"abc","InfoDtls":[{"InfCd":"EWBERR","Desc":[{"ErrorCode":"4019","ErrorMessage":"Provide Transporter ID"}]}]}`,
			ok:   true, info: []string{"EWBERR"}, ewbErrs: []string{"4019"},
		},
		{
			name: "EWBERR single object and ADDNLNFO",
			body: `{"Status":1,"Data":"abc","InfoDtls":[{"InfCd":"EWBERR","Desc":{"ErrorCode":110,"ErrorMessage":"Invalid Client-ID/Client-Secret"}},{"InfCd":"ADDNLNFO","Desc":"note"}]}`,
			ok:   true, info: []string{"EWBERR", "ADDNLNFO"}, ewbErrs: []string{"110"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tc.body))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ok, env.OK)
			var codes []string
			for _, d := range env.Details {
				codes = append(codes, d.Code)
			}
			require.Equal(t, tc.codes, codes)
			var info []string
			for _, in := range env.Info {
				info = append(info, in.Code)
			}
			require.Equal(t, tc.info, info)
			if tc.dup != nil {
				require.Equal(t, tc.dup, env.Info[0].DupIRN)
			}
			if tc.ewbErrs != nil {
				var got []string
				for _, d := range env.Info[0].EWBErrors {
					got = append(got, d.Code)
				}
				require.Equal(t, tc.ewbErrs, got)
			}
			if tc.infoText != "" {
				require.Equal(t, tc.infoText, env.Info[0].Text)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	body := `{"Status":0,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}],"InfoDtls":[{"InfCd":"DUPIRN","Desc":{"AckNo":1,"AckDt":"d","Irn":"i"}}]}`
	r := &request{api: "GenerateIRN", irp: "NIC1", kind: kindCore}
	_, err := decodeResponse(r, 200, []byte(body))
	var e *Error
	require.ErrorAs(t, err, &e)
	require.True(t, e.Has(CodeDuplicateIRN))
	require.Equal(t, []string{"2150"}, Codes(err))
	dup, ok := DuplicateIRN(err)
	require.True(t, ok)
	require.Equal(t, "i", dup.Irn)
	require.False(t, IsInvalidToken(err))
	require.False(t, IsTransport(err))
	require.Contains(t, err.Error(), "2150 Duplicate IRN")

	_, err = decodeResponse(r, 200, []byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"1005","ErrorMessage":"Invalid Token"}]}`))
	require.True(t, IsInvalidToken(err))

	_, err = decodeResponse(r, 502, []byte(`<html>bad gateway</html>`))
	require.True(t, IsTransport(err))
	require.Nil(t, Codes(err))
}

func TestDecodeResponseDecryptsData(t *testing.T) {
	sek, err := irpcrypto.NewKey()
	require.NoError(t, err)
	enc, err := irpcrypto.EncryptB64(sek, []byte(`{"AckNo":"112010000002315","AckDt":"2020-01-01 10:00:00","Irn":"x","Status":"ACT","EwbNo":null}`))
	require.NoError(t, err)
	r := &request{api: "GetIRN", irp: "NIC1", kind: kindCore, session: &Session{SEK: sek}}
	resp, err := decodeResponse(r, 200, []byte(`{"Status":"1","Data":"`+enc+`","InfoDtls":[{"InfCd":"ADDNLNFO","Desc":"hello"}]}`))
	require.NoError(t, err)
	var d IRNDetails
	require.NoError(t, d.UnmarshalJSON(resp.data))
	require.Equal(t, int64(112010000002315), d.AckNo)
	require.Nil(t, d.EwbNo)
	require.Equal(t, "hello", resp.info[0].Text)

	other, _ := irpcrypto.NewKey()
	r.session = &Session{SEK: other}
	_, err = decodeResponse(r, 200, []byte(`{"Status":1,"Data":"`+enc+`"}`))
	require.True(t, IsTransport(err), "a success that does not decrypt is unreadable, not an IRP error")
}

func FuzzDecodeEnvelope(f *testing.F) {
	seeds := []string{
		`{"Status":1,"Data":"abc"}`,
		`{"Status":"0","ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}],"InfoDtls":[{"InfCd":"DUPIRN","Desc":{"AckNo":1,"AckDt":"d","Irn":"i"}}]}`,
		`{"Status":0,"ErrorDetails":{"ErrorCode":1005},"InfoDtls":{"InfCd":"EWBERR","Desc":[{"ErrorCode":"4019"}]}}`,
		`{"status":"0","error":"eyJlcnJvckNvZGVzIjoiMzEyLCJ9"}`,
		`{"Status":true,"Data":{"AuthToken":"t"},"InfoDtls":"[{\"InfCd\":\"EWBPPD\",\"Desc\":\"57KM\"}]"}`,
		`{"Status":0,"ErrorDetails":"W3siRXJyb3JDb2RlIjoiMjI4MyJ9XQ=="}`,
		`{"Status":1,"InfoDtls":[{"InfCd":"DUPIRN","Desc":"{\"AckNo\":\"1e300\"}"}]}`,
		`null`, `[]`, `""`, `{"Status":[1]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	sek := make([]byte, 32)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decodeEnvelope(body)
		for _, k := range []requestKind{kindCore, kindAuth, kindEWBSystem, kindPlain} {
			r := &request{api: "Fuzz", irp: "NIC1", kind: k, session: &Session{SEK: sek}}
			resp, err := decodeResponse(r, 200, body)
			if err == nil && resp != nil && len(resp.data) > 0 {
				var d IRNDetails
				_ = d.UnmarshalJSON(resp.data)
				var g GSTINDetails
				_ = g.UnmarshalJSON(resp.data)
			}
		}
	})
}
