package platform_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/platform"
)

func TestBuildInfo(t *testing.T) {
	b := platform.BuildInfo()
	require.Equal(t, runtime.Version(), b.GoVersion)
	require.NotEmpty(t, b.Version)

	for _, tc := range []struct {
		b    platform.Build
		want string
	}{
		{platform.Build{Version: "v1.2.0", Revision: "0123abc", GoVersion: "go1.26.8"}, "v1.2.0 (0123abc, go1.26.8)"},
		{platform.Build{Version: "(devel)", GoVersion: "go1.26.8"}, "(devel) (unknown revision, go1.26.8)"},
	} {
		require.Equal(t, tc.want, tc.b.String())
	}
}
