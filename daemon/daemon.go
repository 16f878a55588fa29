// Package daemon wires storebox's components together and owns their
// lifecycle: it opens the store, binds every listener, reports readiness
// and stops everything in reverse order.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/catalog"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/scales"
	"github.com/storebox/storebox/daemon/sdnotify"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/supervisor"
	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/sync/catalogfeed"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

// AdminTokenFile is the admin token's file in the data directory.
const AdminTokenFile = "admin.token"

// Daemon is one running storebox.
type Daemon struct {
	cfg     *config.Config
	version string
	log     *slog.Logger

	started time.Time
	ready   atomic.Bool

	Store   *store.Store
	Devices *devices.Server
	HTTP    *httpapi.Server
	disc    *discovery.Service
	metrics *metrics

	Orders *orders.Service
	Doors  *doors.Service  // nil when mqtt.listen is empty
	Scales *scales.Service // nil without [[scales]]

	Upstream *upstream.Client // nil without upstream.url
	Uploader *uploader.Uploader
	Feed     *catalogfeed.Feed

	adminToken string
}

// New prepares a daemon; Run starts it.
func New(cfg *config.Config, version string, log *slog.Logger) *Daemon {
	return &Daemon{cfg: cfg, version: version, log: log}
}

// Ready reports whether every listener is up.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// healthy gates the systemd watchdog: ready, and the store still answers a
// read within a second. A daemon stuck on its store stops pinging and
// systemd restarts it, rather than a live process selling nothing.
func (d *Daemon) healthy() bool {
	if !d.Ready() {
		return false
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.Store.QueueStats()
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(time.Second):
		d.log.Error("store did not answer within 1 s; withholding the watchdog ping")
		return false
	}
}

// Run starts every component, reports readiness, and blocks until ctx is
// cancelled or a component fails fatally; then it stops everything.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	sup := supervisor.New(d.log)
	comps, err := d.components()
	if err != nil {
		return err
	}
	if err := sup.Start(ctx, comps...); err != nil {
		return err
	}
	d.ready.Store(true)
	sdnotify.Ready()
	httpAddr := "off"
	if d.HTTP != nil {
		httpAddr = d.HTTP.Addr().String()
	}
	d.log.Info("storebox ready", "version", d.version, "store", d.cfg.StoreID, "devices", d.Devices.Addr().String(),
		"http", httpAddr, "data_dir", d.cfg.DataDir, "startup", time.Since(d.started).Round(time.Millisecond))
	go func() {
		d.Store.WaitIndexed()
		d.log.Info("catalog indexed", "goods", d.Store.GoodsCount(), "after", time.Since(d.started).Round(time.Millisecond))
	}()
	go sdnotify.RunWatchdog(ctx, d.healthy)
	go d.releaseMappedPages(ctx)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-sup.Fatal():
		d.log.Error("fatal component error; stopping", "err", runErr)
	}
	d.ready.Store(false)
	sdnotify.Stopping()
	d.log.Info("stopping")
	if err := sup.Stop(); err != nil {
		d.log.Error("stop", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	d.log.Info("stopped")
	return runErr
}

// releaseMappedPages keeps the store file's pages from piling up in the
// daemon's RSS: after a long outbox drain (or a big catalog scan) every page
// read stays mapped. It releases them when the outbox moved by more than
// 10,000 events since the last release, and once a minute otherwise.
func (d *Daemon) releaseMappedPages(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var lastSeq, lastDepth int
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q, err := d.Store.QueueStats()
		if err != nil {
			continue
		}
		moved := abs(int(q.LastSeq)-lastSeq) + abs(q.Depth-lastDepth)
		if moved < 10000 && time.Since(last) < time.Minute {
			continue
		}
		if err := d.Store.ReleaseMapped(); err != nil {
			d.log.Debug("release mapped store pages", "err", err)
		}
		lastSeq, lastDepth, last = int(q.LastSeq), q.Depth, time.Now()
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (d *Daemon) components() ([]supervisor.Component, error) {
	c := d.cfg
	token, err := loadAdminToken(c)
	if err != nil {
		return nil, err
	}
	d.adminToken = token
	d.metrics = newMetrics()
	var comps []supervisor.Component

	comps = append(comps, supervisor.Component{
		Name: "store",
		Start: func(context.Context) error {
			st, err := store.Open(c.DataDir, store.Options{Warehouse: c.Warehouse, Log: d.log})
			if err != nil {
				return err
			}
			d.Store = st
			d.Devices = devices.New(devices.Config{
				Listen: c.Devices.Listen, Admission: c.Devices.Admission, Heartbeat: c.Devices.Heartbeat.Duration,
				MaxConnections: c.Devices.MaxConnections, OutboundQueue: c.Devices.OutboundQueue, Tokens: c.Devices.Tokens,
			}, st, d.log.With("component", "devices"))
			d.Devices.OnAction = d.metrics.observeAction
			d.Devices.Handle("getWeight", noScales)
			return nil
		},
		Stop: func() error { return d.Store.Close() },
	})
	comps = append(comps, d.ordersComponent())
	if len(c.Scales) > 0 {
		comps = append(comps, d.scalesComponent())
	}
	comps = append(comps, supervisor.Component{
		Name:  "devices",
		Start: func(context.Context) error { return d.Devices.Listen() },
		Serve: func(ctx context.Context) error { return d.Devices.Serve(ctx) },
	})
	if c.MQTT.Listen != "" || c.MQTT.TLSListen != "" {
		comps = append(comps, d.doorsComponent())
	}
	comps = append(comps, d.syncComponents()...)
	if c.Discovery.Listen != "" {
		comps = append(comps, supervisor.Component{
			Name: "discovery",
			Start: func(context.Context) error {
				svc, err := discovery.New(discovery.Config{
					Listen: c.Discovery.Listen, StoreID: c.StoreID, StoreName: c.StoreName, Version: d.version,
					DevicePort: portOf(d.Devices.Addr()), DeviceHost: hostOf(d.Devices.Addr()), MQTTPort: listenPort(c.MQTT.Listen), HTTPPort: listenPort(c.HTTP.Listen), MDNS: c.Discovery.MDNS,
				}, d.log)
				if err != nil {
					return err
				}
				d.disc = svc
				return svc.Start()
			},
			Serve: func(ctx context.Context) error { return d.disc.Serve(ctx) },
			Stop:  func() error { return d.disc.Close() },
		})
	}
	if c.HTTP.Listen != "" {
		comps = append(comps, supervisor.Component{
			Name: "http",
			Start: func(context.Context) error {
				d.HTTP = httpapi.New(c.HTTP.Listen, d.adminToken, d.log.With("component", "http"))
				d.routes()
				return d.HTTP.Bind()
			},
			Serve: func(ctx context.Context) error { return d.HTTP.Serve(ctx) },
		})
	}
	return comps, nil
}

func portOf(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// hostOf is the IP a listener is bound to (unspecified for a wildcard).
func hostOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func listenPort(listen string) int {
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// loadAdminToken returns the configured admin token, or the one in the
// data directory, creating it (mode 0600) at first start.
func loadAdminToken(c *config.Config) (string, error) {
	if c.HTTP.AdminToken != "" {
		return c.HTTP.AdminToken, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return "", fmt.Errorf("data directory %s: %w", c.DataDir, err)
	}
	path := filepath.Join(c.DataDir, AdminTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	var raw [24]byte
	rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("create admin token %s: %w", path, err)
	}
	store.MatchDirOwner(c.DataDir, path)
	return tok, nil
}

// ReadAdminToken is what the CLI uses to talk to the local API.
func ReadAdminToken(c *config.Config) (string, error) {
	if c.HTTP.AdminToken != "" {
		return c.HTTP.AdminToken, nil
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir, AdminTokenFile))
	if err != nil {
		return "", fmt.Errorf("read admin token (run as the storebox user or root?): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (d *Daemon) routes() {
	h := d.HTTP
	h.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			httpapi.Error(w, http.StatusServiceUnavailable, "starting or stopping")
			return
		}
		w.Write([]byte("ready\n"))
	})
	h.Mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) { httpapi.JSON(w, 200, d.Status()) })
	h.Mux.HandleFunc("GET /api/v1/devices", func(w http.ResponseWriter, _ *http.Request) {
		known, err := d.Store.Devices()
		if err != nil {
			httpapi.Error(w, 500, err.Error())
			return
		}
		httpapi.JSON(w, 200, map[string]any{"devices": nonNilSlice(known), "sessions": d.Devices.Sessions()})
	})
	for _, verb := range []string{"approve", "reject"} {
		status := store.DeviceApproved
		if verb == "reject" {
			status = store.DeviceRejected
		}
		h.Mux.HandleFunc("POST /api/v1/devices/{id}/"+verb, h.Admin(func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			dev, err := d.Store.SetDeviceStatus(id, status)
			if err != nil {
				httpapi.Error(w, 500, err.Error())
				return
			}
			if status == store.DeviceRejected {
				d.Devices.Disconnect(id, "rejected by technician")
			}
			d.log.Info("device "+status, "equipId", id)
			httpapi.JSON(w, 200, dev)
		}))
	}
	h.Mux.HandleFunc("POST /api/v1/catalog", h.Admin(func(w http.ResponseWriter, r *http.Request) {
		replace := r.URL.Query().Get("replace") == "1" || r.URL.Query().Get("replace") == "true"
		name := r.URL.Query().Get("name")
		res, err := catalog.ImportReader(d.Store, http.MaxBytesReader(w, r.Body, 4<<30), name, r.URL.Query().Get("format"), replace, nil)
		if err != nil {
			httpapi.Error(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		httpapi.JSON(w, 200, res)
	}))
	h.Mux.HandleFunc("GET /api/v1/catalog", h.Admin(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "csv"
		}
		if _, err := catalogfile.ParseFormat(format); err != nil {
			httpapi.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := catalog.Export(d.Store, w, format); err != nil {
			d.log.Error("catalog export", "err", err)
		}
	}))
	d.syncRoutes()
	d.ordersRoutes()
	d.doorsRoutes()
	h.Mux.Handle("GET /metrics", d.metrics.handler(d))
	// Profiles for diagnosing a slow store; behind the admin token.
	h.Mux.HandleFunc("GET /debug/pprof/", h.Admin(pprof.Index))
	h.Mux.HandleFunc("GET /debug/pprof/profile", h.Admin(pprof.Profile))
	h.Mux.HandleFunc("GET /debug/pprof/heap", h.Admin(pprof.Handler("heap").ServeHTTP))
	h.Mux.HandleFunc("GET /debug/pprof/goroutine", h.Admin(pprof.Handler("goroutine").ServeHTTP))
	// Status page and its live feed; the feed carries the first
	// PageOnlineMax sessions (the counts cover all of them).
	h.MountStatusPage(func() any { return d.status(httpapi.PageOnlineMax) })
}

func nonNilSlice[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// StatusSnapshot is GET /api/v1/status.
type StatusSnapshot struct {
	StoreID   string                `json:"store_id"`
	StoreName string                `json:"store_name"`
	Version   string                `json:"version"`
	Started   time.Time             `json:"started"`
	UptimeS   int64                 `json:"uptime_s"`
	Ready     bool                  `json:"ready"`
	Goods     int                   `json:"goods"`
	Sessions  map[string]int        `json:"sessions"`
	Conns     int                   `json:"connections"`
	Pending   []store.Device        `json:"pending_devices"`
	Online    []devices.SessionInfo `json:"online"`
	Queue     QueueStatus           `json:"queue"`
	// Sections filled by the components that own them; absent or empty
	// when the component is not configured.
	Doors    []any        `json:"doors"`
	Scales   []any        `json:"scales"`
	Orders   OrdersStatus `json:"orders"`
	TestMode bool         `json:"test_mode"`
}

// OrdersStatus summarises orders for the status page.
type OrdersStatus struct {
	Counts      map[string]int `json:"counts"`
	Recent      []any          `json:"recent"`
	NeedsReview []any          `json:"needs_review"`
}

// QueueStatus summarises the ledger outbox.
type QueueStatus struct {
	Depth       int       `json:"depth"`
	OldestAgeS  float64   `json:"oldest_age_s"`
	Oldest      time.Time `json:"oldest,omitempty"`
	DeadLetters int       `json:"dead_letters"`
	LastSeq     uint64    `json:"last_seq"`
	Upstream    bool      `json:"upstream_configured"`
	Online      bool      `json:"online"`
	LastSuccess time.Time `json:"last_success,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitempty"`
	// SignatureRejected: the cloud answers but refuses the signature.
	SignatureRejected bool `json:"signature_rejected,omitempty"`
}

// Status builds the status snapshot with every online session.
func (d *Daemon) Status() StatusSnapshot { return d.status(-1) }

// status builds the snapshot with at most onlineLimit online sessions (all
// when negative); the counts always cover every session.
func (d *Daemon) status(onlineLimit int) StatusSnapshot {
	byKind, conns := d.Devices.Counts()
	s := StatusSnapshot{
		StoreID: d.cfg.StoreID, StoreName: d.cfg.StoreName, Version: d.version, Started: d.started.UTC(),
		UptimeS: int64(time.Since(d.started).Seconds()), Ready: d.Ready(), Goods: d.Store.GoodsCount(),
		Sessions: byKind, Conns: conns, Pending: []store.Device{}, Online: d.Devices.SessionsLimit(onlineLimit),
		Doors: []any{}, Scales: []any{}, Orders: OrdersStatus{Counts: map[string]int{}, Recent: []any{}, NeedsReview: []any{}},
	}
	if pending, err := d.Store.PendingDevices(); err == nil {
		s.Pending = pending
	}
	if q, err := d.Store.QueueStats(); err == nil {
		s.Queue = QueueStatus{Depth: q.Depth, DeadLetters: q.DeadLetters, LastSeq: q.LastSeq, Oldest: q.Oldest, Upstream: d.cfg.Upstream.URL != ""}
		if !q.Oldest.IsZero() {
			s.Queue.OldestAgeS = time.Since(q.Oldest).Seconds()
		}
	}
	if d.Scales != nil {
		s.Scales = d.Scales.Snapshot()
	}
	if d.Doors != nil {
		for _, ds := range d.Doors.Snapshot() {
			s.Doors = append(s.Doors, ds)
		}
	}
	if d.Orders != nil {
		s.Orders.Counts = d.Orders.Counts()
		for _, o := range d.Orders.Recent(20) {
			s.Orders.Recent = append(s.Orders.Recent, o)
		}
		for _, o := range d.Orders.NeedsReview() {
			s.Orders.NeedsReview = append(s.Orders.NeedsReview, o)
		}
		s.TestMode = d.Orders.TestMode()
	}
	if d.Uploader != nil {
		u := d.Uploader.Status()
		s.Queue.Online, s.Queue.LastSuccess, s.Queue.LastError, s.Queue.LastErrorAt = u.Online, u.LastSuccess, u.LastError, u.LastErrorAt
		s.Queue.SignatureRejected = u.SignatureRejected
	}
	return s
}
