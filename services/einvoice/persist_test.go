package einvoice_test

import (
	"context"
	"crypto/rsa"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/pkg/irpclient"
	"github.com/irpgate/irpgate/services/einvoice"
)

// cancelOnAnswer runs after once the IRP's answer to a POST to a path ending in suffix has
// been read (its body closed), that is before einvoice has stored it.
type cancelOnAnswer struct {
	next   http.RoundTripper
	suffix string
	after  func()
}

func (c cancelOnAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, c.suffix) {
		res.Body = closeHook{ReadCloser: res.Body, after: c.after}
	}
	return res, err
}

type closeHook struct {
	io.ReadCloser
	after func()
}

func (c closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.after()
	return err
}

// serviceCancelledOnAnswer is a service whose caller (the returned context) goes away as soon
// as the IRP has answered a POST to a path ending in suffix.
func serviceCancelledOnAnswer(t *testing.T, e *env, suffix string) (*einvoice.Service, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(callerauth.NewContext(t.Context(),
		callerauth.Caller{KeyID: "test", GSTINs: []string{seller}}))
	t.Cleanup(cancel)
	return serviceOnAnswer(t, e, suffix, cancel), ctx
}

// serviceOnAnswer is a service that runs after as soon as the IRP has answered a POST to a
// path ending in suffix, before the service has stored the answer.
func serviceOnAnswer(t *testing.T, e *env, suffix string, after func()) *einvoice.Service {
	t.Helper()
	c, err := irpclient.New(irpclient.Config{
		BaseURLs:   map[string]string{irpclient.NIC1: e.sb.URL},
		DefaultIRP: irpclient.NIC1,
		PublicKeys: map[string]*rsa.PublicKey{irpclient.NIC1: e.sb.PublicKey()},
		HTTPClient: &http.Client{Transport: cancelOnAnswer{next: http.DefaultTransport, suffix: suffix, after: after}},
		Timeout:    20 * time.Second,
	})
	require.NoError(t, err)
	c = c.WithSessions(irpclient.NewLocalSessions(c, e.sb.Credentials(), irpclient.WithClock(e.sb.Clock.Now)))
	svc, _ := e.service(t, func(cfg *einvoice.Config) { cfg.IRP = c })
	return svc
}

// A caller that goes away once the IRP has registered its document does not leave the
// registration unstored: the signed answer is written all the same.
func TestAnswerIsStoredWhenTheCallerGoesAway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		svc, ctx := serviceCancelledOnAnswer(t, e, "/Invoice")

		_, _ = svc.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.Error(t, ctx.Err(), "the caller went away after the IRP answered")
		regs := e.sb.Registered()
		require.Len(t, regs, 1)
		row := readRow(t, db, regs[0].Irn)
		require.Equal(t, "ACTIVE", row.State)
		require.NotEmpty(t, row.SignedInvoice)
		require.Equal(t, regs[0].AckNo, row.AckNo)
	})
}

// Likewise a cancellation the IRP has made is stored when its caller has gone.
func TestCancellationIsStoredWhenTheCallerGoesAway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db)
		res, err := e.client.GenerateIrn(t.Context(), &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err)
		irn := res.GetDetails().GetIrn()

		svc, ctx := serviceCancelledOnAnswer(t, e, "/Invoice/Cancel")
		_, _ = svc.CancelIrn(ctx, &einvoicev1.CancelIrnRequest{Irn: irn, CnlRsn: "2", CnlRem: "Wrong entry"})
		require.Error(t, ctx.Err(), "the caller went away after the IRP answered")
		atIRP, err := e.irp.GetIRN(t.Context(), seller, irn)
		require.NoError(t, err)
		require.Equal(t, "CNL", atIRP.Status)
		require.Equal(t, "CANCELLED", readRow(t, db, irn).State)
	})
}
