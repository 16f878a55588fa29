package scalesim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/scaleproto"
)

// TestLinkFollowsPlug: the stable link names the current pty, disappears on
// unplug and names the new pty after plug.
func TestLinkFollowsPlug(t *testing.T) {
	sim, err := New(scaleproto.Toledo8217, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	link := filepath.Join(t.TempDir(), "by-id-scale")
	if err := sim.Link(link); err != nil {
		t.Fatal(err)
	}
	first := sim.PTY()
	if got, _ := os.Readlink(link); got != first || sim.Path() != link {
		t.Fatalf("link -> %q, pty %q, path %q", got, first, sim.Path())
	}
	if err := sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link still there after unplug: %v", err)
	}
	if _, err := os.Stat(first); err == nil {
		t.Fatalf("pty %s still exists after unplug", first)
	}
	if err := sim.Plug(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != sim.PTY() || got == "" {
		t.Fatalf("after plug link -> %q, pty %q", got, sim.PTY())
	}
	if ents, _ := os.ReadDir(filepath.Dir(link)); len(ents) != 1 {
		t.Fatalf("temporary links left behind: %v", ents)
	}
}

// TestAnswersOnPTY talks to the simulator through its pty as a driver would.
func TestAnswersOnPTY(t *testing.T) {
	sim, err := New(scaleproto.Toledo8217, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.SetWeight(1234)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx) }()
	f, err := os.OpenFile(sim.PTY(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct{ req, want string }{
		{"W", "\x02 1.234\r"},
		{"Ehello", "\x02E\rhello"},
		{"FW", "\x02 1.234\r"},
	} {
		if _, err := f.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		f.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 0, len(tc.want))
		buf := make([]byte, 64)
		for len(got) < len(tc.want) {
			n, err := f.Read(buf)
			if err != nil {
				t.Fatalf("%q: read: %v (got %q)", tc.req, err, got)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != tc.want {
			t.Fatalf("%q: got %q, want %q", tc.req, got, tc.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
