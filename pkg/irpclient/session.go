package irpclient

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Credentials are an IRP API user's: the client id/secret issued to the
// taxpayer or GSP, and the API user created on the IRP portal.
type Credentials struct {
	GSTIN        string
	ClientID     string
	ClientSecret string
	UserName     string
	Password     string
	IRP          string // NIC1, NIC2, SANDBOX, ...; empty = Config.DefaultIRP
}

// String redacts the secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{GSTIN:%s IRP:%s ClientID:%s UserName:%s ClientSecret:%s Password:%s}",
		c.GSTIN, c.IRP, c.ClientID, c.UserName, redacted(c.ClientSecret), redacted(c.Password))
}

// GoString redacts the secrets for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts the secrets for log/slog.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("gstin", c.GSTIN), slog.String("irp", c.IRP),
		slog.String("client_id", c.ClientID), slog.String("user_name", c.UserName))
}

// Session is an authenticated IRP session: the AuthToken and the decrypted
// session encryption key (SEK) that encrypts every request and response.
type Session struct {
	GSTIN        string
	UserName     string
	ClientID     string
	ClientSecret string
	IRP          string
	AuthToken    string
	SEK          []byte
	Expiry       time.Time
}

// String redacts the secrets.
func (s *Session) String() string {
	if s == nil {
		return "Session(nil)"
	}
	return fmt.Sprintf("Session{GSTIN:%s IRP:%s UserName:%s ClientID:%s Expiry:%s AuthToken:%s SEK:%s ClientSecret:%s}",
		s.GSTIN, s.IRP, s.UserName, s.ClientID, s.Expiry.Format(time.RFC3339), redacted(s.AuthToken), redacted(string(s.SEK)), redacted(s.ClientSecret))
}

// GoString redacts the secrets for %#v.
func (s *Session) GoString() string { return s.String() }

// LogValue redacts the secrets for log/slog.
func (s *Session) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("nil")
	}
	return slog.GroupValue(slog.String("gstin", s.GSTIN), slog.String("irp", s.IRP),
		slog.String("user_name", s.UserName), slog.String("client_id", s.ClientID), slog.Time("expiry", s.Expiry))
}

// ValidFor reports whether the session is usable for at least d more.
func (s *Session) ValidFor(now time.Time, d time.Duration) bool {
	return s != nil && s.AuthToken != "" && len(s.SEK) > 0 && (s.Expiry.IsZero() || now.Add(d).Before(s.Expiry))
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[REDACTED]"
}

// SessionSource supplies sessions for calls: the auth service over gRPC, or
// LocalSessions in-process. The client calls Refresh once when the IRP
// rejects a session (1005) and replays the call with the new one.
type SessionSource interface {
	Session(ctx context.Context, gstin, irp string) (*Session, error)
	Refresh(ctx context.Context, stale *Session) (*Session, error)
}
