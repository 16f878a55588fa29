// Package shelf answers the device actions about the goods on the shelf
// (PROTOCOL.md §2): getGoods, getAllGoods, getWarehouseGoods, stockGoods,
// bindLabel and unbindLabel, and keeps every connected e-label showing the
// goods bound to it. The device server carries the requests; the store
// holds the goods.
package shelf

import (
	"log/slog"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store"
)

// Shelf is the goods and label actions of one store.
type Shelf struct {
	st  *store.Store
	srv *devices.Server
	log *slog.Logger
}

// New registers the actions with srv, the label greeting at login, and the
// label pushes on every committed goods change in st. Call it before srv
// serves.
func New(st *store.Store, srv *devices.Server, log *slog.Logger) *Shelf {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sh := &Shelf{st: st, srv: srv, log: log}
	srv.Handle("getGoods", sh.getGoods)
	srv.Handle("getAllGoods", sh.getAllGoods)
	srv.Handle("getWarehouseGoods", sh.getWarehouseGoods)
	srv.Handle("stockGoods", sh.stockGoods)
	srv.Handle("bindLabel", sh.bindLabel)
	srv.Handle("unbindLabel", sh.unbindLabel)
	srv.HandleLogin(sh.greetLabel)
	st.OnGoodsChanged(sh.pushGoodsUpdates)
	return sh
}
