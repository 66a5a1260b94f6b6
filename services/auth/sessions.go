package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/platform"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Timings of session handling.
const (
	// minUsable: a session with less left than this is not handed out.
	minUsable = time.Minute
	// recheckAfter: after an authentication that did not renew a session in
	// its refresh window (NIC returned the same token, or failed), the old
	// session is served this long before trying again, so clock skew or an
	// IRP outage does not turn every call into an authentication.
	recheckAfter = time.Minute
	// leaseFor bounds how long one replica may hold the right to
	// authenticate for a GSTIN and IRP; longer than authTimeout.
	leaseFor    = 90 * time.Second
	authTimeout = 60 * time.Second
	leasePoll   = 100 * time.Millisecond
	// memoryTTL bounds how long a replica answers from memory before it
	// reads the store again, so a session replaced or credentials deleted
	// through another replica stop being served within it.
	memoryTTL = 30 * time.Second
)

// sessionManager hands out one IRP session per GSTIN and IRP. Inside a
// process a singleflight group makes concurrent askers share one flight;
// across replicas a lease row in auth_sessions makes one replica
// authenticate while the others wait for the row to change.
type sessionManager struct {
	s      *Service
	window time.Duration

	mu    sync.Mutex
	cache map[string]*storedSession
	group singleflight.Group
}

type storedSession struct {
	sess    irpclient.Session
	checked time.Time // last authentication attempt (on the session clock)
	loaded  time.Time // when this replica read or wrote it (wall time)
}

func newSessionManager(s *Service, window time.Duration) *sessionManager {
	return &sessionManager{s: s, window: window, cache: map[string]*storedSession{}}
}

func sessionKey(gstin, irp string) string { return gstin + "|" + irp }

func (m *sessionManager) forget(gstin, irp string) {
	m.mu.Lock()
	delete(m.cache, sessionKey(gstin, irp))
	m.mu.Unlock()
}

// usable reports whether a stored session can be handed out to a caller
// who saw stale rejected ("" for none).
func (m *sessionManager) usable(st *storedSession, stale string, now time.Time) bool {
	if st == nil || !st.sess.ValidFor(now, minUsable) {
		return false
	}
	if stale != "" {
		return st.sess.AuthToken != stale
	}
	return st.sess.ValidFor(now, m.window) || now.Sub(st.checked) < recheckAfter
}

// get returns a live session; stale is the token a caller saw rejected.
func (m *sessionManager) get(ctx context.Context, gstin, irp, stale string) (*irpclient.Session, error) {
	k := sessionKey(gstin, irp)
	m.mu.Lock()
	st := m.cache[k]
	m.mu.Unlock()
	if m.usable(st, stale, m.s.now()) && time.Since(st.loaded) < memoryTTL {
		return cloneSession(st.sess), nil
	}
	flight := k
	if stale != "" {
		sum := sha256.Sum256([]byte(stale))
		flight += "|stale|" + hex.EncodeToString(sum[:8])
	}
	// The shared flight must not die with the first caller's context.
	fctx := trace.ContextWithSpan(context.WithoutCancel(ctx), trace.SpanFromContext(ctx))
	ch := m.group.DoChan(flight, func() (any, error) { return m.obtain(fctx, gstin, irp, stale) })
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return cloneSession(res.Val.(*storedSession).sess), nil
	}
}

func cloneSession(s irpclient.Session) *irpclient.Session {
	s.SEK = append([]byte(nil), s.SEK...)
	return &s
}

// obtain runs once per flight: use the stored session if it is good,
// otherwise take the lease and authenticate.
func (m *sessionManager) obtain(ctx context.Context, gstin, irp, stale string) (_ *storedSession, err error) {
	ctx, span := m.s.tracer.Start(ctx, "auth.session.obtain", trace.WithAttributes(
		attribute.String("irpgate.gstin", gstin), attribute.String("irpgate.irp", irp),
		attribute.Bool("irpgate.session.stale", stale != "")))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "session not obtained")
		}
		span.End()
	}()
	ctx, cancel := context.WithTimeout(ctx, authTimeout+leaseFor)
	defer cancel()

	cr, err := m.s.loadCredentials(ctx, gstin, irp)
	if err != nil {
		return nil, err
	}
	owner := randomHex(8)
	for {
		st, err := m.load(ctx, gstin, irp, cr)
		if err != nil {
			return nil, err
		}
		if m.usable(st, stale, m.s.now()) {
			span.SetAttributes(attribute.String("irpgate.session.source", "store"))
			m.remember(gstin, irp, st)
			return st, nil
		}
		ok, err := m.lease(ctx, gstin, irp, owner)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		// Another replica is authenticating: wait for its row.
		t := time.NewTimer(leasePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	defer m.release(context.WithoutCancel(ctx), gstin, irp, owner)

	// Another replica may have finished between our read and the lease.
	cur, err := m.load(ctx, gstin, irp, cr)
	if err != nil {
		return nil, err
	}
	now := m.s.now()
	if m.usable(cur, stale, now) {
		m.remember(gstin, irp, cur)
		return cur, nil
	}
	// NIC hands out a new token inside validity only with ForceRefresh, and
	// only in the token's last 10 minutes; a rejected token needs it too.
	force := cur != nil && (stale != "" || cur.sess.ValidFor(now, 0))
	span.SetAttributes(attribute.Bool("irpgate.session.force_refresh", force))
	if m.s.irp == nil {
		return nil, errors.New("auth: no IRP client configured")
	}
	actx, acancel := context.WithTimeout(ctx, authTimeout)
	fresh, aerr := m.s.irp.Authenticate(actx, cr, force)
	acancel()
	if aerr != nil {
		if cur != nil && stale == "" && cur.sess.ValidFor(now, minUsable) {
			// Keep serving the old token while it lasts; try again later.
			m.s.log.WarnContext(ctx, "auth: renewing IRP session failed; serving the current one",
				"gstin", gstin, "irp", irp, "error", aerr.Error())
			cur.checked = now
			_ = m.touch(ctx, gstin, irp, now)
			m.remember(gstin, irp, cur)
			return cur, nil
		}
		span.SetAttributes(attribute.StringSlice("irpgate.irp_error_codes", irpclient.Codes(aerr)))
		return nil, aerr
	}
	span.SetAttributes(attribute.String("irpgate.session.source", "irp"))
	st := &storedSession{sess: *fresh, checked: now}
	st.sess.GSTIN, st.sess.IRP = gstin, irp
	if err := m.save(ctx, gstin, irp, owner, st); err != nil {
		return nil, err
	}
	m.remember(gstin, irp, st)
	m.s.log.InfoContext(ctx, "auth: IRP session obtained", "gstin", gstin, "irp", irp,
		"expires", st.sess.Expiry, "forced", force)
	return st, nil
}

func (m *sessionManager) remember(gstin, irp string, st *storedSession) {
	st.loaded = time.Now()
	m.mu.Lock()
	m.cache[sessionKey(gstin, irp)] = st
	m.mu.Unlock()
}

// load reads the stored session (nil when there is none).
func (m *sessionManager) load(ctx context.Context, gstin, irp string, cr irpclient.Credentials) (*storedSession, error) {
	var tokEnc, sekEnc string
	var expire, checked int64
	err := m.s.db.QueryRowContext(ctx, `SELECT auth_token_enc, sek_enc, expire_ms, checked_ms FROM auth_sessions
		WHERE gstin = $1 AND irp = $2`, gstin, irp).Scan(&tokEnc, &sekEnc, &expire, &checked)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return nil, nil
		}
		return nil, err
	}
	if tokEnc == "" || sekEnc == "" {
		return nil, nil
	}
	tok, err := m.s.keys.open(tokEnc, sessionAAD(gstin, irp, "auth_token"))
	if err != nil {
		return nil, err
	}
	sek, err := m.s.keys.open(sekEnc, sessionAAD(gstin, irp, "sek"))
	if err != nil {
		return nil, err
	}
	return &storedSession{
		sess: irpclient.Session{
			GSTIN: gstin, IRP: irp, UserName: cr.UserName, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret,
			AuthToken: string(tok), SEK: sek, Expiry: time.UnixMilli(expire),
		},
		checked: time.UnixMilli(checked),
	}, nil
}

// lease tries to take the right to authenticate for the GSTIN and IRP.
func (m *sessionManager) lease(ctx context.Context, gstin, irp, owner string) (bool, error) {
	if _, err := m.s.db.ExecContext(ctx, `INSERT INTO auth_sessions (gstin, irp) VALUES ($1, $2)
		ON CONFLICT (gstin, irp) DO NOTHING`, gstin, irp); err != nil {
		return false, fmt.Errorf("auth: session row: %w", err)
	}
	now := m.s.now()
	res, err := m.s.db.ExecContext(ctx, `UPDATE auth_sessions SET lease_owner = $1, lease_until_ms = $2
		WHERE gstin = $3 AND irp = $4 AND (lease_owner = '' OR lease_until_ms < $5)`,
		owner, now.Add(leaseFor).UnixMilli(), gstin, irp, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("auth: session lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (m *sessionManager) release(ctx context.Context, gstin, irp, owner string) {
	_, _ = m.s.db.ExecContext(ctx, `UPDATE auth_sessions SET lease_owner = '', lease_until_ms = 0
		WHERE gstin = $1 AND irp = $2 AND lease_owner = $3`, gstin, irp, owner)
}

func (m *sessionManager) touch(ctx context.Context, gstin, irp string, now time.Time) error {
	_, err := m.s.db.ExecContext(ctx, `UPDATE auth_sessions SET checked_ms = $1 WHERE gstin = $2 AND irp = $3`,
		now.UnixMilli(), gstin, irp)
	return err
}

func (m *sessionManager) save(ctx context.Context, gstin, irp, owner string, st *storedSession) error {
	tok, err := m.s.keys.seal([]byte(st.sess.AuthToken), sessionAAD(gstin, irp, "auth_token"))
	if err != nil {
		return err
	}
	sek, err := m.s.keys.seal(st.sess.SEK, sessionAAD(gstin, irp, "sek"))
	if err != nil {
		return err
	}
	_, err = m.s.db.ExecContext(ctx, `UPDATE auth_sessions SET auth_token_enc = $1, sek_enc = $2, expire_ms = $3,
		checked_ms = $4, lease_owner = '', lease_until_ms = 0 WHERE gstin = $5 AND irp = $6 AND lease_owner = $7`,
		tok, sek, st.sess.Expiry.UnixMilli(), st.checked.UnixMilli(), gstin, irp, owner)
	if err != nil {
		return fmt.Errorf("auth: store session: %w", err)
	}
	return nil
}

func sessionProto(s *irpclient.Session) *authv1.Session {
	return &authv1.Session{
		Gstin: s.GSTIN, Irp: s.IRP, Username: s.UserName, ClientId: s.ClientID, ClientSecret: s.ClientSecret,
		AuthToken: s.AuthToken, Sek: s.SEK, ExpireTime: timestamppb.New(s.Expiry),
	}
}

// requireSessionReader lets only services and admins see IRP session
// secrets; an end caller's key never does, whatever GSTINs it may use.
func requireSessionReader(ctx context.Context) error {
	c, ok := callerauth.FromContext(ctx)
	if !ok {
		return platform.Status(grpccodes.Unauthenticated, errorsv1.ErrorReason_ERROR_REASON_UNAUTHENTICATED,
			"a service or admin token is required", nil).Err()
	}
	if !c.Service && !c.Admin {
		return platform.Status(grpccodes.PermissionDenied, errorsv1.ErrorReason_ERROR_REASON_ADMIN_REQUIRED,
			"IRP sessions are for irpgate services and admins only", nil).Err()
	}
	return nil
}

// GetSession implements authv1.AuthServiceServer.
func (s *Service) GetSession(ctx context.Context, req *authv1.GetSessionRequest) (*authv1.GetSessionResponse, error) {
	if err := requireSessionReader(ctx); err != nil {
		return nil, err
	}
	gstin, irp := normGSTIN(req.GetGstin()), s.normIRP(req.GetIrp())
	if err := s.checkKey(gstin, irp); err != nil {
		return nil, err
	}
	sess, err := s.sessions.get(ctx, gstin, irp, "")
	if err != nil {
		return nil, sessionError(ctx, s, gstin, irp, err)
	}
	return &authv1.GetSessionResponse{Session: sessionProto(sess)}, nil
}

// RefreshSession implements authv1.AuthServiceServer.
func (s *Service) RefreshSession(ctx context.Context, req *authv1.RefreshSessionRequest) (*authv1.RefreshSessionResponse, error) {
	if err := requireSessionReader(ctx); err != nil {
		return nil, err
	}
	gstin, irp := normGSTIN(req.GetGstin()), s.normIRP(req.GetIrp())
	if err := s.checkKey(gstin, irp); err != nil {
		return nil, err
	}
	if req.GetStaleAuthToken() == "" {
		return nil, invalidArgument("stale_auth_token", doc.ReasonRequired, "stale_auth_token is required")
	}
	sess, err := s.sessions.get(ctx, gstin, irp, req.GetStaleAuthToken())
	if err != nil {
		return nil, sessionError(ctx, s, gstin, irp, err)
	}
	return &authv1.RefreshSessionResponse{Session: sessionProto(sess)}, nil
}
