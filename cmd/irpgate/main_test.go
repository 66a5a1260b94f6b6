package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/proctest"
)

// SIGTERM while a request is in flight: the request finishes with its
// answer, and the process exits 0.
func TestSIGTERMLetsInFlightRequestFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := proctest.Build(t, "github.com/irpgate/irpgate/cmd/irpgate")

	httpAddr, grpcAddr, sbAddr := proctest.FreeAddr(t), proctest.FreeAddr(t), proctest.FreeAddr(t)
	var logs bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--data-dir="+t.TempDir(),
		"--http-addr="+httpAddr, "--grpc-addr="+grpcAddr, "--sandbox-addr="+sbAddr, "--shutdown-timeout=10s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	proctest.WaitHealthy(t, httpAddr, &logs)

	// Make the sandbox's heartbeat take a second, so the request is surely in flight.
	faults := `{"latency":{"base":1000000000},"only":["ping"]}`
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+sbAddr+"/sandbox/admin/faults", strings.NewReader(faults))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + sbAddr + "/eivital/v1.04/heartbeat/ping")
		if err != nil {
			done <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		done <- result{code: res.StatusCode}
	}()
	require.Eventually(t, func() bool { return pingsStarted(t, sbAddr) >= 1 }, 10*time.Second, 5*time.Millisecond)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.code)
	require.NoError(t, cmd.Wait(), "exit status after SIGTERM; logs: %s", &logs)
}

func pingsStarted(t *testing.T, sbAddr string) int64 {
	res, err := http.Get("http://" + sbAddr + "/sandbox/admin/stats")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var st struct {
		ByOperation map[string]int64 `json:"by_operation"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Log(fmt.Sprint("stats: ", err))
		return 0
	}
	return st.ByOperation["ping"]
}

// `irpgate backup DIR` beside a serving irpgate writes a data directory with the database
// and the keys, and says what it wrote; a second run into the same directory is refused.
func TestBackupBesideAServingIrpgate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := proctest.Build(t, "github.com/irpgate/irpgate/cmd/irpgate")
	dataDir, httpAddr := t.TempDir(), proctest.FreeAddr(t)
	srv := proctest.Start(t, bin, "serve", "--data-dir="+dataDir, "--http-addr="+httpAddr,
		"--grpc-addr="+proctest.FreeAddr(t), "--sandbox-addr="+proctest.FreeAddr(t))
	proctest.WaitHealthy(t, httpAddr, srv.Logs)

	dest := filepath.Join(t.TempDir(), "backup")
	out, err := exec.CommandContext(t.Context(), bin, "backup", "--data-dir="+dataDir, dest).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "database: "+filepath.Join(dest, "irpgate.db")+" (integrity check ok)")
	require.Regexp(t, `\n  einvoice_documents +0\n`, string(out))
	require.Contains(t, string(out), "file: master.key")
	require.Contains(t, string(out), "Restore: irpgate serve --data-dir "+dest)
	require.FileExists(t, filepath.Join(dest, "irpgate.db"))

	out, err = exec.CommandContext(t.Context(), bin, "backup", "--data-dir="+dataDir, dest).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "backup: destination "+dest+" is not empty")

	out, err = exec.CommandContext(t.Context(), bin, "backup", dest+"2", "--data-dir="+dataDir).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "backup: put the flags before DIR (--data-dir="+dataDir+" came after it)")
}

// A database named by --database-url (SQLite with its own pragmas, as the README suggests for
// synchronous=FULL) is copied into the backup, and the restore line names the copy with the
// same pragmas, not the original file; irpgate starts from that line.
func TestBackupOfADatabaseNamedByURL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := proctest.Build(t, "github.com/irpgate/irpgate/cmd/irpgate")
	dataDir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "elsewhere.db") + "?_pragma=synchronous(FULL)"
	httpAddr := proctest.FreeAddr(t)
	srv := proctest.Start(t, bin, "serve", "--data-dir="+dataDir, "--database-url="+dbURL, "--http-addr="+httpAddr,
		"--grpc-addr="+proctest.FreeAddr(t), "--sandbox-addr="+proctest.FreeAddr(t))
	proctest.WaitHealthy(t, httpAddr, srv.Logs)

	dest := filepath.Join(t.TempDir(), "backup")
	out, err := exec.CommandContext(t.Context(), bin, "backup", "--data-dir="+dataDir, "--database-url="+dbURL, dest).CombinedOutput()
	require.NoError(t, err, string(out))
	copyURL := "sqlite://" + filepath.Join(dest, "irpgate.db") + "?_pragma=synchronous(FULL)"
	require.Contains(t, string(out), "Restore: irpgate serve --data-dir "+dest+" --database-url='"+copyURL+"'")

	restoredAddr := proctest.FreeAddr(t)
	restored := proctest.Start(t, bin, "serve", "--data-dir="+dest, "--database-url="+copyURL, "--http-addr="+restoredAddr,
		"--grpc-addr="+proctest.FreeAddr(t), "--sandbox-addr="+proctest.FreeAddr(t))
	proctest.WaitHealthy(t, restoredAddr, restored.Logs)
	require.FileExists(t, filepath.Join(dest, "irpgate.db-wal"), "the restored irpgate opened the copy")
}
