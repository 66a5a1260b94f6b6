package irpclient

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

var (
	fakeKeyOnce sync.Once
	fakeKey     *rsa.PrivateKey
)

func testKey(t testing.TB) *rsa.PrivateKey {
	fakeKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		fakeKey = k
	})
	return fakeKey
}

var testCreds = Credentials{GSTIN: "29AAACP7879D1Z0", ClientID: "cid-1", ClientSecret: "s3cr3t-client", UserName: "apiuser", Password: "Pa55word!x", IRP: NIC1}

// fakeIRP is a minimal NIC IRP for unit tests of the client's own
// behaviour (retries, replays, secrecy). Protocol conformance is tested
// against services/sandbox in ./integration.
type fakeIRP struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	sek     []byte
	token   string
	tokens  int
	appKeys []string
	headers []http.Header
	calls   map[string]int
	// hook may answer a request itself; it sees the decrypted body.
	hook func(w http.ResponseWriter, r *http.Request, n int, plain []byte) bool
}

func newFakeIRP(t testing.TB) *fakeIRP {
	f := &fakeIRP{t: t, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIRP) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func (f *fakeIRP) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls[r.URL.Path]++
	n := f.calls[r.URL.Path]
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	write := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.URL.Path == pathAuth {
		var outer struct{ Data string }
		_ = json.Unmarshal(body, &outer)
		plain, err := irpcrypto.DecryptAuthPayload(testKey(f.t), outer.Data)
		if err != nil {
			write(map[string]any{"Status": 0, "ErrorDetails": []ErrorDetail{{"1013", "bad key"}}})
			return
		}
		var a struct {
			UserName, Password, AppKey string
			ForceRefreshAccessToken    bool
		}
		_ = json.Unmarshal(plain, &a)
		if a.Password != testCreds.Password {
			write(map[string]any{"Status": 0, "ErrorDetails": []ErrorDetail{{"1019", "Invalid Password"}}})
			return
		}
		appKey, _ := base64.StdEncoding.DecodeString(a.AppKey)
		f.mu.Lock()
		f.appKeys = append(f.appKeys, a.AppKey)
		if f.token == "" || a.ForceRefreshAccessToken {
			f.tokens++
			f.token = fmt.Sprintf("tok%dABCDEFGHIJKLMNOP", f.tokens)
			f.sek, _ = irpcrypto.NewKey()
		}
		tok, sek := f.token, f.sek
		f.mu.Unlock()
		encSek, _ := irpcrypto.EncryptB64(appKey, sek)
		write(map[string]any{"Status": 1, "Data": map[string]any{
			"ClientId": r.Header.Get("client_id"), "UserName": a.UserName,
			"AuthToken": tok, "Sek": encSek, "TokenExpiry": time.Now().In(IST).Add(6 * time.Hour).Format(tokenTimeLayout),
		}})
		return
	}
	f.mu.Lock()
	tok, sek := f.token, f.sek
	f.mu.Unlock()
	if r.Header.Get("AuthToken") != tok {
		write(map[string]any{"Status": 0, "ErrorDetails": []ErrorDetail{{"1005", "Invalid Token"}}})
		return
	}
	var plain []byte
	if len(body) > 0 {
		var outer struct{ Data string }
		_ = json.Unmarshal(body, &outer)
		plain, _ = irpcrypto.DecryptB64(sek, outer.Data)
	}
	if f.hook != nil && f.hook(w, r, n, plain) {
		return
	}
	var data any
	switch {
	case r.URL.Path == pathInvoice, strings.HasPrefix(r.URL.Path, pathGetIRN):
		data = map[string]any{
			"AckNo": 112010000002315, "AckDt": "2024-01-01 10:00:00", "Irn": strings.Repeat("a", 64),
			"SignedInvoice": "x.y.z", "SignedQRCode": "x.y.z", "Status": "ACT", "EwbNo": nil,
		}
	case r.URL.Path == pathCancel:
		data = map[string]any{"Irn": strings.Repeat("a", 64), "CancelDate": "2024-01-01 11:00:00"}
	default:
		data = map[string]any{}
	}
	pb, _ := json.Marshal(data)
	enc, _ := irpcrypto.EncryptB64(sek, pb)
	write(map[string]any{"Status": 1, "Data": enc})
}

func newTestClient(t testing.TB, base string, mut ...func(*Config)) (*Client, *LocalSessions) {
	cfg := Config{
		BaseURLs:       map[string]string{NIC1: base},
		DefaultIRP:     NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{NIC1: &testKey(t).PublicKey},
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
	}
	for _, m := range mut {
		m(&cfg)
	}
	var ls *LocalSessions
	c, err := New(cfg)
	require.NoError(t, err)
	if cfg.Sessions == nil {
		ls = NewLocalSessions(c, func(gstin, irp string) (Credentials, error) { return testCreds, nil })
		c = c.WithSessions(ls)
	}
	return c, ls
}

var errTransportDown = fmt.Errorf("dial tcp: connection refused")

// failingTransport fails the first n requests before writing anything.
type failingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errTransportDown
	}
	return f.next.RoundTrip(r)
}
