package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/proctest"
	"github.com/irpgate/irpgate/internal/server"
)

// With NIC1 down (nothing listens at its URL), a REST registration that names no IRP is
// made on NIC2: auth cannot open a NIC1 session, so einvoice moves the document; naming
// NIC1 gets 502 err-irp-unavailable instead.
func TestRESTFailoverWhenNIC1IsDown(t *testing.T) {
	sandboxAddr := proctest.FreeAddr(t)
	e := startE2EConfig(t, t.TempDir(), "all", "", nil, func(c *server.Config) {
		c.SandboxAddr = sandboxAddr
		c.IRPURLs = "NIC1=http://" + proctest.FreeAddr(t) + ",NIC2=http://" + sandboxAddr + "/irp/nic2"
		c.AcceptTestGSTIN = true // the built-in sandbox with IRP URLs of its own
	})
	code, out, _ := e.call(t, http.MethodPost, "/v1/einvoice/irn", e.seller, e2eInvoice(""), nil)
	require.Equal(t, http.StatusOK, code, "%v", out)
	d := out["details"].(map[string]any)
	require.Equal(t, "NIC2", d["Irp"])
	e.requireSigned(t, d["SignedInvoice"].(string), d["SignedQRCode"].(string), d["Irn"].(string))

	pinned := e2eInvoice("")
	code, out, _ = e.call(t, http.MethodPost, "/v1/einvoice/irn?irp=NIC1", e.seller, pinned, nil)
	require.Equal(t, http.StatusBadGateway, code, "%v", out)
	require.Equal(t, "err-irp-unavailable", out["error"].(map[string]any)["message"])
}

// --irp-heartbeat sets how often einvoice asks each IRP's heartbeat: at 10 ms the sandbox
// sees more than the start-up round of two (NIC1 and NIC2) within seconds, where the
// default 15 s would show only that round.
func TestIRPHeartbeatFlagReachesEInvoice(t *testing.T) {
	e := startE2EConfig(t, t.TempDir(), "all", "", nil, func(c *server.Config) { c.IRPHeartbeat = 10 * time.Millisecond })
	pings := func() int64 {
		var s struct {
			ByOperation map[string]int64 `json:"by_operation"`
		}
		getJSON(t, e.srv.SandboxURL+"/sandbox/admin/stats", &s)
		return s.ByOperation["ping"]
	}
	require.Eventually(t, func() bool { return pings() >= 6 }, 10*time.Second, 5*time.Millisecond)
}
