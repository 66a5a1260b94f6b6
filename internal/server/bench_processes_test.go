package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/irpgate/irpgate/internal/proctest"
)

// BenchmarkGeneratePathProcesses is BenchmarkGeneratePath with each part in a process of
// its own, as irpgate is deployed: the sandbox (`irpgate serve --target=sandbox`), irpgate
// (`--target=auth,einvoice,gateway`, calling the sandbox as a remote IRP) and the callers
// (this process). Besides throughput and latency it reports each process's CPU time per
// IRN, so irpgate_cpu_ms/irn is what irpgate itself spends on a registration over REST,
// its own IRP client included: the figure to size a deployment by.
//
//	ratio_% = rest_irn/s / direct_irn/s * 100
//	added_p50_ms = rest_p50_ms - direct_p50_ms
//	{direct,rest}_{caller,sandbox}_cpu_ms/irn: the callers' and the sandbox's share per path
func BenchmarkGeneratePathProcesses(b *testing.B) {
	bin := proctest.Build(b, "github.com/irpgate/irpgate/cmd/irpgate")
	for _, conc := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { benchGeneratePathProcesses(b, bin, conc) })
	}
}

func benchGeneratePathProcesses(b *testing.B, bin string, conc int) {
	dir := b.TempDir()
	sb, sbURL := startSandboxProcess(b, bin, dir)
	gw, e := startIrpgateProcess(b, bin, dir, sbURL)
	e.enrol(b, sbURL)

	paths := newBenchPaths(b, e, directClient(b, sbURL), conc)
	for range conc { // IRP sessions, connections, statement caches
		require.NoError(b, paths.direct(benchInvoice(b)))
		require.NoError(b, paths.rest(benchInvoice(b)))
	}

	var directRun, restRun pathRun
	var directSandbox, restSandbox, restIrpgate time.Duration
	inRounds(b, 2, func(n int, bodies [][]byte) {
		s0 := sb.CPU()
		require.NoError(b, directRun.run(conc, bodies[:n], paths.direct))
		s1, g1 := sb.CPU(), gw.CPU()
		require.NoError(b, restRun.run(conc, bodies[n:], paths.rest))
		s2, g2 := sb.CPU(), gw.CPU()
		directSandbox += s1 - s0
		restSandbox += s2 - s1
		restIrpgate += g2 - g1
	})
	perIRN := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(directRun.rate(), "direct_irn/s")
	b.ReportMetric(restRun.rate(), "rest_irn/s")
	b.ReportMetric(restRun.rate()/directRun.rate()*100, "ratio_%")
	b.ReportMetric(directRun.pct(50), "direct_p50_ms")
	b.ReportMetric(restRun.pct(50), "rest_p50_ms")
	b.ReportMetric(restRun.pct(50)-directRun.pct(50), "added_p50_ms")
	b.ReportMetric(perIRN(restIrpgate), "irpgate_cpu_ms/irn")
	b.ReportMetric(directRun.cpuPerIRN(), "direct_caller_cpu_ms/irn")
	b.ReportMetric(restRun.cpuPerIRN(), "rest_caller_cpu_ms/irn")
	b.ReportMetric(perIRN(directSandbox), "direct_sandbox_cpu_ms/irn")
	b.ReportMetric(perIRN(restSandbox), "rest_sandbox_cpu_ms/irn")
}

// startSandboxProcess runs the sandbox as a process of its own (`irpgate serve
// --target=sandbox`, its registry kept under dir/sandbox) and returns it with its URL once
// it answers.
func startSandboxProcess(tb testing.TB, bin, dir string) (*proctest.Proc, string) {
	tb.Helper()
	addr := proctest.FreeAddr(tb)
	sb := proctest.Start(tb, bin, "serve", "--target=sandbox", "--sandbox-addr="+addr,
		"--data-dir="+filepath.Join(dir, "sandbox"), "--log-level=warn")
	url := "http://" + addr
	require.Eventually(tb, func() bool {
		res, err := http.Get(url + "/sandbox/publickeys")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, time.Minute, 20*time.Millisecond, "the sandbox never answered: %s", sb.Logs)
	return sb, url
}

// startIrpgateProcess runs irpgate (`--target=auth,einvoice,gateway`, SQLite under
// dir/irpgate unless extra names a --database-url) as a process of its own, calling the
// sandbox at sbURL as a remote IRP, and returns it once healthy with an e2e whose base and
// conn reach it. Started again on the same dir, it is the same irpgate restarted.
func startIrpgateProcess(tb testing.TB, bin, dir, sbURL string, extra ...string) (*proctest.Proc, *e2e) {
	tb.Helper()
	var keys struct{ EncryptionPublicKey, SigningCertificate string }
	getJSON(tb, sbURL+"/sandbox/publickeys", &keys)
	pubFile, certFile := filepath.Join(dir, "irp-public-key.pem"), filepath.Join(dir, "irp-cert.pem")
	require.NoError(tb, os.WriteFile(pubFile, []byte(keys.EncryptionPublicKey), 0o600))
	require.NoError(tb, os.WriteFile(certFile, []byte(keys.SigningCertificate), 0o600))
	httpAddr, grpcAddr := proctest.FreeAddr(tb), proctest.FreeAddr(tb)
	gw := proctest.Start(tb, bin, append([]string{
		"serve", "--target=auth,einvoice,gateway",
		"--http-addr=" + httpAddr, "--grpc-addr=" + grpcAddr, "--data-dir=" + filepath.Join(dir, "irpgate"),
		"--irp-urls=NIC1=" + sbURL + ",NIC2=" + sbURL + "/irp/nic2", "--irp-public-key-file=" + pubFile,
		"--irp-cert-file=" + certFile, "--accept-test-gstins", "--admin-key=" + e2eAdminKey, "--log-level=warn",
	}, extra...)...)
	proctest.WaitHealthy(tb, httpAddr, gw.Logs)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close() })
	return gw, &e2e{base: "http://" + httpAddr, conn: conn}
}
