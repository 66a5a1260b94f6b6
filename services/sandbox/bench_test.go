package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// BenchmarkGenerateIRN measures Generate IRN throughput of the sandbox alone, over real HTTP on
// loopback, with parallel clients: go test -run '^$' -bench GenerateIRN ./services/sandbox/
func BenchmarkGenerateIRN(b *testing.B) {
	for _, items := range []int{10, 1000} {
		b.Run(fmt.Sprintf("items=%d", items), func(b *testing.B) {
			srv := sandboxtest.Start(b)
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
