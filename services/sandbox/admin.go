package sandbox

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			http.Error(w, "admin API is served to loopback callers only", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

// clockRequest moves the clock: {"advance": "25h"} or {"set": "2022-09-16T10:00:00+05:30"}.
type clockRequest struct {
	Advance string    `json:"advance"`
	Set     time.Time `json:"set"`
}

func (s *Sandbox) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sandbox/admin/faults", loopbackOnly(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	}))
	mux.HandleFunc("PUT /sandbox/admin/faults", loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	}))
	mux.HandleFunc("GET /sandbox/admin/clock", loopbackOnly(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"now": s.now().In(IST).Format(time.RFC3339)})
	}))
	mux.HandleFunc("POST /sandbox/admin/clock", loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		ac, ok := s.clock.(AdjustableClock)
		if !ok {
			http.Error(w, "the configured clock cannot be moved", http.StatusConflict)
			return
		}
		var req clockRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "clock: "+err.Error(), http.StatusBadRequest)
			return
		}
		if req.Advance != "" {
			d, err := time.ParseDuration(req.Advance)
			if err != nil {
				http.Error(w, "clock: "+err.Error(), http.StatusBadRequest)
				return
			}
			ac.Advance(d)
		}
		if !req.Set.IsZero() {
			ac.Set(req.Set)
		}
		writeJSON(w, http.StatusOK, map[string]string{"now": s.now().In(IST).Format(time.RFC3339)})
	}))
	mux.HandleFunc("GET /sandbox/admin/stats", loopbackOnly(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	}))
	mux.HandleFunc("GET /sandbox/admin/registrations", loopbackOnly(func(w http.ResponseWriter, _ *http.Request) {
		regs := s.Registered()
		for i := range regs {
			regs[i].SignedInvoice, regs[i].SignedQRCode = "", ""
		}
		writeJSON(w, http.StatusOK, regs)
	}))
	mux.HandleFunc("GET /sandbox/admin/users", loopbackOnly(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Users())
	}))
}
