package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// session is one AuthToken with its SEK.
type session struct {
	Token    string
	SEK      []byte
	GSTIN    string
	UserName string
	ClientID string
	Instance string
	Expiry   time.Time
}

type sessionKey struct{ instance, clientID, user, gstin string }

// sessions is the token table; each IRP instance issues its own tokens.
type sessions struct {
	mu      sync.RWMutex
	byToken map[string]*session
	byUser  map[sessionKey]*session
}

func newSessions() *sessions {
	return &sessions{byToken: map[string]*session{}, byUser: map[sessionKey]*session{}}
}

// header reads a NIC header under any of its spellings (client_id, client-id; any case).
func header(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return strings.TrimSpace(v)
		}
		if vs := r.Header[n]; len(vs) > 0 && vs[0] != "" {
			return strings.TrimSpace(vs[0])
		}
	}
	return ""
}

func clientIDHeader(r *http.Request) string {
	return header(r, "client_id", "client-id", "clientid")
}

func clientSecretHeader(r *http.Request) string {
	return header(r, "client_secret", "client-secret", "clientsecret")
}

// authRequest is the decrypted v1.04 auth payload.
type authRequest struct {
	UserName                string `json:"UserName"`
	Password                string `json:"Password"`
	AppKey                  string `json:"AppKey"`
	ForceRefreshAccessToken bool   `json:"ForceRefreshAccessToken"`
}

// authResult is the Data of a successful auth (not SEK-encrypted; only Sek is).
type authResult struct {
	ClientID    string `json:"ClientId"`
	UserName    string `json:"UserName"`
	AuthToken   string `json:"AuthToken"`
	Sek         string `json:"Sek"`
	TokenExpiry string `json:"TokenExpiry"`
}

func authFail(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusOK, envelope{Status: 0, ErrorDetails: []nicError{nicErr(code)}})
}

// handleAuth serves POST /eivital/v1.04/auth (and the legacy v1.03 form at /eivital/v1.03/auth).
func (s *Sandbox) handleAuth(w http.ResponseWriter, r *http.Request, inst string, legacy bool) {
	s.stats.authCalls.Add(1)
	fail := func(code string) {
		s.stats.authFailures.Add(1)
		authFail(w, code)
	}
	cid, csec, gstin := clientIDHeader(r), clientSecretHeader(r), header(r, "Gstin")
	if gstin != "" {
		s.stats.mu.Lock()
		s.stats.byGSTIN[gstin]++
		s.stats.mu.Unlock()
	}
	switch {
	case cid == "":
		fail("1011")
		return
	case csec == "":
		fail("1012")
		return
	case gstin == "" && !legacy:
		fail("1004")
		return
	}
	body, err := readBody(r)
	if err != nil {
		fail("5002")
		return
	}
	req, code := s.decodeAuth(body, legacy)
	if code != "" {
		fail(code)
		return
	}
	if req.UserName == "" {
		fail("1006")
		return
	}
	appKey, err := base64.StdEncoding.DecodeString(req.AppKey)
	if err != nil || len(appKey) != irpcrypto.KeySize {
		fail("1016")
		return
	}
	if sec, ok := s.clientIDs[cid]; !ok || sec != csec {
		fail("1010")
		return
	}
	u, ok := s.byName[req.UserName]
	switch {
	case !ok:
		fail("1017")
		return
	case u.ClientID != cid:
		fail("1018")
		return
	case u.Password != req.Password:
		fail("1019")
		return
	case gstin != "" && !strings.EqualFold(gstin, u.GSTIN):
		fail("1015")
		return
	}
	if tp := s.taxpayers[u.GSTIN]; tp == nil || !tp.EInvoiceEnabled || (tp.Status != "ACT" && tp.Status != "PRO") {
		fail("1014")
		return
	}
	sess, err := s.sessions.issue(s, inst, u, cid, req.ForceRefreshAccessToken)
	if err != nil {
		fail("5001")
		return
	}
	sek, err := irpcrypto.EncryptB64(appKey, sess.SEK)
	if err != nil {
		fail("5001")
		return
	}
	writeJSON(w, http.StatusOK, envelope{Status: 1, Data: authResult{
		ClientID: cid, UserName: u.UserName, AuthToken: sess.Token, Sek: sek,
		TokenExpiry: sess.Expiry.In(IST).Format(nicTimeLayout),
	}})
}

// decodeAuth reads the auth body: v1.04 {"Data": b64(RSA(b64(JSON)))}; legacy v1.03
// {"data": {"UserName", "Password": b64(RSA(pwd)), "AppKey": b64(RSA(key)), ...}}.
func (s *Sandbox) decodeAuth(body []byte, legacy bool) (*authRequest, string) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, "1007"
	}
	var data json.RawMessage
	for k, v := range outer {
		if strings.EqualFold(k, "data") {
			data = v
		}
	}
	if len(data) == 0 {
		return nil, "1007"
	}
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		plain, err := irpcrypto.DecryptAuthPayload(s.keys.Encryption, str)
		if err != nil {
			return nil, "1013"
		}
		var req authRequest
		if err := json.Unmarshal(plain, &req); err != nil {
			return nil, "1007"
		}
		return &req, ""
	}
	if !legacy {
		return nil, "1007"
	}
	var req authRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, "1007"
	}
	pwd, err := rsaDecryptB64(s.keys.Encryption, req.Password)
	if err != nil {
		return nil, "1013"
	}
	key, err := rsaDecryptB64(s.keys.Encryption, req.AppKey)
	if err != nil {
		return nil, "1016"
	}
	req.Password = string(pwd)
	if len(key) == irpcrypto.KeySize {
		req.AppKey = base64.StdEncoding.EncodeToString(key)
	} else {
		req.AppKey = string(key)
	}
	return &req, ""
}

func rsaDecryptB64(k *rsa.PrivateKey, s string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return rsa.DecryptPKCS1v15(nil, k, ct) //nolint:staticcheck // NIC's v1.03 protocol.
}

// issue returns the user's live token, or a new one when there is none, it has expired, or a
// forced refresh falls in the last 10 minutes of its life.
func (t *sessions) issue(s *Sandbox, inst string, u *User, cid string, force bool) (*session, error) {
	now := s.now()
	key := sessionKey{inst, cid, u.UserName, u.GSTIN}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.byUser[key]; cur != nil {
		live := now.Before(cur.Expiry)
		lastTen := !now.Before(cur.Expiry.Add(-10 * time.Minute))
		if live && !(force && lastTen) {
			return cur, nil
		}
		delete(t.byToken, cur.Token)
	}
	sek, err := irpcrypto.NewKey()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 18)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	sess := &session{
		Token: base64.RawURLEncoding.EncodeToString(tok), SEK: sek, GSTIN: u.GSTIN, UserName: u.UserName,
		ClientID: cid, Instance: inst, Expiry: now.Add(s.cfg.TokenLifetime),
	}
	t.byUser[key] = sess
	t.byToken[sess.Token] = sess
	s.stats.tokens.Add(1)
	return sess, nil
}

// authorize checks the headers of a core API call and returns its session, or a NIC error code.
func (s *Sandbox) authorize(r *http.Request, inst string) (*session, string) {
	cid, csec, gstin := clientIDHeader(r), clientSecretHeader(r), header(r, "Gstin")
	user, tok := header(r, "user_name", "user-name", "username"), header(r, "AuthToken", "auth-token", "authtoken")
	switch {
	case cid == "":
		return nil, "1011"
	case csec == "":
		return nil, "1012"
	case gstin == "":
		return nil, "1004"
	case tok == "":
		return nil, "1005"
	}
	if sec, ok := s.clientIDs[cid]; !ok || sec != csec {
		return nil, "1010"
	}
	s.sessions.mu.RLock()
	sess := s.sessions.byToken[tok]
	s.sessions.mu.RUnlock()
	if sess == nil || sess.Instance != inst || !s.now().Before(sess.Expiry) || sess.ClientID != cid {
		return nil, "1005"
	}
	if user != "" && user != sess.UserName {
		return nil, "1005"
	}
	if !strings.EqualFold(gstin, sess.GSTIN) {
		return nil, "1015"
	}
	return sess, ""
}
