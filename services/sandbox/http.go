package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/irpgate/irpgate/pkg/irpcrypto"
)

var errTooLarge = errors.New("request body too large")

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// call is one authenticated core API call.
type call struct {
	r    *http.Request
	inst string
	sess *session
}

// result is what an API handler produced.
type result struct {
	data  any        // success Data, SEK-encrypted on the wire
	errs  []nicError // failure
	info  []infoDtl
	write bool // state changed: "answer lost" faults apply
}

func failed(code string, args ...string) result {
	return result{errs: []nicError{nicErr(code, args...)}}
}

// body decrypts the {"Data": "..."} request envelope with the session key.
func (c *call) body() ([]byte, *result) {
	raw, err := readBody(c.r)
	if err != nil {
		res := failed("5002")
		return nil, &res
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		res := failed("2255")
		return nil, &res
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(raw, &outer); err != nil {
		res := failed("2140")
		return nil, &res
	}
	var data string
	for k, v := range outer {
		if strings.EqualFold(k, "data") {
			_ = json.Unmarshal(v, &data)
		}
	}
	if data == "" {
		res := failed("2255")
		return nil, &res
	}
	plain, err := irpcrypto.DecryptB64(c.sess.SEK, data)
	if err != nil {
		res := failed("2140")
		res.errs[0].ErrorMessage += " (request Data does not decrypt with the SEK)"
		return nil, &res
	}
	return plain, nil
}

type apiFunc func(c *call) result

// logCall writes one line per request; never headers or bodies (they carry secrets).
func (s *Sandbox) logCall(op, inst string, start time.Time, status int, code string) {
	s.log.Debug("irp call", "op", op, "irp", inst, "status", status, "error_code", code, "took", time.Since(start))
}

// core wraps an authenticated, SEK-encrypted NIC API.
func (s *Sandbox) core(op, inst string, fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.stats.requests.Add(1)
		s.stats.op(op)
		if s.before(w, r, op, inst) {
			return
		}
		sess, code := s.authorize(r, inst)
		if code != "" {
			s.stats.businessErrors.Add(1)
			writeJSON(w, http.StatusOK, envelope{Status: 0, ErrorDetails: []nicError{nicErr(code)}})
			s.logCall(op, inst, start, 0, code)
			return
		}
		c := &call{r: r, inst: inst, sess: sess}
		res := fn(c)
		if len(res.errs) > 0 {
			s.stats.businessErrors.Add(1)
			writeJSON(w, http.StatusOK, envelope{Status: 0, ErrorDetails: res.errs, InfoDtls: res.info})
			s.logCall(op, inst, start, 0, res.errs[0].ErrorCode)
			return
		}
		plain, err := json.Marshal(res.data)
		if err != nil {
			writeJSON(w, http.StatusOK, envelope{Status: 0, ErrorDetails: []nicError{nicErr("5001")}})
			return
		}
		enc, err := irpcrypto.EncryptB64(sess.SEK, plain)
		if err != nil {
			writeJSON(w, http.StatusOK, envelope{Status: 0, ErrorDetails: []nicError{nicErr("5001")}})
			return
		}
		if res.write {
			if k := s.answerLost(op, inst); k != failNone {
				s.fail(w, r, k, s.Faults().TimeoutAfter)
				s.logCall(op, inst, start, -1, "answer-lost")
				return
			}
		}
		writeJSON(w, http.StatusOK, envelope{Status: 1, Data: enc, InfoDtls: res.info})
		s.logCall(op, inst, start, 1, "")
	}
}

// plain wraps an unauthenticated endpoint with stats and faults.
func (s *Sandbox) plain(op, inst string, h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.stats.requests.Add(1)
		s.stats.op(op)
		if s.before(w, r, op, inst) {
			return
		}
		h(w, r)
	}
}

// Handler serves NIC1 at "/" and "/irp/nic1/...", NIC2 at "/irp/nic2/...", the public keys at
// "/sandbox/publickeys", the value-added APIs under "[/irp/nicN]/sandbox/v1/..." and, when
// enabled, the admin API under "/sandbox/admin/..." (loopback callers only).
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux, "", NIC1)
	s.routes(mux, "/irp/nic1", NIC1)
	s.routes(mux, "/irp/nic2", NIC2)
	s.sharedRoutes(mux)
	return mux
}

// InstanceHandler serves one instance at "/" (for a separate port per IRP), with the shared
// public-key and admin endpoints.
func (s *Sandbox) InstanceHandler(inst string) http.Handler {
	mux := http.NewServeMux()
	s.routes(mux, "", inst)
	s.sharedRoutes(mux)
	return mux
}

func (s *Sandbox) routes(mux *http.ServeMux, p, inst string) {
	mux.HandleFunc("POST "+p+"/eivital/v1.04/auth", s.plain(OpAuth, inst, func(w http.ResponseWriter, r *http.Request) { s.handleAuth(w, r, inst, false) }))
	mux.HandleFunc("POST "+p+"/eivital/v1.03/auth", s.plain(OpAuth, inst, func(w http.ResponseWriter, r *http.Request) { s.handleAuth(w, r, inst, true) }))
	mux.HandleFunc("POST "+p+"/eicore/v1.03/Invoice", s.core(OpGenerate, inst, s.generate))
	mux.HandleFunc("POST "+p+"/eicore/v1.03/Invoice/Cancel", s.core(OpCancel, inst, s.cancel))
	mux.HandleFunc("GET "+p+"/eicore/v1.03/Invoice/irn/{irn}", s.core(OpGetByIRN, inst, s.getByIRN))
	mux.HandleFunc("GET "+p+"/eicore/v1.03/Invoice/irnbydocdetails", s.core(OpGetByDoc, inst, s.getByDoc))
	mux.HandleFunc("POST "+p+"/eiewb/v1.03/ewaybill", s.core(OpGenerateEWB, inst, s.generateEWB))
	mux.HandleFunc("GET "+p+"/eiewb/v1.03/ewaybill/irn/{irn}", s.core(OpGetEWB, inst, s.getEWB))
	mux.HandleFunc("POST "+p+"/ewaybillapi/v1.03/ewayapi", s.plain(OpCancelEWB, inst, func(w http.ResponseWriter, r *http.Request) { s.handleEwayAPI(w, r, inst) }))
	for _, v := range []string{"v1.03", "v1.04"} {
		mux.HandleFunc("GET "+p+"/eivital/"+v+"/Master/gstin/{gstin}", s.core(OpGSTIN, inst, s.gstinDetails))
		mux.HandleFunc("GET "+p+"/eivital/"+v+"/Master/syncgstin/{gstin}", s.core(OpSyncGSTIN, inst, s.syncGSTIN))
		mux.HandleFunc("GET "+p+"/eivital/"+v+"/heartbeat/ping", s.plain(OpPing, inst, s.ping(inst)))
	}
	mux.HandleFunc("GET "+p+"/sandbox/v1/einvoice/status/{gstin}", s.core(OpEnablement, inst, s.enablement))
	mux.HandleFunc("GET "+p+"/sandbox/v1/einvoice/buyer/{gstin}", s.core(OpBuyerInvoice, inst, s.buyerInvoices))
	mux.HandleFunc("GET "+p+"/sandbox/v1/gstin/search", s.core(OpSearch, inst, s.searchGSTIN))
	mux.HandleFunc("POST "+p+"/sandbox/v1/verify", s.plain(OpVerify, inst, s.verify))
}

func (s *Sandbox) sharedRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sandbox/publickeys", s.publicKeys)
	mux.HandleFunc("GET /sandbox/publickeys/encryption.pem", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(publicKeyPEM(s.PublicKey()))
	})
	mux.HandleFunc("GET /sandbox/publickeys/signing.pem", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(certPEM(s.Certificate()))
	})
	if s.cfg.AdminEnabled {
		s.adminRoutes(mux)
	}
}

func (s *Sandbox) ping(inst string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, envelope{Status: 1, InfoDtls: []infoDtl{{InfCd: "ADDNLNFO", Desc: inst + " is up at " + s.now().In(IST).Format(nicTimeLayout)}}})
	}
}

func (s *Sandbox) publicKeys(w http.ResponseWriter, _ *http.Request) {
	kid, x5t := irpcrypto.Thumbprint(s.keys.Certificate)
	writeJSON(w, http.StatusOK, map[string]string{
		"EncryptionPublicKey": string(publicKeyPEM(s.PublicKey())),
		"SigningCertificate":  string(certPEM(s.Certificate())),
		"Kid":                 kid,
		"X5t":                 x5t,
		"Issuer":              s.signer.Issuer,
	})
}
