package einvoice_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// flakySessions answers sessions until failFrom calls have been made, then fails (auth
// restarting, say) while fail is set.
type flakySessions struct {
	inner    irpclient.SessionSource
	calls    atomic.Int64
	failFrom atomic.Int64
}

func (f *flakySessions) Session(ctx context.Context, gstin, irp string) (*irpclient.Session, error) {
	if n := f.calls.Add(1); f.failFrom.Load() > 0 && n >= f.failFrom.Load() {
		return nil, errors.New("auth service unreachable")
	}
	return f.inner.Session(ctx, gstin, irp)
}

func (f *flakySessions) Refresh(ctx context.Context, s *irpclient.Session) (*irpclient.Session, error) {
	return f.inner.Refresh(ctx, s)
}

func flakyEnv(t *testing.T, f *flakySessions, opts ...sandboxtest.Option) *env {
	sb := sandboxtest.Start(t, opts...)
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:       map[string]string{irpclient.NIC1: sb.URL, irpclient.NIC2: sb.NIC2URL},
		DefaultIRP:     irpclient.NIC1,
		PublicKeys:     map[string]*rsa.PublicKey{irpclient.NIC1: sb.PublicKey(), irpclient.NIC2: sb.PublicKey()},
		RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 20 * time.Millisecond, Timeout: 20 * time.Second,
	})
	require.NoError(t, err)
	f.inner = irpclient.NewLocalSessions(c, sb.Credentials(), irpclient.WithClock(sb.Clock.Now))
	e := &env{sb: sb, irp: c.WithSessions(f), db: storetest.SQLite(t)}
	e.svc, e.client = e.service(t, nil)
	return e
}

// Attempt 1 reaches the IRP (it registers the document) but its answer is lost; attempt 2
// cannot get an IRP session (auth restarting). The document may be registered, so the
// caller is told OUTCOME_UNKNOWN and the settling stores the registration.
func TestALostAnswerThenASessionFailureIsSettled(t *testing.T) {
	f := &flakySessions{}
	e := flakyEnv(t, f, sandboxtest.WithFaults(sandbox.Faults{
		AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpGenerate},
	}))
	f.failFrom.Store(f.calls.Load() + 2) // the request's first session works, the next does not
	inv := invoiceMap(e.sb.Clock.Now(), "", 1)
	_, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, inv)})
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
	require.Len(t, e.sb.Registered(), 1, "the IRP registered it on attempt 1")

	f.failFrom.Store(0)
	e.sb.SetFaults(sandbox.Faults{})
	n, err := e.svc.SettlePending(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the document whose answer was lost is settled")
	require.Equal(t, "ACTIVE", readRow(t, e.db, e.sb.Registered()[0].Irn).State)
}

// The same for a cancellation: attempt 1 cancels at the IRP, its answer lost; attempt 2
// cannot get a session. The settling stores the cancellation.
func TestALostCancelAnswerThenASessionFailureIsSettled(t *testing.T) {
	f := &flakySessions{}
	e := flakyEnv(t, f)
	gen, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
	require.NoError(t, err)
	e.sb.SetFaults(sandbox.Faults{AnswerLostRate: 1, ErrorMix: sandbox.ErrorMix{Reset: 1}, Only: []string{sandbox.OpCancel}})
	f.failFrom.Store(f.calls.Load() + 2)
	_, err = e.client.CancelIrn(t.Context(), &einvoicev1.CancelIrnRequest{Irn: gen.GetDetails().GetIrn(), CnlRsn: "1", CnlRem: "dup"})
	info, _ := errorInfo(t, err)
	require.Equal(t, "ERROR_REASON_OUTCOME_UNKNOWN", info.GetReason(), "%v", err)
	require.Equal(t, "CNL", e.sb.Registered()[0].Status, "the IRP cancelled it on attempt 1")

	f.failFrom.Store(0)
	e.sb.SetFaults(sandbox.Faults{})
	n, err := e.svc.SettlePending(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the cancellation whose answer was lost is settled")
	require.Equal(t, "CANCELLED", readRow(t, e.db, gen.GetDetails().GetIrn()).State)
}
