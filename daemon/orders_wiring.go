package daemon

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/supervisor"
)

// ordersComponent creates the order service and registers its device
// actions before the device server starts serving.
func (d *Daemon) ordersComponent() supervisor.Component {
	return supervisor.Component{
		Name: "orders",
		Start: func(context.Context) error {
			base := payPageBase(d.cfg.HTTP.Listen)
			pay, err := payments.FromConfig(d.cfg, base, d.log.With("component", "payments"))
			if err != nil {
				return err
			}
			svc, err := orders.New(orders.ConfigFrom(d.cfg, base), d.Store, pay, d.Devices, d.log.With("component", "orders"))
			if err != nil {
				return err
			}
			svc.Register(d.Devices)
			d.Orders = svc
			return nil
		},
		Serve: func(ctx context.Context) error { return d.Orders.Serve(ctx) },
	}
}

func (d *Daemon) ordersRoutes() {
	h := d.HTTP
	h.Mux.Handle("/pay/test/", d.Orders.PayPageHandler())
	h.Mux.Handle("POST /api/v1/payments/notify", d.Orders.NotifyHandler())
	h.Mux.HandleFunc("GET /api/v1/orders", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 1000 {
			limit = 100
		}
		list := d.Orders.List(r.URL.Query().Get("status"), limit)
		httpapi.JSON(w, 200, map[string]any{"orders": nonNilSlice(list), "counts": d.Orders.Counts()})
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
