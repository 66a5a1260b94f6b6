// Package proctest helps tests that run irpgate as a process of its own: free loopback
// addresses to give it, and a wait for its /healthz.
package proctest

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr is a 127.0.0.1 address no one listens on at the moment of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitHealthy waits up to a minute for http://addr/healthz to answer 200, and fails the
// test with logs (the process's output so far) if it never does.
func WaitHealthy(t testing.TB, addr string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("irpgate at %s never became healthy: %s", addr, logs)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("proctest: %v", t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
