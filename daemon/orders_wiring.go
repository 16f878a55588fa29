package daemon

import (
	"net"
	"net/http"
	"strconv"

	"github.com/storebox/storebox/daemon/httpapi"
)

func (d *Daemon) ordersRoutes() {
	h := d.http
	// The customer's test pay page and the provider's signed callback.
	h.HandleOpen("/pay/test/", d.orders.PayPageHandler())
	h.HandleOpen("POST /api/v1/payments/notify", d.orders.NotifyHandler())
	h.Mux.HandleFunc("GET /api/v1/orders", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 1000 {
			limit = 100
		}
		list := d.orders.List(r.URL.Query().Get("status"), limit)
		httpapi.JSON(w, 200, map[string]any{"orders": nonNilSlice(list), "counts": d.orders.Counts()})
	})
}

// payPageBase is the local HTTP server as devices on the LAN reach it.
func payPageBase(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	return httpapi.LANBase(host, port)
}
