package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/image"
	"github.com/irpgate/irpgate/internal/proctest"
)

// The command packages irpgate and writes a tarball that loads back as the
// tagged image; the binary unpacked from it runs `serve` as the image's entrypoint and
// environment say, and answers /healthz.
func TestImageRunsIrpgate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	// The binary is built as the tests' packages were (run's own build adds -trimpath,
	// which would compile every package again).
	bin := proctest.Build(t, "github.com/irpgate/irpgate/cmd/irpgate", "CGO_ENABLED=0")
	out := filepath.Join(t.TempDir(), "irpgate.tar")
	require.NoError(t, run([]string{"-binary", bin, "-o", out, "-tag", "registry.example/irpgate:test", "-ca-bundle", ca}))

	tag, err := name.NewTag("registry.example/irpgate:test")
	require.NoError(t, err)
	img, err := tarball.ImageFromPath(out, &tag)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, []string{image.BinaryPath}, cf.Config.Entrypoint)
	require.Equal(t, []string{"serve"}, cf.Config.Cmd)
	require.Equal(t, "65532:65532", cf.Config.User, "deploy/k8s runs as 65532")
	require.Contains(t, cf.Config.ExposedPorts, "8080/tcp")
	require.Contains(t, cf.Config.Env, "IRPGATE_HTTP_ADDR=:8080", "a container's loopback is its own: the REST face must listen on every interface")
	require.Equal(t, time.Unix(0, 0).UTC(), cf.Created.UTC(), "created at the epoch unless SOURCE_DATE_EPOCH says otherwise")

	// Unpack the image's file system, checking owners and modes on the way.
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		seen["/"+strings.TrimSuffix(h.Name, "/")] = h
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode).Perm())
		require.NoError(t, err)
		_, err = io.Copy(f, tr)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	require.Equal(t, int64(0o755), seen[image.BinaryPath].Mode, "binary mode")
	require.Equal(t, image.UID, seen[image.DataDir].Uid, "the data directory belongs to the user the image runs as")
	require.Contains(t, seen, image.CABundlePath)
	require.Contains(t, seen, "/etc/passwd")

	version, err := exec.CommandContext(t.Context(), filepath.Join(root, image.BinaryPath), "version").Output()
	require.NoError(t, err)
	require.Regexp(t, `^irpgate \S+ \(.*, `+regexp.QuoteMeta(runtime.Version())+`\)\n$`, string(version))

	// Run it as the image does: its entrypoint and cmd, its environment (paths moved
	// under the unpacked root), loopback listeners.
	env := []string{}
	for _, e := range cf.Config.Env {
		k, v, _ := strings.Cut(e, "=")
		if strings.HasPrefix(v, "/") {
			v = filepath.Join(root, v)
		}
		env = append(env, k+"="+v)
	}
	httpAddr := proctest.FreeAddr(t)
	args := append(cf.Config.Cmd[1:], "--http-addr="+httpAddr, "--grpc-addr="+proctest.FreeAddr(t), "--sandbox-addr="+proctest.FreeAddr(t))
	cmd := exec.CommandContext(t.Context(), filepath.Join(root, cf.Config.Entrypoint[0]), append([]string{cf.Config.Cmd[0]}, args...)...)
	cmd.Env = env
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	proctest.WaitHealthy(t, httpAddr, &logs)
	entries, err := os.ReadDir(filepath.Join(root, image.DataDir))
	require.NoError(t, err)
	require.NotEmpty(t, entries, "irpgate keeps its database and keys in the image's data directory")
}

func TestFlagsAreChecked(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	require.ErrorContains(t, run([]string{"-binary", os.Args[0], "-o", filepath.Join(t.TempDir(), "x.tar")}), "SOURCE_DATE_EPOCH")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	require.ErrorContains(t, run([]string{"-tag", "Not A Tag!"}), "-tag")
	require.ErrorContains(t, run([]string{"-binary", filepath.Join(t.TempDir(), "none"), "-o", filepath.Join(t.TempDir(), "x.tar")}), "image: binary:")
}
