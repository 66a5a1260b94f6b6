package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every --sandbox-* flag reaches the sandbox's configuration.
func TestSandboxConfigFromFlags(t *testing.T) {
	c := Defaults()
	c.DataDir = "/var/lib/irpgate"
	got, err := c.sandboxConfig()
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/var/lib/irpgate", "sandbox"), got.DataDir)
	require.Equal(t, 360*time.Minute, got.TokenLifetime)
	require.Equal(t, 2, got.RetentionDays)
	require.True(t, got.AdminEnabled)
	require.EqualValues(t, 1, got.Seed)
	require.Nil(t, got.Taxpayers, "the built-in master")

	master := filepath.Join(t.TempDir(), "master.json")
	require.NoError(t, os.WriteFile(master, []byte(`{"taxpayers":[{"Gstin":"29AAACP7879D1Z0","TradeName":"Mine","LegalName":"Mine Pvt Ltd","Status":"ACT","StateCode":29,"AddrPncd":560001,"TxpType":"REG"}]}`), 0o600))
	c.SandboxDataDir, c.SandboxMaster = "/srv/sbx", master
	c.SandboxTokenLifetime, c.SandboxReplicationLag, c.SandboxRetentionDays = time.Hour, 2*time.Second, 3
	c.SandboxAdmin, c.SandboxSeed = false, 42
	c.SandboxLatency, c.SandboxLatencyJitter = 5*time.Millisecond, time.Millisecond
	c.SandboxErrorRate, c.SandboxAnswerLostRate, c.SandboxRateLimit = 0.1, 0.3, 50
	got, err = c.sandboxConfig()
	require.NoError(t, err)
	require.Equal(t, "/srv/sbx", got.DataDir)
	require.Equal(t, time.Hour, got.TokenLifetime)
	require.Equal(t, 2*time.Second, got.ReplicationLag)
	require.Equal(t, 3, got.RetentionDays)
	require.False(t, got.AdminEnabled)
	require.EqualValues(t, 42, got.Seed)
	require.Equal(t, 5*time.Millisecond, got.Faults.Latency.Base)
	require.Equal(t, time.Millisecond, got.Faults.Latency.Jitter)
	require.Equal(t, 0.1, got.Faults.ErrorRate)
	require.Equal(t, 0.3, got.Faults.AnswerLostRate)
	require.Equal(t, 50.0, got.Faults.RateLimit)
	require.Len(t, got.Taxpayers, 1)
	require.Equal(t, "29AAACP7879D1Z0", got.Taxpayers[0].Gstin)

	c = Defaults()
	c.SandboxErrorRate, c.SandboxAnswerLostRate, c.SandboxRateLimit = 30, -1, -5
	c.SandboxLatency, c.SandboxRetentionDays, c.SandboxSeed = -time.Second, -1, -3
	c.SandboxMaster = filepath.Join(t.TempDir(), "missing.json")
	_, err = c.sandboxConfig()
	require.Error(t, err)
	for _, flag := range []string{
		"sandbox-error-rate: 30", "sandbox-answer-lost-rate: -1", "sandbox-rate-limit: -5",
		"sandbox-latency: -1s", "sandbox-retention-days: -1", "sandbox-seed: -3", "sandbox-master:",
	} {
		require.Contains(t, err.Error(), flag)
	}
}
