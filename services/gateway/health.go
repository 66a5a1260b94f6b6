package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// readyTimeout bounds each service's health check behind /healthz/services.
const readyTimeout = 2 * time.Second

// readiness answers /healthz/services: the gRPC health of each service the REST API needs, asked by
// name (which follows the service's database). 200 when every one is SERVING, else 503;
// the body names each service's status, or the gRPC code of a check that failed.
func readiness(services map[string]grpc.ClientConnInterface) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		var (
			mu       sync.Mutex
			wg       sync.WaitGroup
			statuses = map[string]string{}
			ready    = true
		)
		for name, conn := range services {
			wg.Go(func() {
				var st string
				res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: name})
				switch {
				case err != nil && status.Code(err) == codes.NotFound:
					st = "UNKNOWN: the process at this address does not run it"
				case err != nil:
					// The code only: gRPC's message can name the internal address, and
					// this endpoint is unauthenticated.
					st = "UNREACHABLE: " + status.Code(err).String()
				default:
					st = res.GetStatus().String()
				}
				mu.Lock()
				statuses[name] = st
				ready = ready && st == "SERVING"
				mu.Unlock()
			})
		}
		wg.Wait()
		body := map[string]any{"status": "SERVING", "services": statuses}
		code := http.StatusOK
		if !ready {
			body["status"], code = "NOT_SERVING", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
}
