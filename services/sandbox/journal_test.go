package sandbox_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// TestRegistryPersistsInDataDir: a sandbox started again on the same DataDir holds what it
// registered before, as a real IRP does: reads, duplicates (2150 with the original),
// cancelled numbers (2278), cancels and e-way bills all see the earlier registrations, and
// AckNos do not repeat.
func TestRegistryPersistsInDataDir(t *testing.T) {
	dir := t.TempDir()
	clk := sandbox.NewManualClock(time.Now().Truncate(time.Second))
	start := func() *sandboxtest.Server {
		srv := sandboxtest.Start(t, sandboxtest.WithClock(clk), sandboxtest.WithConfig(func(c *sandbox.Config) { c.DataDir = dir }))
		t.Cleanup(func() { require.NoError(t, srv.Close()) })
		return srv
	}
	stop := func(srv *sandboxtest.Server) {
		srv.HTTP.Close()
		require.NoError(t, srv.Close())
	}

	a := start()
	c := login(t, a, a.URL, seller)
	dt := today(a)
	gen := func(c *client, no string, ewb bool) irnResp {
		inv := invoice(seller, "29AWGPV7107B1Z1", "INV", no, dt, 1)
		if ewb {
			inv["EwbDtls"] = map[string]any{"TransId": "05AAACG2115R1ZN", "TransMode": "1", "Distance": 0, "VehNo": "KA01AB1234", "VehType": "R"}
		}
		env, r := c.generate(inv)
		require.Equal(t, 1, env.Status, env.ErrorDetails)
		return r
	}
	kept, cancelled, withEWB := gen(c, "J-1", false), gen(c, "J-2", false), gen(c, "J-3", true)
	env, _ := cancelIRN(c, cancelled.Irn)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	before := a.Registered()
	stop(a)

	b := start()
	require.Equal(t, summary(before), summary(b.Registered()))
	c = login(t, b, b.URL, seller)
	var got irnResp
	env = c.call(http.MethodGet, "/eicore/v1.03/Invoice/irn/"+kept.Irn, nil, &got)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	require.Equal(t, kept.AckNo, got.AckNo)
	require.Equal(t, kept.SignedInvoice, got.SignedInvoice)

	env, _ = c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "J-1", dt, 1))
	require.Equal(t, []string{"2150"}, env.codes())
	var dup struct{ AckNo int64 }
	require.NoError(t, json.Unmarshal(env.info("DUPIRN"), &dup))
	require.Equal(t, kept.AckNo, dup.AckNo)
	env, _ = c.generate(invoice(seller, "29AWGPV7107B1Z1", "INV", "J-2", dt, 1))
	require.Equal(t, []string{"2278"}, env.codes())
	env, _ = cancelIRN(c, withEWB.Irn)
	require.Equal(t, []string{"2230"}, env.codes(), "the e-way bill is still active")

	env, _ = cancelIRN(c, kept.Irn)
	require.Equal(t, 1, env.Status, env.ErrorDetails)
	fresh := gen(c, "J-4", false)
	for _, r := range before {
		require.NotEqual(t, r.AckNo, fresh.AckNo)
	}
	after := b.Registered()
	stop(b)

	// A torn last line (a crash mid-write) is dropped; the rest is read, and the file is
	// rewritten with one line per IRN.
	path := filepath.Join(dir, sandbox.JournalFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(`{"Irn":"abc","Sta`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	d := start()
	require.Equal(t, summary(after), summary(d.Registered()))
	require.Equal(t, "CNL", registration(t, d, kept.Irn).Status)
	require.Equal(t, 4, countLines(t, path))
}

// summary is each registration in one comparable line (times as instants, signatures by hash).
func summary(regs []sandbox.Registration) []string {
	out := make([]string, len(regs))
	for i, r := range regs {
		sum := sha256.Sum256([]byte(r.SignedInvoice + "." + r.SignedQRCode))
		out[i] = fmt.Sprintf("%s %s %s %s %s %s %.2f %d %s %s %s %s %s %d %s %s %s %x", r.Irn, r.Instance, r.SellerGSTIN, r.BuyerGSTIN,
			r.DocType, r.DocNo+" "+r.DocDate, r.TotInvVal, r.AckNo, r.AckDt.UTC(), r.Status, r.CancelDate.UTC(), r.CancelReason, r.CancelRemark,
			r.EwbNo, r.EwbStatus, r.EwbDt.UTC(), r.EwbValidTill.UTC(), sum[:8])
	}
	return out
}

func registration(t *testing.T, srv *sandboxtest.Server, irn string) sandbox.Registration {
	t.Helper()
	for _, r := range srv.Registered() {
		if r.Irn == irn {
			return r
		}
	}
	t.Fatalf("IRN %s is not registered", irn)
	return sandbox.Registration{}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
	}
	require.NoError(t, sc.Err())
	return n
}
