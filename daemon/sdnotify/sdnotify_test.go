package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storebox/storebox/test/testenv"
)

// listen opens a real unixgram socket like systemd's and returns its address
// and a function that reads the next datagram (failing after a generous wait).
func listen(t *testing.T, name string) (string, func() (string, error)) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return name, func() (string, error) {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := conn.Read(buf)
		return string(buf[:k]), err
	}
}

func TestMessagesOverPathSocket(t *testing.T) {
	addr, next := listen(t, filepath.Join(t.TempDir(), "notify"))
	n := Notifier{Socket: addr}
	for _, c := range []struct {
		send func() error
		want string
	}{
		{n.Ready, "READY=1"},
		{n.Watchdog, "WATCHDOG=1"},
		{n.Stopping, "STOPPING=1"},
	} {
		if err := c.send(); err != nil {
			t.Fatalf("send %q: %v", c.want, err)
		}
		got, err := next()
		if err != nil {
			t.Fatalf("read %q: %v", c.want, err)
		}
		if got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestAbstractSocketFromEnv(t *testing.T) {
	addr, next := listen(t, fmt.Sprintf("@storebox-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	t.Setenv("NOTIFY_SOCKET", addr)
	if err := Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got, err := next(); err != nil || got != "READY=1" {
		t.Fatalf("got %q, %v; want READY=1", got, err)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "30000000")
	for _, f := range []func() error{Ready, Stopping, FromEnv().Watchdog} {
		if err := f(); err != nil {
			t.Errorf("no-op returned %v", err)
		}
	}
	if _, ok := FromEnv().WatchdogInterval(); ok {
		t.Errorf("watchdog enabled without NOTIFY_SOCKET")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RunWatchdog(ctx, func() bool { return true }); err != nil {
		t.Errorf("RunWatchdog: %v", err)
	}
}

func TestMissingSocketIsAnError(t *testing.T) {
	n := Notifier{Socket: filepath.Join(t.TempDir(), "absent")}
	if err := n.Ready(); err == nil {
		t.Fatal("Ready to a missing socket succeeded")
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		socket, usec, pid string
		want              time.Duration
		ok                bool
	}{
		{"/run/x", "30000000", "", 30 * time.Second, true},
		{"/run/x", "30000000", me, 30 * time.Second, true},
		{"/run/x", "30000000", "1", 0, false}, // another process's watchdog
		{"/run/x", "", "", 0, false},
		{"/run/x", "0", "", 0, false},
		{"/run/x", "-5", "", 0, false},
		{"/run/x", "abc", "", 0, false},
		{"", "30000000", "", 0, false},
	} {
		t.Setenv("NOTIFY_SOCKET", c.socket)
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		got, ok := FromEnv().WatchdogInterval()
		if got != c.want || ok != c.ok {
			t.Errorf("socket=%q usec=%q pid=%q: got %v,%v want %v,%v", c.socket, c.usec, c.pid, got, ok, c.want, c.ok)
		}
	}
}

// TestRunWatchdogPingsOnlyWhileHealthy checks outcomes, not timing: while
// unhealthy nothing arrives; once healthy, pings arrive; after cancel it
// returns nil.
func TestRunWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := Notifier{Socket: addr, WatchdogUSec: 20_000} // ping every 10ms
	var healthy, calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.RunWatchdog(ctx, func() bool { calls.Add(1); return healthy.Load() == 1 })
	}()

	// Let the loop consult healthy() several times while unhealthy.
	testenv.Eventually(t, "healthy() polled five times", func() bool { return calls.Load() >= 5 })
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 64)
	if k, err := conn.Read(buf); err == nil {
		t.Fatalf("got %q while unhealthy", buf[:k])
	}

	healthy.Store(1)
	for i := 0; i < 3; i++ {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		if string(buf[:k]) != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", buf[:k])
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunWatchdog returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWatchdog did not stop after cancel")
	}
}
