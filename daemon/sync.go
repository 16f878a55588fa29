package daemon

import (
	"context"
	"net/http"

	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/supervisor"
	"github.com/storebox/storebox/sync/catalogfeed"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

// outboxQueue adapts the store's outbox to the uploader's Queue.
type outboxQueue struct{ *store.Store }

func (q outboxQueue) QueueStats() (uploader.QueueStats, error) {
	s, err := q.Store.QueueStats()
	return uploader.QueueStats{Depth: s.Depth, Oldest: s.Oldest, DeadLetters: s.DeadLetters, LastSeq: s.LastSeq}, err
}

// syncComponents wires the upstream client, the outbox uploader and the
// catalog feed when upstream.url is set.
func (d *Daemon) syncComponents() []supervisor.Component {
	c := d.cfg
	nats := c.Upstream.Kind == "nats"
	if c.Upstream.URL == "" && !nats {
		return nil
	}
	var comps []supervisor.Component
	comps = append(comps, supervisor.Component{
		Name: "uploader",
		Start: func(context.Context) error {
			// With kind = "nats" the ledger goes to NATS; the HTTP cloud, if
			// also configured, still serves the catalog feed and credits.
			if c.Upstream.URL != "" {
				d.Upstream = upstream.New(c.Upstream.URL, c.StoreID, c.Upstream.Secret, c.Upstream.Timeout.Duration)
				d.Feed = &catalogfeed.Feed{Source: d.Upstream, Store: d.Store, Interval: c.Upstream.CatalogInterval.Duration, Logger: d.log.With("component", "catalogfeed")}
			}
			sink, err := d.sink()
			if err != nil {
				return err
			}
			ucfg := uploader.Config{StoreID: c.StoreID, BatchEvents: c.Upstream.BatchEvents, Logger: d.log.With("component", "uploader")}
			if d.Feed != nil {
				ucfg.OnReconnect = d.Feed.Kick
			}
			d.Uploader = uploader.New(outboxQueue{d.Store}, sink, ucfg)
			return nil
		},
		Serve: func(ctx context.Context) error { return d.Uploader.Serve(ctx) },
	})
	if c.Upstream.URL != "" {
		comps = append(comps, supervisor.Component{
			Name:  "catalogfeed",
			Serve: func(ctx context.Context) error { return d.Feed.Serve(ctx) },
		})
	}
	return comps
}

func (d *Daemon) syncRoutes() {
	h := d.HTTP
	h.Mux.HandleFunc("GET /api/v1/sync", func(w http.ResponseWriter, r *http.Request) {
		if d.Uploader == nil {
			httpapi.JSON(w, 200, map[string]any{"upstream_configured": false, "queue": d.Status().Queue})
			return
		}
		d.Uploader.StatusHandler().ServeHTTP(w, r)
	})
	h.Mux.HandleFunc("POST /api/v1/sync/now", h.Admin(func(w http.ResponseWriter, r *http.Request) {
		if d.Uploader == nil {
			httpapi.Error(w, http.StatusConflict, "no upstream configured (set upstream.url and upstream.secret)")
			return
		}
		d.Uploader.SyncNowHandler().ServeHTTP(w, r)
	}))
}
