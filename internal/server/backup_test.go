package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/server"
)

// A backup of a running irpgate is a data directory another irpgate starts from: it has
// the registrations made before the backup (signed data and all), the API keys, and the
// IRP credentials, which open with the master key copied beside them.
func TestBackupOfARunningIrpgateRestores(t *testing.T) {
	dir := t.TempDir()
	e := startE2EIn(t, dir, "all", "", nil)
	register := func(e *e2e) map[string]any {
		t.Helper()
		code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
		require.Equal(t, http.StatusOK, code, "%v", out)
		return out["details"].(map[string]any)
	}
	var before []map[string]any
	for range 3 {
		before = append(before, register(e))
	}

	cfg := server.Defaults()
	cfg.DataDir = dir
	dest := filepath.Join(t.TempDir(), "copy")
	r, err := server.Backup(t.Context(), cfg, dest)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dest, "irpgate.db"), r.Database)
	require.Equal(t, int64(3), r.Rows["einvoice_documents"])
	require.Positive(t, r.Rows["auth_api_keys"])
	require.Subset(t, r.Files, []string{"master.key", "service.key", "sandbox/registry.jsonl", "sandbox/sandbox-signing-key.pem"})
	for _, f := range r.Files {
		require.NotContains(t, f, "irpgate.db", "the live database's files are not copied; the snapshot is")
	}
	info, err := os.Stat(filepath.Join(dest, "master.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "keys keep their modes")
	late := register(e)

	restored := startE2EIn(t, dest, "all", "", nil)
	asBefore := map[string]string{"X-Api-Key": e.sellerKey} // an API key made before the backup
	for _, d := range before {
		code, got, _ := restored.call(t, http.MethodGet, "/v1/einvoice/irn/"+d["Irn"].(string), "", nil, asBefore)
		require.Equal(t, http.StatusOK, code, "%v", got)
		for _, k := range []string{"AckNo", "AckDt", "SignedInvoice", "SignedQRCode"} {
			require.Equal(t, d[k], got["details"].(map[string]any)[k], k)
		}
	}
	code, got, _ := restored.call(t, http.MethodGet, "/v1/einvoice/irn/"+late["Irn"].(string), "", nil, asBefore)
	require.Equal(t, http.StatusNotFound, code, "registered after the backup: %v", got)
	register(restored) // the IRP credentials open with the copied master key

	_, err = server.Backup(t.Context(), cfg, dest)
	require.ErrorContains(t, err, "is not empty")
	wrong := server.Defaults()
	wrong.DataDir = t.TempDir()
	_, err = server.Backup(t.Context(), wrong, filepath.Join(t.TempDir(), "copy"))
	require.ErrorContains(t, err, "no irpgate database at "+filepath.Join(wrong.DataDir, "irpgate.db"))
	_, err = os.Stat(filepath.Join(wrong.DataDir, "irpgate.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "a wrong data directory gets no new database")
}

// With PostgreSQL the database is pg_dump's to copy: the backup holds the keys only, and
// not a SQLite file left in the data directory, which a file copy could catch mid-write.
func TestBackupWithPostgresCopiesTheKeys(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"master.key": "k\n", "irpgate.db": "x", "irpgate.db-wal": "y", "sandbox/registry.jsonl": "{}\n"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600))
	}
	cfg := server.Defaults()
	cfg.DataDir, cfg.DatabaseURL = dir, "postgres://irpgate@127.0.0.1:1/none"
	r, err := server.Backup(t.Context(), cfg, filepath.Join(t.TempDir(), "copy"))
	require.NoError(t, err)
	require.Empty(t, r.Database)
	require.Equal(t, []string{"master.key", "sandbox/registry.jsonl"}, r.Files)
}

// The data directory may be a link, and the backup may go inside it: the link is followed,
// and the backup does not copy itself.
func TestBackupOfALinkedDataDirIntoItself(t *testing.T) {
	real := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(real, "master.key"), []byte("k\n"), 0o600))
	link := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Symlink(real, link))
	cfg := server.Defaults()
	cfg.DataDir, cfg.DatabaseURL = link, "postgres://irpgate@127.0.0.1:1/none"
	r, err := server.Backup(t.Context(), cfg, filepath.Join(link, "backups", "1"))
	require.NoError(t, err)
	require.Equal(t, []string{"master.key"}, r.Files)
	require.FileExists(t, filepath.Join(real, "backups", "1", "master.key"))
}
