package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ServeOptions say where ListenAndServe listens (`irpgate serve --target=sandbox` serves
// the same handlers through its own listeners, configured by its --sandbox-* flags).
type ServeOptions struct {
	// Addr serves NIC1 at "/" and "/irp/nic1", NIC2 at "/irp/nic2"; default 127.0.0.1:8090.
	Addr string
	// NIC2Addr, when set, also serves NIC2 at "/" on its own port.
	NIC2Addr string
	// CertFile and KeyFile switch both listeners to TLS.
	CertFile, KeyFile string
	// Banner receives the listen addresses and the test credentials at start-up (nil: none).
	Banner io.Writer
}

// ListenAndServe runs the sandbox until ctx ends, then shuts down within 5 seconds.
func (s *Sandbox) ListenAndServe(ctx context.Context, o ServeOptions) error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8090"
	}
	type srv struct {
		hs *http.Server
		ln net.Listener
	}
	var servers []srv
	listen := func(addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("sandbox: listen %s: %w", addr, err)
		}
		servers = append(servers, srv{&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln})
		return nil
	}
	if err := listen(o.Addr, s.Handler()); err != nil {
		return err
	}
	if o.NIC2Addr != "" {
		if err := listen(o.NIC2Addr, s.InstanceHandler(NIC2)); err != nil {
			servers[0].ln.Close()
			return err
		}
	}
	scheme := "http"
	if o.CertFile != "" {
		scheme = "https"
	}
	if o.Banner != nil {
		fmt.Fprintf(o.Banner, "IRP sandbox NIC1: %s://%s  NIC2: %s://%s/irp/nic2\n", scheme, servers[0].ln.Addr(), scheme, servers[0].ln.Addr())
		if len(servers) > 1 {
			fmt.Fprintf(o.Banner, "IRP sandbox NIC2 (own port): %s://%s\n", scheme, servers[1].ln.Addr())
		}
		s.PrintCredentials(o.Banner)
	}
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() {
			var err error
			if o.CertFile != "" {
				err = sv.hs.ServeTLS(sv.ln, o.CertFile, o.KeyFile)
			} else {
				err = sv.hs.Serve(sv.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, sv := range servers {
		_ = sv.hs.Shutdown(shut)
	}
	return first
}
