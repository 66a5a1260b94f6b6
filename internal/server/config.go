package server

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles a process can run.
const (
	RoleAuth     = "auth"
	RoleEInvoice = "einvoice"
	RoleEwayBill = "ewaybill"
	RoleGstin    = "gstin"
	RoleGateway  = "gateway"
	RoleSandbox  = "sandbox"
)

// AllRoles is what --target=all runs.
var AllRoles = []string{RoleAuth, RoleEInvoice, RoleEwayBill, RoleGstin, RoleGateway, RoleSandbox}

// Config is the whole configuration of `irpgate serve`. Every field is a
// flag mirrored by an IRPGATE_* environment variable.
type Config struct {
	Target          string        `flag:"target" usage:"roles to run: all, or a comma list of auth,einvoice,ewaybill,gstin,gateway,sandbox"`
	GRPCAddr        string        `flag:"grpc-addr" usage:"gRPC listen address"`
	HTTPAddr        string        `flag:"http-addr" usage:"listen address of /healthz and /metrics, and of the REST API with the gateway role (empty: none, without the gateway)"`
	SandboxAddr     string        `flag:"sandbox-addr" usage:"sandbox IRP listen address"`
	DataDir         string        `flag:"data-dir" usage:"directory for the embedded SQLite database and generated keys"`
	DatabaseURL     string        `flag:"database-url" usage:"postgres:// URL, or sqlite:///path/to/file.db?_pragma=synchronous(FULL) for a SQLite file of your own; embedded SQLite in the data directory when empty"`
	AuthAddr        string        `flag:"auth-addr" usage:"address of the auth service (this process when empty)"`
	EInvoiceAddr    string        `flag:"einvoice-addr" usage:"address of the einvoice service (this process when empty)"`
	EwayBillAddr    string        `flag:"ewaybill-addr" usage:"address of the ewaybill service (this process when empty)"`
	GstinAddr       string        `flag:"gstin-addr" usage:"address of the gstin service (this process when empty)"`
	IRPURLs         string        `flag:"irp-urls" usage:"IRP base URLs as NAME=URL,...; the built-in sandbox when empty"`
	DefaultIRP      string        `flag:"default-irp" usage:"IRP used when a request names none"`
	IRPFailover     bool          `flag:"irp-failover" usage:"send a document that names no IRP to the other NIC IRP when its own cannot be reached, and a cancellation there criss-cross (needs NIC1 and NIC2)"`
	IRPHeartbeat    time.Duration `flag:"irp-heartbeat" usage:"how often einvoice asks each IRP's heartbeat, for einvoice_irp_up and failover (0: never; through a GSP that bills each call, consider a longer interval)"`
	IRPKeyFile      string        `flag:"irp-public-key-file" usage:"PEM of the IRP's auth encryption key; the sandbox's when empty"`
	IRPCertFile     string        `flag:"irp-cert-file" usage:"PEM certificates that sign SignedInvoice/SignedQRCode; the sandbox's when empty"`
	MasterKeyFile   string        `flag:"master-key-file" usage:"file holding the master key that encrypts stored secrets; made in the data directory when empty"`
	AdminKey        string        `flag:"admin-key" usage:"bootstrap admin API key (production: from a secret)" secret:"true"`
	LogLevel        string        `flag:"log-level" usage:"debug, info, warn or error"`
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" usage:"how long in-flight requests may take to finish on shutdown"`
	IdempotencyTTL  time.Duration `flag:"idempotency-ttl" usage:"how long an Idempotency-Key is remembered"`
	HealthInterval  time.Duration `flag:"health-interval" usage:"how often auth and einvoice ping their database; their gRPC health by service name and /healthz/services follow it (0: never)"`
	AcceptTestGSTIN bool          `flag:"accept-test-gstins" usage:"accept NIC's sandbox test GSTINs that fail the check digit (always on with the built-in sandbox; set it against NIC's sandbox)"`

	// The sandbox role (docs/sandbox.md).
	SandboxNIC2Addr       string        `flag:"sandbox-nic2-addr" usage:"also serve the sandbox's NIC2 at / on this address"`
	SandboxDataDir        string        `flag:"sandbox-data-dir" usage:"directory keeping the sandbox's keys and IRN registry; <data-dir>/sandbox when empty"`
	SandboxMaster         string        `flag:"sandbox-master" usage:"sandbox taxpayer master JSON file {\"taxpayers\":[...],\"users\":[...]}; built-in when empty"`
	SandboxTokenLifetime  time.Duration `flag:"sandbox-token-lifetime" usage:"sandbox AuthToken lifetime"`
	SandboxReplicationLag time.Duration `flag:"sandbox-replication-lag" usage:"delay before an IRN registered on one sandbox instance is readable on the other"`
	SandboxRetentionDays  int           `flag:"sandbox-retention-days" usage:"days the sandbox answers Get IRN / by document before 2283"`
	SandboxAdmin          bool          `flag:"sandbox-admin" usage:"serve /sandbox/admin/... (faults, clock, stats; loopback callers only)"`
	SandboxSeed           int           `flag:"sandbox-seed" usage:"seed of every random choice of the sandbox (faults)"`
	SandboxLatency        time.Duration `flag:"sandbox-latency" usage:"latency the sandbox adds to each call"`
	SandboxLatencyJitter  time.Duration `flag:"sandbox-latency-jitter" usage:"uniform extra latency, up to this"`
	SandboxErrorRate      float64       `flag:"sandbox-error-rate" usage:"probability the sandbox fails a call before doing anything (5xx, reset or timeout)"`
	SandboxAnswerLostRate float64       `flag:"sandbox-answer-lost-rate" usage:"probability a successful sandbox write is kept but its answer lost"`
	SandboxRateLimit      float64       `flag:"sandbox-rate-limit" usage:"requests per second per sandbox instance, HTTP 429 beyond (0: none)"`
}

// Defaults returns the embedded defaults: everything in one process on
// loopback, SQLite under ./data, the sandbox as the IRP.
func Defaults() Config {
	return Config{
		Target:          "all",
		GRPCAddr:        "127.0.0.1:8081",
		HTTPAddr:        "127.0.0.1:8080",
		SandboxAddr:     "127.0.0.1:8090",
		DataDir:         "data",
		DefaultIRP:      "NIC1",
		IRPFailover:     true,
		IRPHeartbeat:    15 * time.Second,
		LogLevel:        "info",
		ShutdownTimeout: 20 * time.Second,
		IdempotencyTTL:  24 * time.Hour,
		HealthInterval:  5 * time.Second,

		SandboxTokenLifetime: 360 * time.Minute,
		SandboxRetentionDays: 2,
		SandboxAdmin:         true,
		SandboxSeed:          1,
	}
}

// Roles parses Target.
func (c Config) Roles() ([]string, error) {
	if c.Target == "" || c.Target == "all" {
		return AllRoles, nil
	}
	var out []string
	for r := range strings.SplitSeq(c.Target, ",") {
		r = strings.TrimSpace(r)
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("target: unknown role %q (want all or a comma list of %s)", r, strings.Join(AllRoles, ","))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}
