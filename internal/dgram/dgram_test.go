package dgram

import (
	"bytes"
	"net"
	"testing"
)

// TestOversizeDatagram reads a datagram larger than the buffer: either the
// platform truncates it (Unix) or the read error is one TooLong names
// (Windows, WSAEMSGSIZE), and the socket reads the next datagram.
func TestOversizeDatagram(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(bytes.Repeat([]byte("x"), 2048)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, _, err := c.ReadFromUDP(buf)
	switch {
	case err == nil && n != len(buf):
		t.Fatalf("oversize datagram read as %d bytes", n)
	case err != nil && !TooLong(err):
		t.Fatalf("oversize datagram: %v, which TooLong does not name", err)
	}
	n, _, err = c.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "next" {
		t.Fatalf("next datagram: %q, %v", buf[:n], err)
	}
	if TooLong(nil) {
		t.Fatal("TooLong(nil)")
	}
}
