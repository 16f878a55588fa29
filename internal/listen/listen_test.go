package listen

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func TestTakenPortIsWordedOnce(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = TCP("devices.listen", busy.Addr().String())
	if want := "devices.listen " + busy.Addr().String() + ": address already in use"; err == nil || err.Error() != want {
		t.Fatalf("err %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("%v does not match EADDRINUSE", err)
	}
}

func TestUDPTakenPort(t *testing.T) {
	busy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	at := busy.LocalAddr().(*net.UDPAddr).AddrPort()
	_, err = UDP("discovery.listen", "udp4", at)
	if want := "discovery.listen " + at.String() + ": address already in use"; err == nil || err.Error() != want {
		t.Fatalf("err %v, want %q", err, want)
	}
}

func TestAddressWithoutHostShownAsAnyAndBadAddress(t *testing.T) {
	err := Error("http.listen", ":8680", syscall.EADDRINUSE)
	if err.Error() != "http.listen 0.0.0.0:8680: address already in use" {
		t.Fatalf("%v", err)
	}
	_, err = TCP("mqtt.listen", "nowhere")
	if err == nil || !strings.HasPrefix(err.Error(), "mqtt.listen nowhere: ") || strings.Contains(err.Error(), "listen tcp") {
		t.Fatalf("%v", err)
	}
	c, err := UDP("x", "udp4", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestHeldBindsOnceTakesOnceAndBindsFreshAfter(t *testing.T) {
	h := &Held{Key: "http.listen", Addr: "127.0.0.1:0"}
	if err := h.Bind(); err != nil {
		t.Fatal(err)
	}
	first := h.Bound()
	if err := h.Bind(); err != nil || h.Bound() != first {
		t.Fatalf("a second Bind rebound: %v %v", err, h.Bound())
	}
	ln, err := h.Take()
	if err != nil || ln.Addr().String() != first.String() {
		t.Fatalf("Take: %v %v", ln, err)
	}
	ln.Close()
	// Serve returned and closed it: the restart's Take binds a fresh one.
	ln2, err := h.Take()
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if h.Close() != nil {
		t.Fatal("Close of a taken listener failed")
	}
	if _, err := net.Dial("tcp", ln2.Addr().String()); err != nil {
		t.Fatalf("Close closed the listener Serve holds: %v", err)
	}
}

func TestHeldCloseReleasesAnUntakenListener(t *testing.T) {
	h := &Held{Key: "devices.listen", Addr: "127.0.0.1:0"}
	if err := h.Bind(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", h.Bound().String())
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	ln.Close()
}
