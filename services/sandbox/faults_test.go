package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/proctest"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// rawGenerate posts a document and returns the HTTP status, or 0 and the transport error.
func rawGenerate(c *client, inv any) (int, error) {
	resp, err := c.hc.Do(c.request(http.MethodPost, "/eicore/v1.03/Invoice", inv))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestFaultErrorRateRegistersNothing(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 1, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGenerate}}))
	c := login(t, srv, srv.URL, seller) // auth is not affected: Only
	code, err := rawGenerate(c, invoice(seller, "29AWGPV7107B1Z1", "INV", "F-1", today(srv), 1))
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, code)
	require.Empty(t, srv.Registered())
	require.Equal(t, int64(1), srv.Stats().FaultsInjected)
}

func TestFaultAnswerLostKeepsTheRegistration(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  sandbox.ErrorMix
		want int
	}{
		{"connection reset", sandbox.ErrorMix{Reset: 1}, 0},
		{"HTTP 500", sandbox.ErrorMix{HTTP5xx: 1}, http.StatusInternalServerError},
		{"timeout 504", sandbox.ErrorMix{Timeout: 1}, http.StatusGatewayTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sandboxtest.Start(t, sandboxtest.WithFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: tc.mix, TimeoutAfter: 20 * time.Millisecond}))
			c := login(t, srv, srv.URL, seller)
			inv := invoice(seller, "29AWGPV7107B1Z1", "INV", "L-1", today(srv), 1)
			code, err := rawGenerate(c, inv)
			require.Equal(t, tc.want, code)
			if tc.want == 0 {
				require.Error(t, err)
			}
			regs := srv.Registered()
			require.Len(t, regs, 1, "registered although the answer was lost")

			srv.SetFaults(sandbox.Faults{})
			env, _ := c.generate(inv)
			require.Equal(t, []string{"2150"}, env.codes())
			var dup struct {
				AckNo int64
				Irn   string
			}
			require.NoError(t, json.Unmarshal(env.info("DUPIRN"), &dup))
			require.Equal(t, regs[0].AckNo, dup.AckNo)
			require.Equal(t, int64(1), srv.Stats().AnswersLost)
		})
	}
}

func TestFaultOutageWindowPerInstance(t *testing.T) {
	srv := sandboxtest.Start(t)
	now := srv.Clock.Now()
	c1 := login(t, srv, srv.URL, seller)
	c2 := login(t, srv, srv.NIC2URL, seller)
	srv.SetFaults(sandbox.Faults{Outages: []sandbox.Outage{{Instance: sandbox.NIC2, From: now, To: now.Add(time.Hour)}}})
	code, _ := rawGenerate(c2, invoice(seller, "29AWGPV7107B1Z1", "INV", "O-1", today(srv), 1))
	require.Equal(t, http.StatusServiceUnavailable, code)
	env, _ := c1.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "O-2", today(srv), 1))
	require.Equal(t, 1, env.Status, "NIC1 is up")
	srv.Clock.Advance(time.Hour)
	env, _ = c2.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "O-1", today(srv), 1))
	require.Equal(t, 1, env.Status, "the window has passed")
}

func TestFaultRateLimit(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithFaults(sandbox.Faults{RateLimit: 0.001, Burst: 2}))
	c := newClient(t, srv, srv.URL, seller)
	require.Equal(t, 1, c.auth(false).Status)
	require.Equal(t, 1, c.auth(false).Status)
	env := c.auth(false)
	require.Equal(t, http.StatusTooManyRequests, env.HTTPStatus)
	require.Equal(t, int64(1), srv.Stats().RateLimited)
}

func TestFaultLatency(t *testing.T) {
	srv := sandboxtest.Start(t, sandboxtest.WithFaults(sandbox.Faults{Latency: sandbox.Latency{Base: 40 * time.Millisecond, Jitter: 10 * time.Millisecond}}))
	c := newClient(t, srv, srv.URL, seller)
	start := time.Now()
	require.Equal(t, 1, c.auth(false).Status)
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
}

func TestFaultsAreRepeatableWithASeed(t *testing.T) {
	pattern := func() string {
		srv := sandboxtest.Start(t, sandboxtest.WithConfig(func(c *sandbox.Config) { c.Seed = 7 }),
			sandboxtest.WithFaults(sandbox.Faults{ErrorRate: 0.5, ErrorMix: sandbox.ErrorMix{HTTP5xx: 1}, Only: []string{sandbox.OpGSTIN}}))
		c := login(t, srv, srv.URL, seller)
		var b strings.Builder
		for range 24 {
			resp, err := c.hc.Do(c.request(http.MethodGet, "/eivital/v1.04/Master/gstin/"+seller, nil))
			require.NoError(t, err)
			resp.Body.Close()
			fmt.Fprintf(&b, "%d ", resp.StatusCode)
		}
		return b.String()
	}
	p := pattern()
	require.Contains(t, p, "500")
	require.Contains(t, p, "200")
	require.Equal(t, p, pattern())
}

func TestAdminAPI(t *testing.T) {
	srv := sandboxtest.Start(t)
	hc := srv.HTTP.Client()
	put := func(path string, v any, method string) int {
		b, _ := json.Marshal(v)
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, bytes.NewReader(b))
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, put("/sandbox/admin/faults", sandbox.Faults{ErrorRate: 1, Only: []string{sandbox.OpPing}}, http.MethodPut))
	require.Equal(t, 1.0, srv.Faults().ErrorRate)

	t.Run("settings that cannot be applied are refused, naming the field", func(t *testing.T) {
		for body, want := range map[string]string{
			`{"AnswerLostRate":1}`:               `unknown field "AnswerLostRate"`,
			`{"answer_lost_rate":30}`:            "answer_lost_rate 30 must be a probability from 0 to 1",
			`{"only":["generat"]}`:               `only[0] "generat" is not an operation`,
			`{"instances":["NIC3"]}`:             `instances[0] "NIC3" is not an instance`,
			`{"latency":{"base":-1}}`:            "latency.base -1ns must not be negative",
			`{"error_rate":0.5}{"error_rate":1}`: "unexpected data after the JSON value",
		} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/sandbox/admin/faults", strings.NewReader(body))
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			require.Contains(t, string(msg), want, body)
			require.Equal(t, 1.0, srv.Faults().ErrorRate, "the faults in force are kept")
		}
	})

	before := srv.Clock.Now()
	require.Equal(t, http.StatusOK, put("/sandbox/admin/clock", map[string]string{"advance": "25h"}, http.MethodPost))
	require.Equal(t, 25*time.Hour, srv.Clock.Now().Sub(before))

	for _, p := range []string{"/sandbox/admin/stats", "/sandbox/admin/registrations", "/sandbox/admin/faults", "/sandbox/admin/clock", "/sandbox/admin/users"} {
		resp, err := hc.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
	}

	t.Run("loopback callers only", func(t *testing.T) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/sandbox/admin/stats", nil)
		req.RemoteAddr = "10.1.2.3:4567"
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusForbidden, rec.Code)
	})
	t.Run("absent unless enabled", func(t *testing.T) {
		sb, err := sandbox.New(sandbox.Config{})
		require.NoError(t, err)
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/sandbox/admin/stats", nil)
		rec := httptest.NewRecorder()
		sb.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code)
	})
}

func TestHeartbeat(t *testing.T) {
	srv := sandboxtest.Start(t)
	for _, base := range []string{srv.URL, srv.NIC2URL} {
		resp, err := srv.HTTP.Client().Get(base + "/eivital/v1.04/heartbeat/ping")
		require.NoError(t, err)
		var env envelope
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
		resp.Body.Close()
		require.Equal(t, 1, env.Status)
	}
}

func TestListenAndServe(t *testing.T) {
	sb, err := sandbox.New(sandbox.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	var banner proctest.Output
	done := make(chan error, 1)
	go func() {
		done <- sb.ListenAndServe(ctx, sandbox.ServeOptions{Addr: "127.0.0.1:0", NIC2Addr: "127.0.0.1:0", Banner: &banner})
	}()
	require.Eventually(t, func() bool { return strings.Contains(banner.String(), "sbx_"+seller) }, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, banner.String(), sandbox.DefaultPassword)
	cancel()
	require.NoError(t, <-done)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func TestFaultsValidate(t *testing.T) {
	require.NoError(t, sandbox.Faults{}.Validate())
	require.NoError(t, sandbox.Faults{
		ErrorRate: 1, AnswerLostRate: 0.3, ErrorMix: sandbox.ErrorMix{Reset: 2},
		Only: []string{sandbox.OpGenerate, sandbox.OpCancel}, Instances: []string{sandbox.NIC2}, RateLimit: 5,
		Outages: []sandbox.Outage{{Instance: sandbox.NIC1, From: time.Unix(10, 0), To: time.Unix(20, 0)}},
	}.Validate())

	err := sandbox.Faults{
		ErrorRate: -0.1, AnswerLostRate: 1.5, ErrorMix: sandbox.ErrorMix{Timeout: -1}, Burst: -2,
		TimeoutAfter: -time.Second, Only: []string{"generate", "gen"},
		Outages: []sandbox.Outage{{Instance: "NIC9"}, {From: time.Unix(20, 0), To: time.Unix(10, 0)}},
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"error_rate -0.1", "answer_lost_rate 1.5", "error_mix.timeout -1", "burst -2",
		"timeout_after -1s", `only[1] "gen"`, `outages[0].instance "NIC9"`, "outages[1]: to is before from",
	} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), "only[0]")
}
