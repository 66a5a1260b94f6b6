package irpclient

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var invoice = []byte(`{"Version":"1.1","DocDtls":{"Typ":"INV","No":"A1","Dt":"01/01/2024"}}`)

func TestAuthenticateDecryptsSEKAndSendsClientHeaders(t *testing.T) {
	f := newFakeIRP(t)
	c, _ := newTestClient(t, f.srv.URL)
	s, err := c.Authenticate(t.Context(), testCreds, false)
	require.NoError(t, err)
	require.Equal(t, f.sek, s.SEK)
	require.Equal(t, f.token, s.AuthToken)
	require.Equal(t, NIC1, s.IRP)
	require.WithinDuration(t, time.Now().Add(6*time.Hour), s.Expiry, 2*time.Second)
	h := f.headers[0]
	require.Equal(t, testCreds.ClientID, h.Get("client_id"))
	require.Equal(t, testCreds.ClientSecret, h.Get("client_secret"))
	require.Equal(t, testCreds.GSTIN, h.Get("Gstin"))

	bad := testCreds
	bad.Password = "wrong"
	_, err = c.Authenticate(t.Context(), bad, false)
	require.Equal(t, []string{"1019"}, Codes(err))
}

func TestCallsSendSessionHeadersAndRoutingOptions(t *testing.T) {
	f := newFakeIRP(t)
	c, _ := newTestClient(t, f.srv.URL)
	_, err := c.GetIRN(t.Context(), testCreds.GSTIN, strings.Repeat("a", 64), WithCrissCross(NIC2), WithSupGSTIN("07AABCS1011L1C1"))
	require.NoError(t, err)
	h := f.headers[len(f.headers)-1]
	require.Equal(t, "apiuser", h.Get("user_name"))
	require.Equal(t, f.token, h.Get("AuthToken"))
	require.Equal(t, NIC2, h.Get("irp"))
	require.Equal(t, "07AABCS1011L1C1", h.Get("sup_gstin"))
	require.Equal(t, testCreds.GSTIN, h.Get("Gstin"))
}

func TestInvalidToken1005(t *testing.T) {
	t.Run("1005 refreshes the session once and replays", func(t *testing.T) {
		f := newFakeIRP(t)
		c, _ := newTestClient(t, f.srv.URL)
		_, err := c.GetIRN(t.Context(), testCreds.GSTIN, "a")
		require.NoError(t, err)
		f.mu.Lock()
		f.token = "rotated-by-the-irp" // the cached token is now invalid
		f.mu.Unlock()
		out, err := c.GenerateIRN(t.Context(), testCreds.GSTIN, invoice)
		require.NoError(t, err)
		require.Equal(t, int64(112010000002315), out.AckNo)
		require.Equal(t, 2, f.count(pathInvoice))
		require.Equal(t, 2, f.tokens)
	})
	t.Run("1005 twice is returned after one replay", func(t *testing.T) {
		f := newFakeIRP(t)
		f.hook = func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
			_, _ = w.Write([]byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"1005","ErrorMessage":"Invalid Token"}]}`))
			return true
		}
		c, _ := newTestClient(t, f.srv.URL)
		_, err := c.GenerateIRN(t.Context(), testCreds.GSTIN, invoice)
		require.True(t, IsInvalidToken(err))
		require.Equal(t, 2, f.count(pathInvoice))
	})
}

func TestRetryPolicy(t *testing.T) {
	status := func(code int, body string) func(http.ResponseWriter, *http.Request, int, []byte) bool {
		return func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
			if n > 2 {
				return false
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	hangup := func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return true
	}
	tests := []struct {
		name        string
		hook        func(http.ResponseWriter, *http.Request, int, []byte) bool
		failBefore  int32 // transport failures before anything is written
		call        func(*Client, context.Context) error
		path        string
		wantCalls   int
		wantUnknown bool
		wantErr     bool
	}{
		{
			name: "write not sent is retried", failBefore: 2, path: pathInvoice, wantCalls: 1,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
				return err
			},
		},
		{
			name: "read 5xx is retried", hook: status(502, "<html>bad gateway</html>"), path: pathGetIRN + "a", wantCalls: 3,
			call: func(c *Client, ctx context.Context) error { _, err := c.GetIRN(ctx, testCreds.GSTIN, "a"); return err },
		},
		{
			name: "read connection drop is retried", hook: func(w http.ResponseWriter, r *http.Request, n int, p []byte) bool {
				return n == 1 && hangup(w, r, n, p)
			}, path: pathGetIRN + "a", wantCalls: 2,
			call: func(c *Client, ctx context.Context) error { _, err := c.GetIRN(ctx, testCreds.GSTIN, "a"); return err },
		},
		{
			name: "generate 5xx after send is outcome unknown", hook: status(503, "down"), path: pathInvoice, wantCalls: 1, wantUnknown: true, wantErr: true,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
				return err
			},
		},
		{
			name: "generate dropped answer is outcome unknown", hook: hangup, path: pathInvoice, wantCalls: 1, wantUnknown: true, wantErr: true,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
				return err
			},
		},
		{
			name: "cancel dropped answer is outcome unknown", hook: hangup, path: pathCancel, wantCalls: 1, wantUnknown: true, wantErr: true,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.CancelIRN(ctx, testCreds.GSTIN, CancelIRNRequest{Irn: "a", CnlRsn: "1", CnlRem: "dup"})
				return err
			},
		},
		{
			name: "write 429 is retried", hook: status(429, `{"Status":0,"ErrorDetails":[{"ErrorCode":"429","ErrorMessage":"Too many requests"}]}`), path: pathInvoice, wantCalls: 3,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
				return err
			},
		},
		{
			name: "2150 business error is not retried", hook: func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
				_, _ = w.Write([]byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"2150","ErrorMessage":"Duplicate IRN"}]}`))
				return true
			}, path: pathInvoice, wantCalls: 1, wantErr: true,
			call: func(c *Client, ctx context.Context) error {
				_, err := c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
				return err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIRP(t)
			ft := &failingTransport{next: newTransport()}
			c, ls := newTestClient(t, f.srv.URL, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: ft} })
			_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
			require.NoError(t, err)
			f.hook = tc.hook
			ft.n.Store(tc.failBefore)
			err = tc.call(c, t.Context())
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantUnknown, errors.Is(err, ErrOutcomeUnknown), "err: %v", err)
			require.Equal(t, tc.wantCalls, f.count(tc.path))
		})
	}
}

func TestTimeoutAfterSendIsOutcomeUnknown(t *testing.T) {
	f := newFakeIRP(t)
	c, ls := newTestClient(t, f.srv.URL)
	_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
	require.NoError(t, err)
	f.hook = func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
		<-r.Context().Done()
		return true
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Sent)
	require.Equal(t, 1, f.count(pathInvoice))
}

func TestNotSentTransportErrorIsDistinguishable(t *testing.T) {
	c, _ := newTestClient(t, "http://127.0.0.1:1", func(cfg *Config) { cfg.MaxRetries = -1 })
	_, err := c.Authenticate(t.Context(), testCreds, false)
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.False(t, te.Sent)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Nil(t, Codes(err))
}

func TestLocalSessions(t *testing.T) {
	t.Run("concurrent callers share one authentication", func(t *testing.T) {
		f := newFakeIRP(t)
		_, ls := newTestClient(t, f.srv.URL)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 1, f.count(pathAuth))
	})
	t.Run("a session near expiry is renewed with ForceRefreshAccessToken", func(t *testing.T) {
		f := newFakeIRP(t)
		now := time.Now()
		ls := clockedSessions(t, f, &now)
		s1, err := ls.Session(t.Context(), testCreds.GSTIN, "")
		require.NoError(t, err)
		now = s1.Expiry.Add(-5 * time.Minute)
		s2, err := ls.Session(t.Context(), testCreds.GSTIN, "")
		require.NoError(t, err)
		require.NotEqual(t, s1.AuthToken, s2.AuthToken)
		require.Equal(t, 2, f.tokens)
	})
	t.Run("the refresh margin decides how early a session is renewed", func(t *testing.T) {
		f := newFakeIRP(t)
		now := time.Now()
		ls := clockedSessions(t, f, &now, WithRefreshMargin(2*time.Minute))
		s1, err := ls.Session(t.Context(), testCreds.GSTIN, "")
		require.NoError(t, err)
		now = s1.Expiry.Add(-5 * time.Minute) // inside the default 10 minutes, not inside 2
		kept, err := ls.Session(t.Context(), testCreds.GSTIN, "")
		require.NoError(t, err)
		require.Equal(t, s1.AuthToken, kept.AuthToken)
		now = s1.Expiry.Add(-time.Minute)
		renewed, err := ls.Session(t.Context(), testCreds.GSTIN, "")
		require.NoError(t, err)
		require.NotEqual(t, s1.AuthToken, renewed.AuthToken)
		require.Equal(t, 2, f.tokens)
	})
	t.Run("an invalidated session is authenticated again on the next call", func(t *testing.T) {
		f := newFakeIRP(t)
		_, ls := newTestClient(t, f.srv.URL)
		_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
		require.NoError(t, err)
		ls.Invalidate(testCreds.GSTIN, "nic1") // the IRP's name in any case
		_, err = ls.Session(t.Context(), testCreds.GSTIN, NIC1)
		require.NoError(t, err)
		require.Equal(t, 2, f.count(pathAuth))
	})
	t.Run("refresh of an already replaced session reuses the new one", func(t *testing.T) {
		f := newFakeIRP(t)
		_, ls := newTestClient(t, f.srv.URL)
		s1, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
		require.NoError(t, err)
		s2, err := ls.Refresh(t.Context(), s1)
		require.NoError(t, err)
		s3, err := ls.Refresh(t.Context(), s1)
		require.NoError(t, err)
		require.Equal(t, s2.AuthToken, s3.AuthToken)
		require.Equal(t, 2, f.tokens)
	})
}

// clockedSessions is LocalSessions on f with the default IRP NIC1 and the clock *now.
func clockedSessions(t *testing.T, f *fakeIRP, now *time.Time, opts ...LocalSessionsOption) *LocalSessions {
	t.Helper()
	c, err := New(Config{BaseURLs: map[string]string{NIC1: f.srv.URL}, PublicKeys: map[string]*rsa.PublicKey{NIC1: &testKey(t).PublicKey}})
	require.NoError(t, err)
	opts = append([]LocalSessionsOption{WithClock(func() time.Time { return *now })}, opts...)
	return NewLocalSessions(c, func(string, string) (Credentials, error) { return testCreds, nil }, opts...)
}

// TestNoSecretInLogsSpansMetricsOrErrors drives success, IRP errors, a 1005
// replay and transport failures, then scans everything the client emitted.
func TestNoSecretInLogsSpansMetricsOrErrors(t *testing.T) {
	f := newFakeIRP(t)
	var logs bytes.Buffer
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, ls := newTestClient(t, f.srv.URL, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.TracerProvider, cfg.MeterProvider = tp, mp
	})
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
	}
	s, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
	require.NoError(t, err)
	_, err = c.GenerateIRN(t.Context(), testCreds.GSTIN, invoice)
	note(err)
	f.mu.Lock()
	f.token = "rotated"
	f.mu.Unlock()
	_, err = c.GetIRN(t.Context(), testCreds.GSTIN, "a")
	note(err)
	f.hook = func(w http.ResponseWriter, r *http.Request, n int, _ []byte) bool {
		w.WriteHeader(500)
		return true
	}
	_, err = c.GenerateIRN(t.Context(), testCreds.GSTIN, invoice)
	note(err)
	bad := testCreds
	bad.Password = "Wrong-Pa55word"
	_, err = c.Authenticate(t.Context(), bad, true)
	note(err)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("values", "session", s, "creds", testCreds)
	fmt.Fprintf(&logs, "%v %+v %#v %s %v %+v %#v", s, s, s, s, testCreds, testCreds, testCreds)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	var dump strings.Builder
	dump.WriteString(logs.String())
	dump.WriteString(strings.Join(errs, "\n"))
	fmt.Fprintf(&dump, "%+v", rm)
	for _, sp := range spans.Ended() {
		fmt.Fprintf(&dump, "%s %v %v %v %v", sp.Name(), sp.Attributes(), sp.Events(), sp.Status(), sp.Links())
	}
	require.NotEmpty(t, spans.Ended())
	require.Contains(t, dump.String(), "NIC GenerateIRN")

	f.mu.Lock()
	secrets := []string{
		testCreds.Password, bad.Password, testCreds.ClientSecret, f.token, s.AuthToken,
		base64.StdEncoding.EncodeToString(s.SEK), hex.EncodeToString(s.SEK), string(s.SEK),
		base64.StdEncoding.EncodeToString(f.sek), fmt.Sprint(s.SEK), //nolint:staticcheck // QF1010: the []byte's %v form ("[12 34 ...]") is what a careless log line would show; string(s.SEK) is listed above
	}
	secrets = append(secrets, f.appKeys...)
	f.mu.Unlock()
	for _, secret := range secrets {
		require.NotContains(t, dump.String(), secret)
	}
}

// A 429 with Retry-After is waited out when the wait fits (the call's deadline and a 30 s
// cap); otherwise the error goes back at once, carrying how long the IRP asked to wait.
func TestRetryAfter(t *testing.T) {
	tooMany := func(after string, times int) func(http.ResponseWriter, *http.Request, int, []byte) bool {
		return func(w http.ResponseWriter, _ *http.Request, n int, _ []byte) bool {
			if n > times {
				return false
			}
			w.Header().Set("Retry-After", after)
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"Status":0,"ErrorDetails":[{"ErrorCode":"429","ErrorMessage":"Too many requests"}]}`))
			return true
		}
	}
	tests := []struct {
		name      string
		after     string
		times     int
		deadline  time.Duration
		wantCalls int
		wantAfter time.Duration // 0: success
	}{
		{name: "longer than the deadline allows", after: "7", times: 9, deadline: 5 * time.Second, wantCalls: 1, wantAfter: 7 * time.Second},
		{name: "longer than the cap", after: "120", times: 9, wantCalls: 1, wantAfter: 2 * time.Minute},
		{name: "an HTTP date past the cap", after: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), times: 9, wantCalls: 1, wantAfter: time.Hour},
		{name: "zero seconds: retried", after: "0", times: 1, wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIRP(t)
			c, ls := newTestClient(t, f.srv.URL)
			_, err := ls.Session(t.Context(), testCreds.GSTIN, NIC1)
			require.NoError(t, err)
			f.hook = tooMany(tc.after, tc.times)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err = c.GenerateIRN(ctx, testCreds.GSTIN, invoice)
			require.Equal(t, tc.wantCalls, f.count(pathInvoice))
			if tc.wantAfter == 0 {
				require.NoError(t, err)
				return
			}
			var ie *Error
			require.ErrorAs(t, err, &ie)
			require.Equal(t, http.StatusTooManyRequests, ie.HTTPStatus)
			require.InDelta(t, tc.wantAfter.Seconds(), ie.RetryAfter.Seconds(), 2)
			require.NotErrorIs(t, err, ErrOutcomeUnknown, "a 429 was refused before processing")
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"3": 3 * time.Second, " 0 ": 0, "Sat, 21 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Sat, 21 Nov 2026 09:00:00 GMT": 0,
	} {
		got, ok := parseRetryAfter(in, now)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "soon", "1.5"} {
		_, ok := parseRetryAfter(in, now)
		require.False(t, ok, in)
	}
}
