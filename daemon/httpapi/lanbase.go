package httpapi

import (
	"net"
	"strconv"
)

// LANBase is the server as a phone on the LAN reaches it: the configured
// host, or this machine's first non-loopback IPv4 address, with the bound
// port.
func (s *Server) LANBase() string {
	host, port, _ := net.SplitHostPort(s.Listen)
	if ta, ok := s.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	return LANBase(host, port)
}

// LANBase is http://host:port with an unspecified host replaced by this
// machine's first non-loopback IPv4 address (127.0.0.1 when it has none).
func LANBase(host, port string) string {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return "http://" + net.JoinHostPort(host, port)
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return "http://" + net.JoinHostPort(ipn.IP.String(), port)
			}
		}
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port)
}
