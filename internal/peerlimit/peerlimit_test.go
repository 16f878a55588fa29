package peerlimit

import (
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:80":                    "192.0.2.7/32",
		"[::ffff:192.0.2.7]:80":           "192.0.2.7/32",
		"[2001:db8:99::5]:5353":           "2001:db8:99::/64",
		"[2001:db8:99:0:ffff::1%eth0]:80": "2001:db8:99::/64",
		"[fe80::1%eth0]:80":               "fe80::/64",
		"2001:db8:99::5":                  "2001:db8:99::/64",
	} {
		if got := KeyOfString(in); got.String() != want {
			t.Errorf("KeyOfString(%q) = %s, want %s", in, got, want)
		}
	}
	if KeyOfString("pipe").IsValid() {
		t.Error("a non-IP address has a key")
	}
}

// A client at its cap has further connections closed at accept, with the
// refusal written; another client is still served, and a closed
// connection gives its slot back.
func TestListenerCapsEachClient(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan netip.Prefix, 10)
	ln := &Listener{Listener: inner, Counter: NewCounter(2), Refuse: func(c net.Conn, k netip.Prefix, _ bool) {
		io.WriteString(c, "busy\n")
		refused <- k
	}}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	a1, a2 := <-accepted, <-accepted
	third := dial()
	select {
	case k := <-refused:
		if k.String() != "127.0.0.1/32" {
			t.Errorf("refused %s", k)
		}
	case c := <-accepted:
		t.Fatalf("a third connection from one client was accepted: %v", c.RemoteAddr())
	case <-time.After(5 * time.Second):
		t.Fatal("nothing happened to the third connection")
	}
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(third); string(b) != "busy\n" {
		t.Errorf("refused connection read %q", b)
	}
	if n := ln.Counter.Open(KeyOfString("127.0.0.1")); n != 2 {
		t.Errorf("open %d", n)
	}
	a1.Close()
	a1.Close() // twice gives back one slot
	a2.Close()
	if n := ln.Counter.Open(KeyOfString("127.0.0.1")); n != 0 {
		t.Errorf("open after close %d", n)
	}
	dial()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a slot given back was not reused")
	}
}

// A Refuser answers at most maxRefusing connections at once; the next is
// closed at once, unanswered, and a slot frees up when an answer ends.
func TestRefuserBoundsAnswersAtOnce(t *testing.T) {
	var r Refuser
	release := make(chan struct{})
	var answered atomic.Int32
	answer := func(net.Conn) { answered.Add(1); <-release }
	for i := 0; i < maxRefusing; i++ {
		c, peer := net.Pipe()
		defer peer.Close()
		r.Refuse(c, answer)
	}
	over, overPeer := net.Pipe()
	defer overPeer.Close()
	r.Refuse(over, answer)
	overPeer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := overPeer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection past the bound: read %v, want it closed at once (EOF)", err)
	}
	close(release)
	r.Wait()
	if n := answered.Load(); n != maxRefusing {
		t.Fatalf("%d answered, want %d", n, maxRefusing)
	}
	c, peer := net.Pipe()
	defer peer.Close()
	r.Refuse(c, func(c net.Conn) { c.Write([]byte("x")) })
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(peer); string(b) != "x" {
		t.Fatalf("after the answers ended: read %q, %v; want the answer", b, err)
	}
	r.Wait()
}
