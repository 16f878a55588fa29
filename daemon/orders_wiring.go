package daemon

import (
	"net"
	"net/http"
	"strconv"

	"github.com/storebox/storebox/daemon/httpapi"
)

func (d *Daemon) ordersRoutes() {
	h := d.http
	h.Mux.Handle("/pay/test/", d.orders.PayPageHandler())
	h.Mux.Handle("POST /api/v1/payments/notify", d.orders.NotifyHandler())
	h.Mux.HandleFunc("GET /api/v1/orders", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 1000 {
			limit = 100
		}
		list := d.orders.List(r.URL.Query().Get("status"), limit)
		httpapi.JSON(w, 200, map[string]any{"orders": nonNilSlice(list), "counts": d.orders.Counts()})
	})
}

// payPageBase is the local HTTP server as devices on the LAN reach it: the
// configured host, or this machine's first non-loopback IPv4 address.
func payPageBase(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return "http://" + net.JoinHostPort(host, port)
	}
	if host == "localhost" {
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
