package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// decodeStrict decodes one JSON value from r's body into v, refusing fields v does not have
// (the admin API's fields are snake_case; a Go name such as AnswerLostRate would otherwise
// be dropped silently) and anything after the value.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

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
		if err := decodeStrict(r, &f); err != nil {
			http.Error(w, "faults: "+err.Error()+" (the fields: GET /sandbox/admin/faults)", http.StatusBadRequest)
			return
		}
		if err := f.Validate(); err != nil {
			http.Error(w, "faults: "+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusBadRequest)
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
		if err := decodeStrict(r, &req); err != nil {
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
