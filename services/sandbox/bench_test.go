package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// BenchmarkGenerateIRN measures Generate IRN throughput of the sandbox alone, over real HTTP on
// loopback, with parallel clients: go test -run '^$' -bench GenerateIRN ./services/sandbox/
// The journal=on case keeps the registry in a data directory (registry.jsonl), as
// `irpgate serve` does; its difference from items=10 is the cost of the journal line.
func BenchmarkGenerateIRN(b *testing.B) {
	for _, bc := range []struct {
		name    string
		items   int
		journal bool
	}{{"items=10", 10, false}, {"items=10/journal=on", 10, true}, {"items=1000", 1000, false}} {
		items := bc.items
		b.Run(bc.name, func(b *testing.B) {
			var opts []sandboxtest.Option
			if bc.journal {
				dir := b.TempDir()
				opts = append(opts, sandboxtest.WithConfig(func(c *sandbox.Config) { c.DataDir = dir }))
			}
			srv := sandboxtest.Start(b, opts...)
			b.Cleanup(func() { _ = srv.Close() })
			c := login(b, srv, srv.URL, seller)
			tmpl, _ := json.Marshal(invoice(seller, "29AWGPV7107B1Z1", "INV", "BENCH-XXXXXXXXX", today(srv), items))
			var seq atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					no := fmt.Sprintf("B%014d", seq.Add(1))
					doc := bytes.Replace(tmpl, []byte("BENCH-XXXXXXXXX"), []byte(no), 1)
					resp, err := c.hc.Do(c.request(http.MethodPost, "/eicore/v1.03/Invoice", doc))
					if err != nil {
						b.Error(err)
						return
					}
					var env envelope
					err = json.NewDecoder(resp.Body).Decode(&env)
					resp.Body.Close()
					if err != nil || env.Status != 1 {
						b.Errorf("generate: %v %+v", err, env.ErrorDetails)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "irn/s")
		})
	}
}
