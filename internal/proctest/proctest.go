// Package proctest helps tests that run irpgate as a process of its own: a build of the
// binary, free loopback addresses to give it, the process with its output kept, a wait for
// its /healthz, and the CPU time it has used.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package pkg into the test's temporary directory and returns the
// binary's path. env (KEY=VALUE) is added to the go command's environment.
func Build(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, pkg) //nolint:gosec // tests name the package to build.
	build.Env = append(os.Environ(), env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("proctest: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Proc is a process a test started. Its output (stdout and stderr) is kept in Logs.
type Proc struct {
	Cmd  *exec.Cmd
	Logs *Output
}

// Start runs bin with args. When the test ends the process gets SIGTERM and is waited
// for (killed after 20 s).
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(bin, args...), Logs: &Output{}} //nolint:gosec // runs the binary the test built.
	p.Cmd.Stdout, p.Cmd.Stderr = p.Logs, p.Logs
	p.Cmd.WaitDelay = 20 * time.Second
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("proctest: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// CPU is the user and system CPU time the process has used so far, or 0 where it cannot
// be read. Linux counts it in clock ticks of 10 ms, so measure spans of a second or more.
func (p *Proc) CPU() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces:
	// state is the first, utime the 12th and stime the 13th (proc(5) fields 14 and 15).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on every Linux Go supports
	return time.Duration(utime+stime) * tick
}

// Output keeps what is written to it (a process's output, a test server's log) and is safe
// to read while others write.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(b)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

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
