package server_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// BenchmarkGeneratePath registers IRNs through the whole path (REST -> gateway ->
// einvoice -> sandbox, with validation, storage on SQLite and signature checks), through
// pkg/irpclient calling the same sandbox directly, and (for the breakdown) through gRPC
// straight to einvoice, at the same concurrency, in alternating rounds of one run. One op
// is one IRN on each path. It reports the throughputs, the ratio, the p50/p99 latencies
// and the process CPU time per IRN (steadier than wall time on a shared machine):
//
//	ratio_% = rest_irn/s / direct_irn/s * 100 (target >= 80)
//	added_p50_ms = rest_p50_ms - direct_p50_ms (target < 2)
func BenchmarkGeneratePath(b *testing.B) {
	for _, conc := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { benchGeneratePath(b, conc) })
	}
}

func benchGeneratePath(b *testing.B, conc int) {
	e := startE2EWith(b, "", nil)
	paths := newBenchPaths(b, e, directClient(b, e.srv.SandboxURL), conc)
	// Warm both paths: IRP sessions, connections, the einvoice statement cache.
	for range conc {
		require.NoError(b, paths.direct(benchInvoice(b)))
		require.NoError(b, paths.rest(benchInvoice(b)))
		require.NoError(b, paths.grpc(benchInvoice(b)))
	}

	var directRun, restRun, grpcRun pathRun
	inRounds(b, 3, func(n int, bodies [][]byte) {
		require.NoError(b, directRun.run(conc, bodies[:n], paths.direct))
		require.NoError(b, restRun.run(conc, bodies[n:2*n], paths.rest))
		require.NoError(b, grpcRun.run(conc, bodies[2*n:], paths.grpc))
	})
	ratio := restRun.rate() / directRun.rate() * 100
	b.ReportMetric(directRun.rate(), "direct_irn/s")
	b.ReportMetric(restRun.rate(), "rest_irn/s")
	b.ReportMetric(ratio, "ratio_%")
	b.ReportMetric(directRun.pct(50), "direct_p50_ms")
	b.ReportMetric(restRun.pct(50), "rest_p50_ms")
	b.ReportMetric(restRun.pct(50)-directRun.pct(50), "added_p50_ms")
	b.ReportMetric(directRun.pct(99), "direct_p99_ms")
	b.ReportMetric(restRun.pct(99), "rest_p99_ms")
	b.ReportMetric(directRun.cpuPerIRN(), "direct_cpu_ms/irn")
	b.ReportMetric(restRun.cpuPerIRN(), "rest_cpu_ms/irn")
	b.ReportMetric(grpcRun.rate(), "grpc_irn/s")
	b.ReportMetric(grpcRun.pct(50), "grpc_p50_ms")
	b.ReportMetric(grpcRun.cpuPerIRN(), "grpc_cpu_ms/irn")
}

// inRounds registers b.N IRNs on each of paths paths in alternating rounds of up to 64:
// each round makes paths x n new bodies, untimed, and hands them to run, timed.
func inRounds(b *testing.B, paths int, run func(n int, bodies [][]byte)) {
	const round = 64
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		bodies := make([][]byte, paths*n)
		for i := range bodies {
			bodies[i] = benchInvoice(b)
		}
		b.StartTimer()
		run(n, bodies)
		b.StopTimer()
	}
}

// benchPaths register one invoice body each way: over REST at e.base, over gRPC on e.conn
// (both as e.seller), and with pkg/irpclient straight to the sandbox.
type benchPaths struct {
	rest, grpc, direct func(body []byte) error
}

func newBenchPaths(b *testing.B, e *e2e, direct *irpclient.Client, conc int) benchPaths {
	ctx := b.Context()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	gc := einvoicev1.NewEInvoiceServiceClient(e.conn)
	gctx := bearer(ctx, e.seller)
	return benchPaths{
		rest: func(body []byte) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/v1/einvoice/irn", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.seller)
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				return err
			}
			if res.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"SignedQRCode"`)) {
				return fmt.Errorf("REST %d: %s", res.StatusCode, raw)
			}
			return nil
		},
		grpc: func(body []byte) error {
			res, err := gc.GenerateIrn(gctx, &einvoicev1.GenerateIrnRequest{Invoice: body})
			if err == nil && res.GetDetails().GetSignedQrCode() == "" {
				err = fmt.Errorf("no SignedQRCode")
			}
			return err
		},
		direct: func(body []byte) error {
			det, err := direct.GenerateIRN(ctx, e2eSeller, body)
			if err == nil && det.SignedQRCode == "" {
				err = fmt.Errorf("no SignedQRCode")
			}
			return err
		},
	}
}

// pathRun collects the latencies and busy time of one path across rounds.
type pathRun struct {
	mu   sync.Mutex
	lat  []time.Duration
	busy time.Duration
	cpu  time.Duration // CPU time of the whole process (client, irpgate and sandbox)
}

// run sends bodies with conc workers and records each call's latency.
func (p *pathRun) run(conc int, bodies [][]byte, send func([]byte) error) error {
	var g errgroup.Group
	g.SetLimit(conc)
	cpu0 := processCPU()
	start := time.Now()
	for _, body := range bodies {
		g.Go(func() error {
			t := time.Now()
			if err := send(body); err != nil {
				return err
			}
			d := time.Since(t)
			p.mu.Lock()
			p.lat = append(p.lat, d)
			p.mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	p.busy += time.Since(start)
	p.cpu += processCPU() - cpu0
	return err
}

// cpuPerIRN is the process CPU time per IRN in milliseconds.
func (p *pathRun) cpuPerIRN() float64 {
	return float64(p.cpu.Microseconds()) / 1000 / float64(len(p.lat))
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (p *pathRun) rate() float64 { return float64(len(p.lat)) / p.busy.Seconds() }

// pct is the q-th percentile latency in milliseconds.
func (p *pathRun) pct(q int) float64 {
	if len(p.lat) == 0 {
		return 0
	}
	s := slices.Clone(p.lat)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*q+99)/100-1)
	return float64(s[max(i, 0)].Microseconds()) / 1000
}

// directClient is pkg/irpclient on the sandbox at sandboxURL with the seller's credentials.
func directClient(b testing.TB, sandboxURL string) *irpclient.Client {
	var keys struct{ EncryptionPublicKey string }
	getJSON(b, sandboxURL+"/sandbox/publickeys", &keys)
	pub, err := irpcrypto.ParsePublicKey([]byte(keys.EncryptionPublicKey))
	require.NoError(b, err)
	var users []sandbox.User
	getJSON(b, sandboxURL+"/sandbox/admin/users", &users)
	// Instrumented as irpgate's own client is: the same telemetry set-up as the server's
	// (no span exporter, so spans get ids but are not recorded; metrics kept).
	tel, err := platform.NewTelemetry(b.Context(), platform.TelemetryOptions{ServiceName: "bench-direct"})
	require.NoError(b, err)
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:       map[string]string{irpclient.NIC1: sandboxURL},
		DefaultIRP:     irpclient.NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{irpclient.NIC1: pub},
		TracerProvider: tel.Tracer,
		MeterProvider:  tel.Meter,
	})
	require.NoError(b, err)
	return c.WithSessions(irpclient.NewLocalSessions(c, sandboxtest.Credentials(users)))
}

func benchInvoice(b *testing.B) []byte {
	body, err := json.Marshal(e2eInvoice(""))
	require.NoError(b, err)
	return body
}
