package peerlimit

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// A dropped client's connection is closed as it is accepted, unanswered;
// another client's is handed out whole (its address, both directions);
// closing the listener ends Accept with net.ErrClosed.
func TestAcceptFuncDropsAtAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dropped := Key(netip.MustParseAddr("127.0.0.2"))
	var drops atomic.Int32
	ln := &AcceptFunc{Listener: inner, Drop: func(k netip.Prefix) bool {
		if k == dropped {
			drops.Add(1)
			return true
		}
		return false
	}}
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 1))
		return n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	// Queued before Accept runs (a dial returns once the kernel completed
	// the handshake): Linux drains them with accept4 (acceptRaw).
	var queued []net.Conn
	for i := 0; i < 3; i++ {
		queued = append(queued, dial("127.0.0.2"))
	}
	kept := dial("127.0.0.3")
	accepted := make(chan net.Conn)
	errc := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			accepted <- c
		}
	}()
	next := func() net.Conn {
		select {
		case c := <-accepted:
			t.Cleanup(func() { c.Close() })
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("another client's connection was not handed out")
			return nil
		}
	}
	for _, c := range []net.Conn{kept, dial("127.0.0.3")} { // the second while Accept waits
		sc := next()
		if got := sc.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
			t.Fatalf("remote address %s, want 127.0.0.3", got)
		}
		if _, ok := sc.(*net.TCPConn); !ok {
			t.Fatalf("handed out a %T, want *net.TCPConn", sc)
		}
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q %v", buf, err)
		}
		sc.Write([]byte("pong"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("read %q %v", buf, err)
		}
	}
	for i, c := range append(queued, dial("127.0.0.2")) { // the last while Accept waits
		if !closed(c) {
			t.Fatalf("a dropped client's connection %d was kept", i)
		}
	}
	if drops.Load() != 4 {
		t.Fatalf("%d drops, want 4", drops.Load())
	}
	inner.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
