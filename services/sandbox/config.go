package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
)

// Instance names of the two NIC IRPs.
const (
	NIC1 = "NIC1"
	NIC2 = "NIC2"
)

// Config configures a Sandbox. The zero value works: built-in taxpayers, in-memory keys shared by
// the process, a wall clock that the admin endpoint can move, no faults.
type Config struct {
	// DataDir keeps the RSA encryption key, the signing key/certificate (created on first
	// start) and the IRN registry (registry.jsonl) across restarts. Empty: keys live in
	// memory, generated once per process, and the registry lives as long as the Sandbox.
	DataDir string
	// TokenLifetime of an AuthToken; 0 means 360 minutes (NIC production).
	TokenLifetime time.Duration
	// Clock is the sandbox's now; nil means wall time with an adjustable offset.
	Clock Clock
	// Taxpayers is the GSTIN master; nil means the built-in one (DefaultTaxpayers).
	Taxpayers []Taxpayer
	// Users are the API users; nil means one default user per taxpayer (DefaultUsers).
	Users []User
	// ReplicationLag delays when an IRN registered on one instance becomes readable through the
	// other one ("criss-cross" with the irp header). Measured on Clock.
	ReplicationLag time.Duration
	// RetentionDays is how long Get-by-IRN/by-document answers (2283 after); 0 means 2.
	RetentionDays int
	// CancelWindow after AckDt during which Cancel IRN is allowed (2270 after); 0 means 24 h.
	CancelWindow time.Duration
	// EnforceCheckDigit refuses GSTINs with a wrong check digit even for NIC's test GSTINs
	// (which NIC's own sandbox accepts). Off by default, as on NIC's sandbox.
	EnforceCheckDigit bool
	// Faults injected for tests; can be changed at run time with SetFaults or the admin endpoint.
	Faults Faults
	// Logger receives one line per request (never secrets); nil discards.
	Logger *slog.Logger
	// AdminEnabled serves /sandbox/admin/... (loopback callers only).
	AdminEnabled bool
	// Keys, when set, are used instead of DataDir or the per-process keys.
	Keys *Keys
	// Seed makes every random choice of the sandbox (the faults) repeatable;
	// 0 means 1. Tokens and session keys always come from crypto/rand.
	Seed uint64
}

// Keys are the sandbox's key material.
type Keys struct {
	// Encryption is the RSA-2048 key whose public half clients use for the auth payload.
	Encryption *rsa.PrivateKey
	// Signing signs SignedInvoice and SignedQRCode; Certificate is its self-signed certificate.
	Signing     *rsa.PrivateKey
	Certificate *x509.Certificate
}

// User is an API user of the IRP portal: client credentials (per PAN on NIC) plus a user name.
type User struct {
	GSTIN        string `json:"gstin"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	UserName     string `json:"user_name"`
	Password     string `json:"password"`
}

// Taxpayer is one row of the GSTIN master, in the shape of NIC's Get GSTIN Details answer plus
// the sandbox's own flags.
type Taxpayer struct {
	Gstin     string `json:"Gstin"`
	TradeName string `json:"TradeName"`
	LegalName string `json:"LegalName"`
	AddrBnm   string `json:"AddrBnm"`
	AddrBno   string `json:"AddrBno"`
	AddrFlno  string `json:"AddrFlno"`
	AddrSt    string `json:"AddrSt"`
	AddrLoc   string `json:"AddrLoc"`
	StateCode int    `json:"StateCode"`
	AddrPncd  int    `json:"AddrPncd"`
	TxpType   string `json:"TxpType"`   // REG, SEZ, COM, TCS, ...
	Status    string `json:"Status"`    // ACT, INA, CNL, PRO
	BlkStatus string `json:"BlkStatus"` // U or "" unblocked, B blocked for EWB
	DtReg     string `json:"DtReg"`     // yyyy-MM-dd
	DtDReg    string `json:"DtDReg"`    // yyyy-MM-dd or ""
	// EInvoiceEnabled: users of a GSTIN that is not enabled cannot authenticate (1014).
	EInvoiceEnabled bool `json:"EInvoiceEnabled"`
	// LargeTaxpayer turns on the 30-day reporting window (AATO >= 10 crore).
	LargeTaxpayer bool `json:"LargeTaxpayer"`
}

// Faults are the failure knobs. All probabilities are 0..1 and drawn from the seeded generator.
type Faults struct {
	// Latency added to every API call (wall time).
	Latency Latency `json:"latency"`
	// ErrorRate is the probability that a call fails before doing anything, as HTTP 5xx,
	// a connection reset or a timeout, chosen with ErrorMix.
	ErrorRate float64  `json:"error_rate"`
	ErrorMix  ErrorMix `json:"error_mix"`
	// AnswerLostRate is the probability that a successful write (generate, cancel, EWB) is kept
	// but its answer never arrives: the connection is dropped, or a 5xx or timeout is returned
	// (chosen with ErrorMix).
	AnswerLostRate float64 `json:"answer_lost_rate"`
	// Outages: windows on the sandbox clock during which an instance answers 503.
	Outages []Outage `json:"outages"`
	// RateLimit per instance in requests per second (0 = none) with Burst; excess gets HTTP 429
	// with Retry-After: RetryAfterSeconds (default 1).
	RateLimit         float64 `json:"rate_limit"`
	Burst             int     `json:"burst"`
	RetryAfterSeconds int     `json:"retry_after_seconds"`
	// TimeoutAfter is how long a "timeout" holds the request before answering 504 (default 60 s;
	// it ends sooner if the client goes away).
	TimeoutAfter time.Duration `json:"timeout_after"`
	// Only limits faults to these operations (see Operation names); empty means all API calls.
	Only []string `json:"only"`
	// Instances limits faults to these instances ("NIC1", "NIC2"); empty means both.
	Instances []string `json:"instances"`
}

// Latency is Base plus a uniform Jitter, and with probability SlowRate an extra Slow.
type Latency struct {
	Base     time.Duration `json:"base"`
	Jitter   time.Duration `json:"jitter"`
	SlowRate float64       `json:"slow_rate"`
	Slow     time.Duration `json:"slow"`
}

// ErrorMix weighs the kinds of injected failures; all zero means equal weights.
type ErrorMix struct {
	HTTP5xx float64 `json:"http_5xx"`
	Reset   float64 `json:"reset"`
	Timeout float64 `json:"timeout"`
}

// Outage makes Instance ("NIC1", "NIC2" or "" for both) unavailable from From until To
// (zero To: until removed).
type Outage struct {
	Instance string    `json:"instance"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// Operation names, used by Faults.Only and Stats.
const (
	OpAuth         = "auth"
	OpGenerate     = "generate"
	OpCancel       = "cancel"
	OpGetByIRN     = "get_irn"
	OpGetByDoc     = "get_irn_by_doc"
	OpGenerateEWB  = "generate_ewb"
	OpGetEWB       = "get_ewb"
	OpCancelEWB    = "cancel_ewb"
	OpGSTIN        = "gstin"
	OpSyncGSTIN    = "sync_gstin"
	OpPing         = "ping"
	OpEnablement   = "einvoice_status"
	OpBuyerInvoice = "buyer_einvoices"
	OpSearch       = "gstin_search"
	OpVerify       = "verify"
)

// Stats are counters since start.
type Stats struct {
	Requests         int64            `json:"requests"`
	AuthCalls        int64            `json:"auth_calls"`
	AuthCallsByGSTIN map[string]int64 `json:"auth_calls_by_gstin"`
	AuthFailures     int64            `json:"auth_failures"`
	TokensIssued     int64            `json:"tokens_issued"`
	GenerateCalls    int64            `json:"generate_calls"`
	Generated        int64            `json:"generated"`
	Duplicates       int64            `json:"duplicates"`
	CancelCalls      int64            `json:"cancel_calls"`
	GetCalls         int64            `json:"get_calls"`
	EWBCalls         int64            `json:"ewb_calls"`
	CancelEWBCalls   int64            `json:"cancel_ewb_calls"`
	GSTINCalls       int64            `json:"gstin_calls"`
	BusinessErrors   int64            `json:"business_errors"`
	FaultsInjected   int64            `json:"faults_injected"`
	AnswersLost      int64            `json:"answers_lost"`
	RateLimited      int64            `json:"rate_limited"`
	ByOperation      map[string]int64 `json:"by_operation"`
}

// Registration is one entry of the shared IRN registry.
type Registration struct {
	Irn           string    `json:"Irn"`
	Instance      string    `json:"Instance"` // NIC1 or NIC2: where it was generated
	SellerGSTIN   string    `json:"SellerGstin"`
	BuyerGSTIN    string    `json:"BuyerGstin"`
	DocType       string    `json:"DocTyp"`
	DocNo         string    `json:"DocNo"`
	DocDate       string    `json:"DocDt"` // dd/MM/yyyy
	TotInvVal     float64   `json:"TotInvVal"`
	AckNo         int64     `json:"AckNo"`
	AckDt         time.Time `json:"AckDt"`
	Status        string    `json:"Status"` // ACT or CNL
	CancelDate    time.Time `json:"CancelDate,omitzero"`
	CancelReason  string    `json:"CnlRsn,omitempty"`
	CancelRemark  string    `json:"CnlRem,omitempty"`
	EwbNo         int64     `json:"EwbNo,omitempty"`
	EwbStatus     string    `json:"EwbStatus,omitempty"` // ACT or CNL
	EwbDt         time.Time `json:"EwbDt,omitzero"`
	EwbValidTill  time.Time `json:"EwbValidTill,omitzero"`
	SignedInvoice string    `json:"SignedInvoice"`
	SignedQRCode  string    `json:"SignedQRCode"`
}

// operations are the names Faults.Only takes.
var operations = []string{
	OpAuth, OpGenerate, OpCancel, OpGetByIRN, OpGetByDoc, OpGenerateEWB, OpGetEWB,
	OpCancelEWB, OpGSTIN, OpSyncGSTIN, OpPing, OpEnablement, OpBuyerInvoice, OpSearch, OpVerify,
}

// Validate reports every setting of f that cannot be applied, each naming its JSON field
// and the rule: a typo in Only or a rate of 30 (meant as 30%) would otherwise inject no
// faults, or faults everywhere, without a word.
func (f Faults) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for name, v := range map[string]float64{
		"error_rate": f.ErrorRate, "answer_lost_rate": f.AnswerLostRate,
		"latency.slow_rate": f.Latency.SlowRate,
	} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			bad("%s %v must be a probability from 0 to 1", name, v)
		}
	}
	for name, v := range map[string]float64{
		"error_mix.http_5xx": f.ErrorMix.HTTP5xx, "error_mix.reset": f.ErrorMix.Reset,
		"error_mix.timeout": f.ErrorMix.Timeout, "rate_limit": f.RateLimit,
		"burst": float64(f.Burst), "retry_after_seconds": float64(f.RetryAfterSeconds),
	} {
		if v < 0 || math.IsNaN(v) {
			bad("%s %v must not be negative", name, v)
		}
	}
	for name, v := range map[string]time.Duration{
		"latency.base": f.Latency.Base, "latency.jitter": f.Latency.Jitter,
		"latency.slow": f.Latency.Slow, "timeout_after": f.TimeoutAfter,
	} {
		if v < 0 {
			bad("%s %v must not be negative (durations are in nanoseconds)", name, v)
		}
	}
	for i, op := range f.Only {
		if !slices.Contains(operations, op) {
			bad("only[%d] %q is not an operation (want one of %s)", i, op, strings.Join(operations, ", "))
		}
	}
	for i, in := range f.Instances {
		if in != NIC1 && in != NIC2 {
			bad("instances[%d] %q is not an instance (want NIC1 or NIC2)", i, in)
		}
	}
	for i, o := range f.Outages {
		if o.Instance != "" && o.Instance != NIC1 && o.Instance != NIC2 {
			bad("outages[%d].instance %q is not an instance (want NIC1, NIC2 or empty for both)", i, o.Instance)
		}
		if !o.To.IsZero() && o.To.Before(o.From) {
			bad("outages[%d]: to is before from", i)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
