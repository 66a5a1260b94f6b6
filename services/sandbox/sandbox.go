package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

// IST is the zone of every NIC timestamp.
var IST = einvoice.IST

const (
	nicTimeLayout = "2006-01-02 15:04:05"
	ewbTimeLayout = "02/01/2006 03:04:05 PM"
	maxBodyBytes  = 16 << 20
)

// Sandbox is an offline NIC IRP (two instances over one registry).
type Sandbox struct {
	cfg    Config
	clock  Clock
	keys   *Keys
	signer irpcrypto.Signer
	log    *slog.Logger

	taxpayers map[string]*Taxpayer
	tpList    []Taxpayer
	users     []User
	byName    map[string]*User  // user name -> user
	clientIDs map[string]string // client id -> secret

	sessions *sessions
	reg      *registry

	faultMu sync.RWMutex
	faults  *faultState

	rngMu sync.Mutex
	rng   *rand.Rand

	stats statCounters
}

// New builds a sandbox from cfg.
func New(cfg Config) (*Sandbox, error) {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 360 * time.Minute
	}
	if cfg.RetentionDays <= 0 {
		cfg.RetentionDays = 2
	}
	if cfg.CancelWindow <= 0 {
		cfg.CancelWindow = 24 * time.Hour
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	s := &Sandbox{cfg: cfg, clock: cfg.Clock, log: cfg.Logger}
	if s.clock == nil {
		s.clock = &OffsetClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch {
	case cfg.Keys != nil:
		s.keys = cfg.Keys
	case cfg.DataDir != "":
		s.keys, err = LoadOrCreateKeys(cfg.DataDir)
	default:
		s.keys, err = ProcessKeys()
	}
	if err != nil {
		return nil, err
	}
	if s.keys.Encryption == nil || s.keys.Signing == nil || s.keys.Certificate == nil {
		return nil, errors.New("sandbox: incomplete keys")
	}
	s.signer = irpcrypto.Signer{Key: s.keys.Signing, Cert: s.keys.Certificate, Issuer: "NIC Sandbox"}

	s.tpList = cfg.Taxpayers
	if s.tpList == nil {
		s.tpList = DefaultTaxpayers()
	}
	s.taxpayers = make(map[string]*Taxpayer, len(s.tpList))
	for i := range s.tpList {
		s.taxpayers[s.tpList[i].Gstin] = &s.tpList[i]
	}
	s.users = cfg.Users
	if s.users == nil {
		s.users = DefaultUsers(s.tpList)
	}
	s.byName = make(map[string]*User, len(s.users))
	s.clientIDs = map[string]string{}
	for i := range s.users {
		u := &s.users[i]
		if _, dup := s.byName[u.UserName]; dup {
			return nil, fmt.Errorf("sandbox: user name %q listed twice", u.UserName)
		}
		s.byName[u.UserName] = u
		if sec, ok := s.clientIDs[u.ClientID]; ok && sec != u.ClientSecret {
			return nil, fmt.Errorf("sandbox: client id %q has two secrets", u.ClientID)
		}
		s.clientIDs[u.ClientID] = u.ClientSecret
	}
	s.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	s.sessions = newSessions()
	s.reg = newRegistry(s.clock.Now())
	if cfg.DataDir != "" {
		if err := s.reg.openJournal(cfg.DataDir, s.log); err != nil {
			return nil, err
		}
	}
	s.SetFaults(cfg.Faults)
	s.stats.byGSTIN = map[string]int64{}
	s.stats.byOp = map[string]int64{}
	return s, nil
}

// Close closes the registry journal (Config.DataDir); the sandbox must not serve after it.
func (s *Sandbox) Close() error { return s.reg.close() }

// PublicKey is the RSA key clients encrypt the auth payload with.
func (s *Sandbox) PublicKey() *rsa.PublicKey { return &s.keys.Encryption.PublicKey }

// Certificate is the certificate whose key signs SignedInvoice and SignedQRCode.
func (s *Sandbox) Certificate() *x509.Certificate { return s.keys.Certificate }

// Users are the API users the sandbox accepts.
func (s *Sandbox) Users() []User { return append([]User(nil), s.users...) }

// Taxpayers is the GSTIN master in use.
func (s *Sandbox) Taxpayers() []Taxpayer { return append([]Taxpayer(nil), s.tpList...) }

// UserFor returns the first API user of a GSTIN.
func (s *Sandbox) UserFor(gstin string) (User, bool) {
	for _, u := range s.users {
		if u.GSTIN == gstin {
			return u, true
		}
	}
	return User{}, false
}

// Clock is the sandbox's clock.
func (s *Sandbox) Clock() Clock { return s.clock }

func (s *Sandbox) now() time.Time { return s.clock.Now() }

func (s *Sandbox) rand() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// Registered returns a copy of the IRN registry ordered by AckNo.
func (s *Sandbox) Registered() []Registration {
	out := s.reg.all()
	sort.Slice(out, func(i, j int) bool { return out[i].AckNo < out[j].AckNo })
	return out
}

// PrintCredentials writes the API users and where the keys are, for start-up banners.
func (s *Sandbox) PrintCredentials(w io.Writer) {
	kid, _ := irpcrypto.Thumbprint(s.keys.Certificate)
	fmt.Fprintf(w, "IRP sandbox: public keys at /sandbox/publickeys (signing kid %s)\n", kid)
	fmt.Fprintf(w, "%-17s %-16s %-22s %-24s %s\n", "GSTIN", "client_id", "client_secret", "user_name", "password")
	for _, u := range s.users {
		fmt.Fprintf(w, "%-17s %-16s %-22s %-24s %s\n", u.GSTIN, u.ClientID, u.ClientSecret, u.UserName, u.Password)
	}
}

// envelope is NIC's response envelope.
type envelope struct {
	Status       int        `json:"Status"`
	Data         any        `json:"Data"`
	ErrorDetails []nicError `json:"ErrorDetails"`
	InfoDtls     []infoDtl  `json:"InfoDtls"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// Declared, so a signed answer (several KB) is not sent chunked and a client can read it
	// into one buffer of the right size.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// statCounters are the live counters behind Stats.
type statCounters struct {
	requests, authCalls, authFailures, tokens, generateCalls, generated, duplicates, cancelCalls,
	getCalls, ewbCalls, cancelEWBCalls, gstinCalls, businessErrors, faults, lost, rateLimited atomic.Int64

	mu      sync.Mutex
	byGSTIN map[string]int64
	byOp    map[string]int64
}

func (c *statCounters) op(op string) {
	c.mu.Lock()
	c.byOp[op]++
	c.mu.Unlock()
}

// Stats returns the counters since start.
func (s *Sandbox) Stats() Stats {
	c := &s.stats
	st := Stats{
		Requests: c.requests.Load(), AuthCalls: c.authCalls.Load(), AuthFailures: c.authFailures.Load(),
		TokensIssued: c.tokens.Load(), GenerateCalls: c.generateCalls.Load(), Generated: c.generated.Load(),
		Duplicates: c.duplicates.Load(), CancelCalls: c.cancelCalls.Load(), GetCalls: c.getCalls.Load(),
		EWBCalls: c.ewbCalls.Load(), CancelEWBCalls: c.cancelEWBCalls.Load(), GSTINCalls: c.gstinCalls.Load(),
		BusinessErrors: c.businessErrors.Load(), FaultsInjected: c.faults.Load(), AnswersLost: c.lost.Load(),
		RateLimited:      c.rateLimited.Load(),
		AuthCallsByGSTIN: map[string]int64{}, ByOperation: map[string]int64{},
	}
	c.mu.Lock()
	for k, v := range c.byGSTIN {
		st.AuthCallsByGSTIN[k] = v
	}
	for k, v := range c.byOp {
		st.ByOperation[k] = v
	}
	c.mu.Unlock()
	return st
}
