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
