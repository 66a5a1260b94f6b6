package einvoice_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	einvoicev1 "github.com/irpgate/irpgate/gen/go/irpgate/einvoice/v1"
	"github.com/irpgate/irpgate/internal/store"
	"github.com/irpgate/irpgate/internal/store/storetest"
	"github.com/irpgate/irpgate/services/sandbox"
	"github.com/irpgate/irpgate/services/sandbox/sandboxtest"
)

// When the IRP keeps answering 429 for longer than irpclient waits, the caller gets
// RESOURCE_EXHAUSTED (REST 429) with the IRP's Retry-After as RetryInfo; nothing was
// registered, and the same document goes through once the IRP takes it.
func TestIRPRateLimitIsResourceExhaustedWithRetryInfo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, sandboxtest.WithFaults(sandbox.Faults{
			RateLimit: 0.0001, Burst: 1, RetryAfterSeconds: 60, Only: []string{sandbox.OpGenerate},
		}))
		ctx := t.Context()
		_, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))})
		require.NoError(t, err, "the burst lets the first one through")

		inv := docJSON(t, invoiceMap(e.sb.Clock.Now(), "", 1))
		_, err = e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
		info, _ := errorInfo(t, err)
		require.Equal(t, "ERROR_REASON_IRP_RATE_LIMITED", info.GetReason())
		require.Equal(t, "60", info.GetMetadata()["retry_after_seconds"])
		var retry *errdetails.RetryInfo
		for _, d := range status.Convert(err).Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				retry = ri
			}
		}
		require.NotNil(t, retry)
		require.Equal(t, time.Minute, retry.GetRetryDelay().AsDuration())
		require.Len(t, e.sb.Registered(), 1, "the limited document was not registered")

		e.sb.SetFaults(sandbox.Faults{})
		res, err := e.client.GenerateIrn(ctx, &einvoicev1.GenerateIrnRequest{Invoice: inv})
		require.NoError(t, err, "sent again once the IRP takes it")
		require.NotEmpty(t, res.GetDetails().GetSignedQrCode())
	})
}
