package server

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
)

// watchStore keeps the gRPC health of the services that use db (auth's vault, einvoice's
// registrations) in step with it: every interval db is pinged, and a failed ping makes
// them NOT_SERVING until one succeeds. The process itself ("") stays SERVING, so a
// probe does not take every replica out of service for an outage of the database they
// share (decisions §9); /healthz/services and a gRPC check naming the service follow it.
func (s *Server) watchStore(db *store.DB, interval time.Duration) {
	var names []string
	if s.has(RoleAuth) {
		names = append(names, authv1.AuthService_ServiceDesc.ServiceName)
	}
	if s.has(RoleEInvoice) {
		names = append(names, einvoicev1.EInvoiceService_ServiceDesc.ServiceName)
	}
	if len(names) == 0 || db == nil {
		return
	}
	set := func(st healthpb.HealthCheckResponse_ServingStatus) {
		for _, n := range names {
			s.health.SetServingStatus(n, st)
		}
	}
	set(healthpb.HealthCheckResponse_SERVING)
	if interval <= 0 {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		up := true
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
			err := db.PingContext(pctx)
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil && up:
				up = false
				set(healthpb.HealthCheckResponse_NOT_SERVING)
				s.log.Error("the database does not answer; its services are NOT_SERVING until it does", "services", names, "error", err.Error())
			case err == nil && !up:
				up = true
				set(healthpb.HealthCheckResponse_SERVING)
				s.log.Info("the database answers again; its services are SERVING", "services", names)
			}
		}
	}()
	// Stopped before the database is closed (closers run last first).
	s.closers = append(s.closers, func(context.Context) error { stop(); <-done; return nil })
}
