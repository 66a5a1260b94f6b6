package callerauth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/callerauth"
)

// issuer counts its calls; its tokens live for ttl. Only "good" is a key.
type issuer struct {
	calls atomic.Int32
	ttl   time.Duration
}

func (i *issuer) IssueToken(_ context.Context, req *authv1.IssueTokenRequest) (*authv1.IssueTokenResponse, error) {
	n := i.calls.Add(1)
	if req.GetApiKey() != "good" {
		return nil, status.Error(codes.Unauthenticated, "unknown or revoked API key")
	}
	return &authv1.IssueTokenResponse{AccessToken: "tok-" + string(rune('0'+n)), ExpireTime: timestamppb.New(time.Now().Add(i.ttl))}, nil
}

// A key's token is asked for once and kept; one about to expire (30 s or less) is renewed; a
// refused key is asked about again each time, never kept.
func TestAPIKeysKeepTokensUntilNearExpiry(t *testing.T) {
	long := &issuer{ttl: 15 * time.Minute}
	keys := callerauth.NewAPIKeys(long)
	for range 3 {
		tok, err := keys.Token(t.Context(), "good")
		require.NoError(t, err)
		require.Equal(t, "tok-1", tok)
	}
	require.EqualValues(t, 1, long.calls.Load())

	short := &issuer{ttl: 20 * time.Second}
	keys = callerauth.NewAPIKeys(short)
	for _, want := range []string{"tok-1", "tok-2"} {
		tok, err := keys.Token(t.Context(), "good")
		require.NoError(t, err)
		require.Equal(t, want, tok)
	}

	bad := &issuer{ttl: time.Hour}
	keys = callerauth.NewAPIKeys(bad)
	for range 2 {
		_, err := keys.Token(t.Context(), "bad")
		require.Equal(t, codes.Unauthenticated, status.Code(err))
	}
	require.EqualValues(t, 2, bad.calls.Load())
}
