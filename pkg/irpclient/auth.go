package irpclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// Authenticate runs the v1.04 flow: a fresh AppKey, the credentials JSON
// RSA-encrypted with the IRP's public key, and the SEK decrypted with the
// AppKey. Inside the token's validity the IRP returns the same token unless
// forceRefresh is set (honoured by NIC in the token's last minutes).
func (c *Client) Authenticate(ctx context.Context, cr Credentials, forceRefresh bool) (*Session, error) {
	irp := strings.ToUpper(cr.IRP)
	if irp == "" {
		irp = c.cfg.DefaultIRP
	}
	pub := c.cfg.PublicKeys[irp]
	if pub == nil {
		return nil, fmt.Errorf("irpclient: Authenticate: no public key configured for IRP %s", irp)
	}
	appKey, err := irpcrypto.NewKey()
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(struct { //nolint:gosec // G117: the NIC auth payload carries the password by protocol; it is RSA-encrypted with the IRP's public key below, never sent or logged in the clear
		UserName                string
		Password                string
		AppKey                  string
		ForceRefreshAccessToken bool
	}{cr.UserName, cr.Password, base64.StdEncoding.EncodeToString(appKey), forceRefresh})
	if err != nil {
		return nil, err
	}
	data, err := irpcrypto.EncryptAuthPayload(pub, payload)
	if err != nil {
		return nil, fmt.Errorf("irpclient: Authenticate: %w", err)
	}
	body, err := json.Marshal(struct {
		Data string `json:"Data"`
	}{data})
	if err != nil {
		return nil, err
	}
	r := &request{
		api: "Authenticate", method: http.MethodPost, path: pathAuth, irp: irp, gstin: cr.GSTIN,
		kind: kindAuth, idempotent: true, payload: body, creds: &cr,
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out struct {
		ClientID    flexString `json:"ClientId"`
		UserName    flexString
		AuthToken   flexString
		Sek         flexString
		TokenExpiry flexString
	}
	if len(resp.data) == 0 || json.Unmarshal(resp.data, &out) != nil {
		return nil, c.unreadable(r, resp, errors.New("auth Data is not the expected object"))
	}
	if out.AuthToken == "" || out.Sek == "" {
		return nil, c.unreadable(r, resp, errors.New("auth Data lacks AuthToken or Sek"))
	}
	sek, err := irpcrypto.DecryptB64(appKey, string(out.Sek))
	if err != nil {
		return nil, c.unreadable(r, resp, errors.New("the Sek in the auth answer does not decrypt with the AppKey"))
	}
	if len(sek) != irpcrypto.KeySize {
		return nil, c.unreadable(r, resp, fmt.Errorf("SEK is %d bytes, want %d", len(sek), irpcrypto.KeySize))
	}
	s := &Session{
		GSTIN: cr.GSTIN, UserName: cr.UserName, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, IRP: irp,
		AuthToken: string(out.AuthToken), SEK: sek,
	}
	if out.UserName != "" {
		s.UserName = string(out.UserName)
	}
	if exp, err := time.ParseInLocation(tokenTimeLayout, strings.TrimSpace(string(out.TokenExpiry)), IST); err == nil {
		s.Expiry = exp
	} else {
		// Without a readable expiry assume the sandbox's 60 minutes, the shorter lifetime.
		s.Expiry = time.Now().Add(time.Hour)
	}
	return s, nil
}
