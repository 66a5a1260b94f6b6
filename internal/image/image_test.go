package image_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/irpgate/irpgate/internal/image"
)

func TestBuildRefusesWhatCannotRun(t *testing.T) {
	self, err := os.Executable() // an ELF executable on linux
	require.NoError(t, err)
	dir := t.TempDir()
	notELF := filepath.Join(dir, "irpgate.sh")
	require.NoError(t, os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755))
	noPEM := filepath.Join(dir, "ca.txt")
	require.NoError(t, os.WriteFile(noPEM, []byte("not a certificate"), 0o644))
	ca := writeCA(t)

	for _, tc := range []struct {
		name string
		opt  image.Options
		want string
	}{
		{"no arch", image.Options{Binary: self, CABundle: ca}, "Arch is required"},
		{"missing binary", image.Options{Binary: filepath.Join(dir, "nope"), CABundle: ca, Arch: "amd64"}, "image: binary:"},
		{"binary not ELF", image.Options{Binary: notELF, CABundle: ca, Arch: "amd64"}, "is not a linux (ELF) executable"},
		{"missing CA bundle", image.Options{Binary: self, CABundle: filepath.Join(dir, "nope.pem"), Arch: "amd64"}, "image: CA bundle:"},
		{"CA bundle without PEM", image.Options{Binary: self, CABundle: noPEM, Arch: "amd64"}, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := image.Build(tc.opt)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// The same inputs give the same digest, so a rebuild of a release is checkable.
func TestBuildIsReproducible(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	opt := image.Options{Binary: self, CABundle: writeCA(t), Arch: runtime.GOARCH}
	a, err := image.Build(opt)
	require.NoError(t, err)
	b, err := image.Build(opt)
	require.NoError(t, err)
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	require.Equal(t, da, db)

	opt.Arch = "arm64"
	c, err := image.Build(opt)
	require.NoError(t, err)
	dc, err := c.Digest()
	require.NoError(t, err)
	require.NotEqual(t, da, dc, "the platform is part of the image")
}

func writeCA(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	return p
}
