package platform_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/platform"
)

type testConfig struct {
	Addr     string        `flag:"grpc-addr" usage:"listen"`
	Verbose  bool          `flag:"verbose" usage:"chatty"`
	Workers  int           `flag:"workers" usage:"n"`
	Timeout  time.Duration `flag:"timeout" usage:"d"`
	Password string        `flag:"admin-key" usage:"k" secret:"true"`
	DB       string        `flag:"database-url" usage:"u"`
}

func TestFlagsMirrorEnvAndFlagsWin(t *testing.T) {
	t.Setenv("IRPGATE_GRPC_ADDR", "127.0.0.1:9999")
	t.Setenv("IRPGATE_WORKERS", "7")
	t.Setenv("IRPGATE_TIMEOUT", "3s")
	cfg := testConfig{Addr: "default", Workers: 1}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	require.NoError(t, platform.BindFlags(fs, &cfg))
	require.NoError(t, fs.Parse([]string{"-workers=9"}))
	require.Equal(t, "127.0.0.1:9999", cfg.Addr, "env sets the default")
	require.Equal(t, 9, cfg.Workers, "an explicit flag wins over env")
	require.Equal(t, 3*time.Second, cfg.Timeout)
}

func TestBadEnvValueNamesTheVariable(t *testing.T) {
	t.Setenv("IRPGATE_WORKERS", "many")
	err := platform.BindFlags(flag.NewFlagSet("t", flag.ContinueOnError), &testConfig{})
	require.ErrorContains(t, err, "IRPGATE_WORKERS")
}

func TestRedactedHidesSecrets(t *testing.T) {
	got := platform.Redacted(testConfig{Password: "s3cret-key", DB: "postgres://irp:hunter2@db:5432/irpgate"})
	require.Equal(t, "[redacted]", got["admin-key"])
	require.Equal(t, "postgres://irp:xxxxx@db:5432/irpgate", got["database-url"])
	for _, v := range got {
		require.NotContains(t, v, "s3cret")
		require.NotContains(t, v, "hunter2")
	}
}
