package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/proctest"
	"github.com/irpgate/irpgate/services/sandbox"
)

// TestKilledWhileRegisteringLosesNoIRN kills irpgate (SIGKILL: no shutdown, no last
// settling round) while eight callers register documents, and starts it again on the same
// data directory (SQLite) or database (PostgreSQL). The callers then send every document
// again, as an ERP does after a failed request. Every document is registered exactly once:
// the ones answered before the kill come back from the store with the same IRN, the ones in
// flight are finished (sent again, or reconciled through the IRP's duplicate answer when the
// IRP had registered them), every answer's signatures verify, and the store and the IRP's
// registry hold the same IRNs with the same AckNos.
func TestKilledWhileRegisteringLosesNoIRN(t *testing.T) {
	bin := proctest.Build(t, "github.com/irpgate/irpgate/cmd/irpgate")
	t.Run("sqlite", func(t *testing.T) { killWhileRegistering(t, bin) })
	t.Run("postgres", func(t *testing.T) { killWhileRegistering(t, bin, "--database-url="+postgresURL(t)) })
}

func killWhileRegistering(t *testing.T, bin string, extra ...string) {
	dir := t.TempDir()
	_, sbURL := startSandboxProcess(t, bin, dir)
	first, e := startIrpgateProcess(t, bin, dir, sbURL, extra...)
	e.enrol(t, sbURL)

	const docs, killAfter, callers = 400, 60, 8
	bodies := make([][]byte, docs)
	for i := range bodies {
		b, err := json.Marshal(e2eInvoice(fmt.Sprintf("KILL/%d", i)))
		require.NoError(t, err)
		bodies[i] = b
	}
	type answer struct {
		code     int
		irn      string
		replayed bool
		signed   [2]string
	}
	client := &http.Client{Timeout: time.Minute}
	post := func(ctx context.Context, base string, body []byte) (answer, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/einvoice/irn", bytes.NewReader(body))
		if err != nil {
			return answer{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", e.sellerKey)
		res, err := client.Do(req)
		if err != nil {
			return answer{}, err
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			return answer{}, err
		}
		var out struct {
			Details struct {
				Irn, SignedInvoice, SignedQRCode string
			} `json:"details"`
			Replayed bool `json:"replayed"`
		}
		_ = json.Unmarshal(raw, &out)
		return answer{res.StatusCode, out.Details.Irn, out.Replayed, [2]string{out.Details.SignedInvoice, out.Details.SignedQRCode}}, nil
	}

	// Eight callers register documents until irpgate is killed under them.
	var (
		mu       sync.Mutex
		before   = map[int]answer{} // answered 200 before the kill
		failures []string           // anything but 200 while irpgate was up
		next, ok atomic.Int64
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	var kill sync.Once
	for range callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= docs {
					return
				}
				a, err := post(t.Context(), e.base, bodies[i])
				if err != nil || a.code != http.StatusOK {
					select {
					case <-killed:
						return // the process is gone: this caller stops, its document unanswered
					default:
					}
					mu.Lock()
					failures = append(failures, fmt.Sprintf("document %d before the kill: %d %v", i, a.code, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				before[i] = a
				mu.Unlock()
				if ok.Add(1) == killAfter {
					kill.Do(func() {
						close(killed)
						if err := first.Cmd.Process.Kill(); err != nil {
							mu.Lock()
							failures = append(failures, "kill: "+err.Error())
							mu.Unlock()
						}
					})
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	select {
	case <-killed:
	default:
		t.Fatal("every document was registered before the kill")
	}
	sent := min(int(next.Load()), docs) // each of these was handed to irpgate
	require.Less(t, len(before), sent, "some requests were in flight at the kill")

	// The same irpgate again; every caller sends its document again.
	_, again := startIrpgateProcess(t, bin, dir, sbURL, extra...)
	again.certs = e.certs
	var inFlightRegistered int
	for i := range sent {
		a, err := post(t.Context(), again.base, bodies[i])
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, a.code, "document %d after the restart", i)
		again.requireSigned(t, a.signed[0], a.signed[1], a.irn)
		if b, answered := before[i]; answered {
			require.Equal(t, b.irn, a.irn, "document %d: the IRN answered before the kill", i)
			require.True(t, a.replayed, "document %d comes from the store", i)
		} else if a.replayed {
			inFlightRegistered++ // the IRP had it; irpgate had not stored its answer
		}
	}
	t.Logf("%d documents sent before the kill, %d answered, %d of the rest already at the IRP", sent, len(before), inFlightRegistered)

	// The IRP's registry and the store: the same IRNs, with the same AckNos.
	var regs []sandbox.Registration
	getJSON(t, sbURL+"/sandbox/admin/registrations", &regs)
	atIRP := map[string]int64{}
	for _, r := range regs {
		if r.SellerGSTIN == e2eSeller {
			atIRP[r.Irn] = r.AckNo
		}
	}
	require.Len(t, atIRP, sent, "each document registered once")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, again.base+"/v1/einvoice/sellers/"+e2eSeller+"/irns?pageSize=1000", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", e.sellerKey)
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var list struct {
		Irns []struct {
			Irn        string
			AckNo      int64 `json:",string"`
			Unverified bool  `json:"unverified"`
		} `json:"irns"`
		NextPageToken string `json:"nextPageToken"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&list))
	require.Empty(t, list.NextPageToken)
	stored := map[string]int64{}
	for _, x := range list.Irns {
		require.False(t, x.Unverified, "%+v", x)
		stored[x.Irn] = x.AckNo
	}
	require.Equal(t, atIRP, stored)
}
