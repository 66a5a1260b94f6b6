package sandbox_test

// A small NIC client written for these tests from the protocol description alone (standard
// library crypto only), so that the sandbox is checked against an independent implementation.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // x5t is a SHA-1 thumbprint by definition
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

func ecb(key, in []byte, encrypt bool) []byte {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	if encrypt {
		pad := 16 - len(in)%16
		in = append(append([]byte{}, in...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	}
	out := make([]byte, len(in))
	for i := 0; i < len(in); i += 16 {
		if encrypt {
			b.Encrypt(out[i:i+16], in[i:i+16])
		} else {
			b.Decrypt(out[i:i+16], in[i:i+16])
		}
	}
	if !encrypt {
		pad := int(out[len(out)-1])
		if pad < 1 || pad > 16 {
			panic("bad padding")
		}
		out = out[:len(out)-pad]
	}
	return out
}

type nicErr struct{ ErrorCode, ErrorMessage string }

type infoDtl struct {
	InfCd string
	Desc  json.RawMessage
}

type envelope struct {
	Status       int
	Data         json.RawMessage
	ErrorDetails []nicErr
	InfoDtls     []infoDtl
	HTTPStatus   int `json:"-"`
}

func (e envelope) codes() []string {
	var out []string
	for _, d := range e.ErrorDetails {
		out = append(out, d.ErrorCode)
	}
	return out
}

func (e envelope) info(code string) json.RawMessage {
	for _, i := range e.InfoDtls {
		if i.InfCd == code {
			return i.Desc
		}
	}
	return nil
}

type client struct {
	t      testing.TB
	base   string
	pub    *rsa.PublicKey
	user   sandbox.User
	hc     *http.Client
	token  string
	sek    []byte
	expiry string
	extra  map[string]string
}

func newClient(t testing.TB, srv *sandboxtest.Server, base, gstin string) *client {
	t.Helper()
	u, ok := srv.UserFor(gstin)
	require.True(t, ok, "no user for %s", gstin)
	return &client{t: t, base: base, pub: srv.PublicKey(), user: u, hc: srv.HTTP.Client(), extra: map[string]string{}}
}

func login(t testing.TB, srv *sandboxtest.Server, base, gstin string) *client {
	c := newClient(t, srv, base, gstin)
	env := c.auth(false)
	require.Equal(t, 1, env.Status, "auth: %+v", env.ErrorDetails)
	return c
}

func (c *client) authPayload(user, pwd string, appKey []byte, force bool) string {
	js, _ := json.Marshal(map[string]any{"UserName": user, "Password": pwd, "AppKey": base64.StdEncoding.EncodeToString(appKey), "ForceRefreshAccessToken": force})
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, c.pub, []byte(base64.StdEncoding.EncodeToString(js))) //nolint:staticcheck // SA1019: the NIC IRP auth protocol mandates RSA/ECB/PKCS1Padding; this test plays the IRP's client
	require.NoError(c.t, err)
	return base64.StdEncoding.EncodeToString(ct)
}

// authWith posts an auth request with the given headers and Data.
func (c *client) authWith(hdr map[string]string, data string) (envelope, []byte) {
	body, _ := json.Marshal(map[string]string{"Data": data})
	req, _ := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.base+"/eivital/v1.04/auth", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = []string{v} // exact spelling, not canonicalised
	}
	return c.send(req)
}

func (c *client) authHeaders() map[string]string {
	return map[string]string{"client_id": c.user.ClientID, "client_secret": c.user.ClientSecret, "Gstin": c.user.GSTIN}
}

func (c *client) auth(force bool) envelope {
	appKey := make([]byte, 32)
	_, _ = rand.Read(appKey)
	env, _ := c.authWith(c.authHeaders(), c.authPayload(c.user.UserName, c.user.Password, appKey, force))
	if env.Status == 1 {
		var d struct{ AuthToken, Sek, TokenExpiry, ClientId, UserName string }
		require.NoError(c.t, json.Unmarshal(env.Data, &d))
		sekCT, err := base64.StdEncoding.DecodeString(d.Sek)
		require.NoError(c.t, err)
		c.token, c.sek, c.expiry = d.AuthToken, ecb(appKey, sekCT, false), d.TokenExpiry
		require.Len(c.t, c.sek, 32)
	}
	return env
}

func (c *client) send(req *http.Request) (envelope, []byte) {
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var env envelope
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(c.t, json.Unmarshal(raw, &env), string(raw))
		require.Equal(c.t, int64(len(raw)), resp.ContentLength, "a JSON answer declares its length")
	}
	env.HTTPStatus = resp.StatusCode
	return env, raw
}

func (c *client) request(method, path string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		var js []byte
		switch b := body.(type) {
		case []byte:
			js = b
		default:
			js, _ = json.Marshal(b)
		}
		env, _ := json.Marshal(map[string]string{"Data": base64.StdEncoding.EncodeToString(ecb(c.sek, js, true))})
		rd = bytes.NewReader(env)
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range map[string]string{"client_id": c.user.ClientID, "client_secret": c.user.ClientSecret, "Gstin": c.user.GSTIN, "user_name": c.user.UserName, "AuthToken": c.token} {
		req.Header[k] = []string{v}
	}
	for k, v := range c.extra {
		req.Header[k] = []string{v}
	}
	return req
}

// call sends an API request; on success Data is decrypted into out (when not nil).
func (c *client) call(method, path string, body, out any) envelope {
	c.t.Helper()
	env, raw := c.send(c.request(method, path, body))
	if env.Status == 1 && out != nil {
		var s string
		require.NoError(c.t, json.Unmarshal(env.Data, &s), string(raw))
		ct, err := base64.StdEncoding.DecodeString(s)
		require.NoError(c.t, err)
		require.NoError(c.t, json.Unmarshal(ecb(c.sek, ct, false), out))
	}
	return env
}

type irnResp struct {
	AckNo         int64
	AckDt         string
	Irn           string
	SignedInvoice string
	SignedQRCode  string
	Status        string
	EwbNo         *int64
	EwbDt         *string
	EwbValidTill  *string
}

func (c *client) generate(inv any) (envelope, irnResp) {
	var r irnResp
	env := c.call(http.MethodPost, "/eicore/v1.03/Invoice", inv, &r)
	return env, r
}

// verifyJWS checks an RS256 compact JWS against the certificate, as any NIC client would.
func verifyJWS(t testing.TB, tok string, cert *x509.Certificate) (hdr map[string]string, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(h, &hdr))
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(p, &payload))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, sig, 256)
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	require.NoError(t, rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig))
	tp := sha1.Sum(cert.Raw)
	require.Equal(t, "RS256", hdr["alg"])
	require.Equal(t, strings.ToUpper(hex.EncodeToString(tp[:])), hdr["kid"])
	require.Equal(t, base64.RawURLEncoding.EncodeToString(tp[:]), hdr["x5t"])
	return hdr, payload
}

// --- documents ---

type item = map[string]any

func goodsItems(n int, igst bool) ([]item, map[string]any) {
	items := make([]item, n)
	for i := range items {
		it := item{
			"SlNo": fmt.Sprint(i + 1), "PrdDesc": "Steel bolts", "IsServc": "N", "HsnCd": "73181500", "Qty": 10, "Unit": "NOS",
			"UnitPrice": 100, "TotAmt": 1000, "AssAmt": 1000, "GstRt": 18, "TotItemVal": 1180,
		}
		if igst {
			it["IgstAmt"] = 180
		} else {
			it["CgstAmt"], it["SgstAmt"] = 90, 90
		}
		items[i] = it
	}
	val := map[string]any{"AssVal": 1000 * n, "TotInvVal": 1180 * n}
	if igst {
		val["IgstVal"] = 180 * n
	} else {
		val["CgstVal"], val["SgstVal"] = 90*n, 90*n
	}
	return items, val
}

var pins = map[string]int{"01": 190001, "02": 171001, "29": 560001, "27": 400001, "24": 380001, "33": 600001, "07": 110001, "37": 520001, "06": 122001, "09": 226001, "36": 500001}

func party(gstin string) map[string]any {
	st := gstin[:2]
	return map[string]any{"Gstin": gstin, "LglNm": "Party " + gstin, "Addr1": "1 Main Road", "Loc": "City", "Pin": pins[st], "Stcd": st}
}

// invoice builds a valid inter-state (or intra-state) B2B document.
func invoice(seller, buyer, typ, no, dt string, n int) map[string]any {
	igst := seller[:2] != buyer[:2]
	items, val := goodsItems(n, igst)
	b := party(buyer)
	b["Pos"] = buyer[:2]
	inv := map[string]any{
		"Version": "1.1", "TranDtls": map[string]any{"TaxSch": "GST", "SupTyp": "B2B"},
		"DocDtls": map[string]any{"Typ": typ, "No": no, "Dt": dt}, "SellerDtls": party(seller), "BuyerDtls": b,
		"ItemList": items, "ValDtls": val,
	}
	if strings.EqualFold(typ, "CRN") || strings.EqualFold(typ, "DBN") {
		inv["RefDtls"] = map[string]any{"PrecDocDtls": []map[string]any{{"InvNo": "ORIG-1", "InvDt": dt}}}
	}
	return inv
}

func ioNopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
