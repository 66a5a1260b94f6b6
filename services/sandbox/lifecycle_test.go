package sandbox_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func cancelIRN(c *client, irn string) (envelope, map[string]string) {
	var out map[string]string
	env := c.call(http.MethodPost, "/eicore/v1.03/Invoice/Cancel", map[string]any{"Irn": irn, "CnlRsn": "1", "CnlRem": "Wrong entry"}, &out)
	return env, out
}

func TestCancelIRN(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	dt := today(srv)
	gen := func(no string) irnResp {
		env, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", no, dt, 1))
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		return r
	}
	r := gen("CN-1")
	srv.Clock.Advance(time.Hour)
	env, out := cancelIRN(c, r.Irn)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, r.Irn, out["Irn"])
	require.Equal(t, srv.Clock.Now().In(sandbox.IST).Format("2006-01-02 15:04:05"), out["CancelDate"])

	t.Run("9999 cancel twice", func(t *testing.T) {
		env, _ := cancelIRN(c, r.Irn)
		require.Equal(t, []string{"9999"}, env.codes())
	})
	t.Run("2278 a cancelled number cannot be reused", func(t *testing.T) {
		env, _ := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "CN-1", dt, 1))
		require.Equal(t, []string{"2278"}, env.codes())
	})
	t.Run("2270 after 24 hours", func(t *testing.T) {
		r := gen("CN-2")
		srv.Clock.Advance(24*time.Hour + time.Second)
		require.Equal(t, 1, c.auth(false).Status) // the old token has expired
		env, _ := cancelIRN(c, r.Irn)
		require.Equal(t, []string{"2270"}, env.codes())
	})
	t.Run("2145 malformed IRN, 2148 unknown IRN, 2142 bad reason", func(t *testing.T) {
		env, _ := cancelIRN(c, "abc")
		require.Equal(t, []string{"2145"}, env.codes())
		env, _ = cancelIRN(c, strings.Repeat("a", 64))
		require.Equal(t, []string{"2148"}, env.codes())
		env = c.call(http.MethodPost, "/eicore/v1.03/Invoice/Cancel", map[string]any{"Irn": r.Irn, "CnlRsn": "7", "CnlRem": "x"}, nil)
		require.Equal(t, []string{"2142"}, env.codes())
	})
	t.Run("2143 another GSTIN's IRN", func(t *testing.T) {
		r := gen("CN-3")
		other := login(t, srv, srv.URL, "29AWGPV7107B1Z1")
		env, _ := cancelIRN(other, r.Irn)
		require.Equal(t, []string{"2143"}, env.codes())
	})
	t.Run("case-insensitive JSON keys and numeric reason", func(t *testing.T) {
		r := gen("CN-4")
		env := c.call(http.MethodPost, "/eicore/v1.03/Invoice/Cancel", map[string]any{"irn": r.Irn, "Cnlrsn": 2, "Cnlrem": "x"}, nil)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
	})
}

func TestGetIRN(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	dt := today(srv)
	_, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "G/1", dt, 2))
	require.NotEmpty(t, r.Irn)

	var got irnResp
	env := c.call(http.MethodGet, "/eicore/v1.03/Invoice/irn/"+r.Irn, nil, &got)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, r, got)

	var byDoc irnResp
	q := url.Values{"doctype": {"inv"}, "docnum": {"G/1"}, "docdate": {dt}}
	env = c.call(http.MethodGet, "/eicore/v1.03/Invoice/irnbydocdetails?"+q.Encode(), nil, &byDoc)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, r, byDoc)

	cases := []struct{ name, path, code string }{
		{"2145 malformed IRN", "/eicore/v1.03/Invoice/irn/xyz", "2145"},
		{"2148 unknown IRN", "/eicore/v1.03/Invoice/irn/" + strings.Repeat("0", 64), "2148"},
		{"2142 missing document parameters", "/eicore/v1.03/Invoice/irnbydocdetails?doctype=INV", "2142"},
		{"2144 bad document date", "/eicore/v1.03/Invoice/irnbydocdetails?doctype=INV&docnum=G1&docdate=2024-01-01", "2144"},
		{"2161 bad document type", "/eicore/v1.03/Invoice/irnbydocdetails?doctype=XYZ&docnum=G1&docdate=" + url.QueryEscape(dt), "2161"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, []string{tc.code}, c.call(http.MethodGet, tc.path, nil, nil).codes())
		})
	}
	t.Run("2148 another GSTIN cannot read it", func(t *testing.T) {
		other := login(t, srv, srv.URL, "29AWGPV7107B1Z1")
		require.Equal(t, []string{"2148"}, other.call(http.MethodGet, "/eicore/v1.03/Invoice/irn/"+r.Irn, nil, nil).codes())
	})
	t.Run("2283 after the retention window", func(t *testing.T) {
		srv.Clock.Advance(49 * time.Hour)
		c := login(t, srv, srv.URL, seller)
		env := c.call(http.MethodGet, "/eicore/v1.03/Invoice/irn/"+r.Irn, nil, nil)
		require.Equal(t, []nicErr{{"2283", "IRN details cannot be provided as it is generated more than 2 days ago"}}, env.ErrorDetails)
	})
}

func TestCrissCrossBetweenNIC1AndNIC2(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithReplicationLag(30*time.Second))
	c1 := login(t, srv, srv.URL, seller)
	c2 := login(t, srv, srv.NIC2URL, seller)
	require.NotEqual(t, c1.token, c2.token, "each IRP issues its own tokens")
	dt := today(srv)
	inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "X-1", dt, 1)
	env, r := c1.generate(inv)
	require.Equal(t, 1, env.Status)
	require.Equal(t, "1", strings.Split(strconvI(r.AckNo), "")[0], "AckNo of NIC1 starts with 1")

	env, _ = c2.generate(inv)
	require.Equal(t, []string{"2150"}, env.codes(), "duplicates are seen across IRPs at once")

	path := "/eicore/v1.03/Invoice/irn/" + r.Irn
	require.Equal(t, []string{"2148"}, c2.call(http.MethodGet, path, nil, nil).codes(), "no irp header")
	c2.extra["irp"] = "NIC1"
	require.Equal(t, []string{"2148"}, c2.call(http.MethodGet, path, nil, nil).codes(), "inside the replication lag")
	srv.Clock.Advance(31 * time.Second)
	var got irnResp
	require.Equal(t, 1, c2.call(http.MethodGet, path, nil, &got).Status)
	require.Equal(t, r.AckNo, got.AckNo)
	env, _ = cancelIRN(c2, r.Irn)
	require.Equal(t, 1, env.Status, "cancel criss-cross")

	_, r2 := c2.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "X-2", dt, 1))
	require.Equal(t, "2", strconvI(r2.AckNo)[:1], "AckNo of NIC2 starts with 2")
	require.Equal(t, sandbox.NIC2, srv.Registered()[1].Instance)
}

func strconvI(n int64) string { b, _ := json.Marshal(n); return string(b) }

func ewbByIRN(c *client, body map[string]any) (envelope, map[string]any) {
	var out map[string]any
	env := c.call(http.MethodPost, "/eiewb/v1.03/ewaybill", body, &out)
	return env, out
}

func ewayapi(c *client, action string, body map[string]any) (status string, codes string, data map[string]any) {
	js, _ := json.Marshal(body)
	env, _ := json.Marshal(map[string]string{"action": action, "data": base64.StdEncoding.EncodeToString(ecb(c.sek, js, true))})
	req := c.request(http.MethodPost, "/ewaybillapi/v1.03/ewayapi", nil)
	req.Body = ioNopCloser(env)
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var out map[string]string
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&out))
	if out["status"] == "1" {
		ct, _ := base64.StdEncoding.DecodeString(out["data"])
		require.NoError(c.t, json.Unmarshal(ecb(c.sek, ct, false), &data))
		return "1", "", data
	}
	raw, _ := base64.StdEncoding.DecodeString(out["error"])
	var e struct{ ErrorCodes string }
	require.NoError(c.t, json.Unmarshal(raw, &e))
	return out["status"], e.ErrorCodes, nil
}

func TestEwayBills(t *testing.T) {
	srv := sandboxtest.Start(t)
	c := login(t, srv, srv.URL, seller)
	dt := today(srv)

	t.Run("embedded EWB with distance 0 reports EWBPPD", func(t *testing.T) {
		inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "E-1", dt, 1)
		inv["EwbDtls"] = map[string]any{"TransId": "05AAACG2115R1ZN", "TransMode": "1", "Distance": 0, "VehNo": "KA01AB1234", "VehType": "R"}
		env, r := c.generate(inv)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		require.NotNil(t, r.EwbNo)
		require.Len(t, strconvI(*r.EwbNo), 12)
		require.NotNil(t, r.EwbValidTill)
		require.True(t, strings.HasSuffix(*r.EwbValidTill, " 23:59:00"))
		var ppd string
		require.NoError(t, json.Unmarshal(env.info("EWBPPD"), &ppd))
		require.Regexp(t, `^Pin-Pin calc distance: \d+KM$`, ppd)

		env, _ = cancelIRN(c, r.Irn)
		require.Equal(t, []string{"2230"}, env.codes(), "active EWB blocks cancel")

		var g map[string]any
		env = c.call(http.MethodGet, "/eiewb/v1.03/ewaybill/irn/"+r.Irn, nil, &g)
		require.Equal(t, 1, env.Status)
		require.Equal(t, "ACT", g["Status"])
		require.Equal(t, seller, g["GenGstin"])

		st, codes, d := ewayapi(c, "CANEWB", map[string]any{"ewbNo": *r.EwbNo, "cancelRsnCode": 2, "cancelRmrk": "Cancelled the order"})
		require.Equal(t, "1", st, codes)
		require.Equal(t, float64(*r.EwbNo), d["ewayBillNo"])
		require.Regexp(t, `^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} (AM|PM)$`, d["cancelDate"])
		st, codes, _ = ewayapi(c, "CANEWB", map[string]any{"ewbNo": *r.EwbNo, "cancelRsnCode": 2, "cancelRmrk": "again"})
		require.Equal(t, "0", st)
		require.Equal(t, "312,", codes)
		_, codes, _ = ewayapi(c, "CANEWB", map[string]any{"ewbNo": *r.EwbNo, "cancelRsnCode": 9, "cancelRmrk": "x"})
		require.Equal(t, "307,", codes)

		env, _ = cancelIRN(c, r.Irn)
		require.Equal(t, 1, env.Status, "IRN cancels once its EWB is cancelled")
	})
	t.Run("embedded EWB failure is EWBERR and the IRN still succeeds", func(t *testing.T) {
		inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "E-2", dt, 1)
		inv["EwbDtls"] = map[string]any{"Distance": 100}
		env, r := c.generate(inv)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		require.Nil(t, r.EwbNo)
		var errs []nicErr
		require.NoError(t, json.Unmarshal(env.info("EWBERR"), &errs))
		require.Equal(t, "4019", errs[0].ErrorCode)
	})
	t.Run("EWB by IRN and its refusals", func(t *testing.T) {
		_, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "E-3", dt, 1))
		env, out := ewbByIRN(c, map[string]any{"Irn": r.Irn, "Distance": 0, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"})
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		require.NotNil(t, out["EwbNo"])
		require.NotNil(t, env.info("EWBPPD"))
		env, _ = ewbByIRN(c, map[string]any{"Irn": r.Irn, "Distance": 10, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"})
		require.Equal(t, []string{"4002"}, env.codes())

		_, r2 := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "E-4", dt, 1))
		cases := []struct {
			name string
			body map[string]any
			code string
		}{
			{"4006 no IRN", map[string]any{"Distance": 10}, "4006"},
			{"4003 unknown IRN", map[string]any{"Irn": strings.Repeat("1", 64), "Distance": 10}, "4003"},
			{"4038 distance far above PIN-to-PIN", map[string]any{"Irn": r2.Irn, "Distance": 4000, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"}, "4038"},
			{"4014 invalid vehicle number", map[string]any{"Irn": r2.Irn, "Distance": 0, "TransMode": "1", "VehNo": "12", "VehType": "R"}, "4014"},
			{"4022 vehicle type missing for road", map[string]any{"Irn": r2.Irn, "Distance": 0, "TransMode": "1", "VehNo": "JK01AB1234"}, "4022"},
			{"4019 no transporter and no Part-B", map[string]any{"Irn": r2.Irn, "Distance": 0}, "4019"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				env, _ := ewbByIRN(c, tc.body)
				require.Contains(t, env.codes(), tc.code, env.ErrorDetails)
			})
		}
		env = c.call(http.MethodGet, "/eiewb/v1.03/ewaybill/irn/"+r2.Irn, nil, nil)
		require.Equal(t, []string{"4005"}, env.codes())

		crn := invoice(seller, "29AWGPV7107B1Z1", "CRN", "E-5", dt, 1)
		_, r3 := c.generate(crn)
		env, _ = ewbByIRN(c, map[string]any{"Irn": r3.Irn, "Distance": 0, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"})
		require.Equal(t, []string{"4010"}, env.codes())

		env, _ = cancelIRN(c, r2.Irn)
		require.Equal(t, 1, env.Status)
		env, _ = ewbByIRN(c, map[string]any{"Irn": r2.Irn, "Distance": 0, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"})
		require.Equal(t, []string{"4000"}, env.codes())
	})
	t.Run("4015 blocked GSTIN", func(t *testing.T) {
		b := login(t, srv, srv.URL, sandbox.GSTINBlocked)
		inv := invoice(sandbox.GSTINBlocked, "29AWGPV7107B1Z1", "INV", "E-6", dt, 1)
		inv["EwbDtls"] = map[string]any{"TransMode": "1", "Distance": 0, "VehNo": "GJ01AB1234", "VehType": "R"}
		env, r := b.generate(inv)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		require.Nil(t, r.EwbNo)
		var errs []nicErr
		require.NoError(t, json.Unmarshal(env.info("EWBERR"), &errs))
		require.Equal(t, "4015", errs[0].ErrorCode)
		require.Contains(t, errs[0].ErrorMessage, sandbox.GSTINBlocked)
	})
	t.Run("315 cancel EWB after 24 hours", func(t *testing.T) {
		_, r := c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "E-7", dt, 1))
		_, out := ewbByIRN(c, map[string]any{"Irn": r.Irn, "Distance": 0, "TransMode": "1", "VehNo": "JK01AB1234", "VehType": "R"})
		srv.Clock.Advance(25 * time.Hour)
		c := login(t, srv, srv.URL, seller)
		_, codes, _ := ewayapi(c, "CANEWB", map[string]any{"ewbNo": out["EwbNo"], "cancelRsnCode": 1, "cancelRmrk": "late"})
		require.Equal(t, "315,", codes)
	})
}
