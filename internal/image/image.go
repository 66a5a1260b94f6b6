// Package image builds irpgate's container image without a container runtime: one layer
// holding the static binary, a CA bundle for HTTPS to the IRP, a passwd entry for the
// non-root user and its data directory, on no base image. The same inputs give the same
// image digest.
package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Where things are in the image.
const (
	BinaryPath   = "/irpgate"
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	DataDir      = "/var/lib/irpgate" // IRPGATE_DATA_DIR, as deploy/k8s mounts it
	UID          = 65532              // the user deploy/k8s runs as (runAsUser)
)

// Env is the image's environment: HTTP (REST, /healthz, /metrics) and gRPC listen on
// every interface, since a container's loopback is its own (irpgate's defaults bind
// 127.0.0.1, for laptops); the sandbox keeps its loopback default, and its admin API
// answers loopback callers only anyway.
var Env = []string{
	"IRPGATE_HTTP_ADDR=:8080",
	"IRPGATE_GRPC_ADDR=:8081",
	"IRPGATE_DATA_DIR=" + DataDir,
	"SSL_CERT_FILE=" + CABundlePath,
}

// Ports are the ports the image declares: HTTP and gRPC.
var Ports = []string{"8080/tcp", "8081/tcp"}

// Options are the inputs of an image.
type Options struct {
	Binary   string    // path of a linux irpgate binary built with CGO_ENABLED=0
	CABundle string    // path of a PEM bundle of root certificates
	Arch     string    // the binary's GOARCH, as the image's platform
	Created  time.Time // the image's creation time; zero means the Unix epoch, as reproducible builds use
	Labels   map[string]string
}

// Build assembles the image.
func Build(opt Options) (v1.Image, error) {
	if opt.Arch == "" {
		return nil, errors.New("image: Arch is required (the binary's GOARCH)")
	}
	bin, err := os.ReadFile(opt.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: binary: %w", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("image: binary %s is not a linux (ELF) executable", opt.Binary)
	}
	ca, err := os.ReadFile(opt.CABundle)
	if err != nil {
		return nil, fmt.Errorf("image: CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("image: CA bundle %s holds no PEM certificate", opt.CABundle)
	}
	layer, err := rootLayer(bin, ca)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", opt.Arch
	if opt.Created.IsZero() {
		opt.Created = time.Unix(0, 0).UTC()
	}
	cf.Created = v1.Time{Time: opt.Created}
	cf.History = []v1.History{{Created: cf.Created, CreatedBy: "irpgate-image", Comment: "irpgate " + BinaryPath}}
	exposed := map[string]struct{}{}
	for _, p := range Ports {
		exposed[p] = struct{}{}
	}
	cf.Config = v1.Config{
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"serve"},
		User:         fmt.Sprintf("%d:%d", UID, UID),
		WorkingDir:   DataDir,
		Env:          Env,
		ExposedPorts: exposed,
		Labels:       opt.Labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// rootLayer is the image's one layer, its entries in a fixed order with fixed times.
func rootLayer(bin, ca []byte) (v1.Layer, error) {
	const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:" + DataDir + ":/sbin/nologin\n"
	const group = "root:x:0:\nnonroot:x:65532:\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		name string
		mode int64
		uid  int
		body []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: CABundlePath[1:], mode: 0o644, body: ca},
		{name: BinaryPath[1:], mode: 0o755, body: bin},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: DataDir[1:] + "/", mode: 0o750, uid: UID, dir: true},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return layer, nil
}
