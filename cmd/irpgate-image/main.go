// Command irpgate-image builds irpgate's container image into a tarball that
// `docker load`, `podman load` and `crane push` take, without a container runtime:
//
//	go run ./cmd/irpgate-image -o irpgate.tar -tag ghcr.io/irpgate/irpgate:v1
//
// It builds ./cmd/irpgate for linux (CGO_ENABLED=0) unless -binary names one.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/irpgate/irpgate/internal/image"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "irpgate-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("irpgate-image", flag.ContinueOnError)
	out := fs.String("o", "irpgate.tar", "the image tarball to write")
	tag := fs.String("tag", "ghcr.io/irpgate/irpgate:latest", "the image's name and tag in the tarball")
	binary := fs.String("binary", "", "a linux irpgate binary to package (default: build ./cmd/irpgate)")
	arch := fs.String("arch", runtime.GOARCH, "GOARCH to build for, and the image's platform")
	ca := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM root certificates for HTTPS to the IRP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	if *binary == "" {
		dir, err := os.MkdirTemp("", "irpgate-image")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*binary = filepath.Join(dir, "irpgate")
		build := exec.Command("go", "build", "-trimpath", "-buildvcs=auto", "-ldflags=-s -w", "-o", *binary, "github.com/irpgate/irpgate/cmd/irpgate") //nolint:gosec // G204: a fixed command; the one variable argument is a path in our temp dir
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+*arch)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build cmd/irpgate: %w", err)
		}
	}
	var created time.Time // SOURCE_DATE_EPOCH, as reproducible builds set it; else the epoch
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", v)
		}
		created = time.Unix(sec, 0).UTC()
	}
	img, err := image.Build(image.Options{
		Binary: *binary, CABundle: *ca, Arch: *arch, Created: created,
		Labels: map[string]string{"org.opencontainers.image.source": "https://github.com/irpgate/irpgate"},
	})
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s@%s\n", *out, ref, digest)
	return nil
}
