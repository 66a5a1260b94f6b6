package server

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// opsHandler is what a process without the gateway serves on --http-addr, so that every
// Deployment can be probed and scraped alike: GET /healthz answers the gRPC health of the
// process (or of ?service=NAME) as {"status": ...}, 200 when SERVING and 503 otherwise,
// and GET /metrics the process's Prometheus metrics (its IRP calls, its store, its RPCs).
// HEAD is answered as GET without a body.
func (s *Server) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		res, err := s.health.Check(r.Context(), &healthpb.HealthCheckRequest{Service: r.URL.Query().Get("service")})
		st := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		if err == nil {
			st = res.GetStatus()
		}
		code := http.StatusOK
		if st != healthpb.HealthCheckResponse_SERVING {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": st.String()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.tel.Registry, promhttp.HandlerOpts{}))
	return mux
}
