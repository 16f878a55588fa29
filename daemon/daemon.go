// Package daemon wires storebox's components together and owns their
// lifecycle: it opens the store, binds every listener, reports readiness
// and stops everything in reverse order.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/fleet"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/printing"
	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/daemon/scales"
	"github.com/storebox/storebox/daemon/sdnotify"
	"github.com/storebox/storebox/daemon/shelf"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/daemon/store/datafile"
	"github.com/storebox/storebox/daemon/supervisor"
	"github.com/storebox/storebox/daemon/webauth"
	"github.com/storebox/storebox/internal/dirowner"
	"github.com/storebox/storebox/internal/private"
	"github.com/storebox/storebox/internal/steadyclock"
	"github.com/storebox/storebox/sync/catalogfeed"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/sync/uploader"
	"github.com/storebox/storebox/sync/upstream"
)

// Daemon is one running storebox. New builds every part; Run binds and
// serves them under one supervisor.
type Daemon struct {
	cfg     *config.Config
	version string
	log     *slog.Logger

	started time.Time
	ready   atomic.Bool
	sup     *supervisor.Supervisor

	store     *store.Store
	admission *admission.Records // device records, in the store's file
	devices   *devices.Server
	http      *httpapi.Server // nil without http.listen
	disc      *discovery.Service
	metrics   *httpapi.Metrics

	orders *orders.Service
	doors  *doors.Service  // nil when mqtt.listen and mqtt.tls_listen are empty
	scales *scales.Service // nil without [[scales]]

	printing *printing.Service // nil without [[printers]]

	upstream *upstream.Client   // nil without upstream.url
	uploader *uploader.Uploader // nil without an upstream
	feed     *catalogfeed.Feed  // nil without upstream.url

	reloadMu sync.Mutex
	remote   *fleet.Remote   // every configuration change goes through it
	reporter *fleet.Reporter // nil without an upstream
	// natsFleet is the fleet's NATS link (upstream.kind = "nats"): its
	// health puts measure the clock there is no Date for.
	natsFleet *fleetlink.NATS

	adminToken string
	// source reads the configuration file again for a reload (SIGHUP, POST
	// /api/v1/reload); nil until SetConfigSource.
	source atomic.Pointer[func() (*config.Config, error)]
}

// Every part the supervisor runs is a supervisor.Service; those with
// listeners bind before any serves.
var (
	_ supervisor.Service = (*storeService)(nil)
	_ supervisor.Service = (*orders.Service)(nil)
	_ supervisor.Service = (*clockWatch)(nil)
	_ supervisor.Service = (*scales.Service)(nil)
	_ supervisor.Service = (*printing.Service)(nil)
	_ supervisor.Binder  = (*devices.Server)(nil)
	_ supervisor.Binder  = (*doors.Service)(nil)
	_ supervisor.Service = (*uploaderService)(nil)
	_ supervisor.Service = (*catalogfeed.Feed)(nil)
	_ supervisor.Binder  = (*discovery.Service)(nil)
	_ supervisor.Binder  = (*httpapi.Server)(nil)
	_ supervisor.Service = (*fleet.Reporter)(nil)
	_ supervisor.Service = (*fleet.Remote)(nil)

	// Those holding something to release are closed after Serve returns.
	_ io.Closer = (*storeService)(nil)
	_ io.Closer = (*devices.Server)(nil)
	_ io.Closer = (*doors.Service)(nil)
	_ io.Closer = (*uploaderService)(nil)
	_ io.Closer = (*discovery.Service)(nil)
	_ io.Closer = (*httpapi.Server)(nil)

	// What the parts ask each other, declared by the one that asks.
	_ doors.OrderLookup     = orders.Customers{}
	_ orders.AdmittedLookup = (*doors.Service)(nil)
	_ devices.Observer      = (*httpapi.Metrics)(nil)
	_ uploader.Kicker       = (*catalogfeed.Feed)(nil)
	_ discovery.Bound       = (*devices.Server)(nil)
	_ discovery.Bound       = (*httpapi.Server)(nil)
)

// New builds every part of the daemon from cfg: it opens the store and
// creates the components, binding nothing yet, and hands each to the
// supervisor in the order they start (they stop in reverse). Run starts
// them and, when it returns, has closed everything New opened. On error
// whatever was opened is closed again.
//
// A new part is built here like the others: construct it with what it
// needs (interfaces it declares, satisfied by parts built before it), add
// it with d.sup.Add(name, part), and add a compile-time check above
// (supervisor.Service, or supervisor.Binder when it has listeners;
// io.Closer when it holds something to release).
func New(cfg *config.Config, version string, log *slog.Logger) (_ *Daemon, err error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	d := &Daemon{version: version, log: log, started: time.Now(), sup: supervisor.New(log)}
	// The fleet's stored remote document, laid over the file, is what runs.
	d.remote = d.newRemote(cfg)
	cfg = d.remote.Effective()
	d.cfg = cfg
	defer func() {
		if err != nil {
			d.sup.Stop()
		}
	}()
	if d.adminToken, err = loadAdminToken(cfg); err != nil {
		return nil, err
	}
	restrictDataDir(cfg.DataDir, log)
	d.metrics = httpapi.NewMetrics()
	datafile.CompactIfWasteful(filepath.Join(cfg.DataDir, store.FileName), store.SchemaVersion, log)
	if d.store, err = store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse, Log: log}); err != nil {
		return nil, err
	}
	d.admission = admission.New(d.store)
	d.sup.Add("store", &storeService{st: d.store, log: log, started: d.started})

	c := cfg.Devices
	d.devices = devices.New(devices.Config{
		Listen: c.Listen, Admission: c.Admission, Heartbeat: c.Heartbeat.Duration,
		MaxConnections: c.MaxConnections, OutboundQueue: c.OutboundQueue, Tokens: c.Tokens,
		MaxConnsPerAddress: c.MaxConnsPerAddress, NewDevicesPerMinute: c.NewDevicesPerMinute,
		Observer: d.metrics,
	}, d.store, log.With("component", "devices"))
	shelf.New(d.store, d.devices, log.With("component", "shelf"))

	// The doors ask the stored orders about a customer; the orders ask the
	// doors whom they admitted. So the doors are built first.
	if cfg.MQTT.Listen != "" || cfg.MQTT.TLSListen != "" {
		if d.doors, err = doors.New(doors.Config{StoreID: cfg.StoreID, MQTT: cfg.MQTT, Doors: cfg.Doors},
			orders.NewCustomers(d.store), d.store, log.With("component", "doors")); err != nil {
			return nil, err
		}
	}
	base := payPageBase(cfg.HTTP.Listen)
	pay, err := payments.FromConfig(cfg, base, log.With("component", "payments"))
	if err != nil {
		return nil, err
	}
	ocfg := orders.ConfigFrom(cfg, base)
	// What the cloud signs or a bank dates is judged and dated on the
	// cloud's time (the links are built later; cloudNow reads them then).
	ocfg.CloudNow = d.cloudNow
	if q, ok := pay.Payment.(*payments.QPay); ok {
		q.Now = d.cloudNow
	}
	if d.doors != nil {
		ocfg.Admitted = d.doors
	}
	// Order deadlines follow a clock that a jumping wall clock reaches
	// only after they were moved by the jump (internal/steadyclock).
	clock := steadyclock.New()
	ocfg.Now = clock.Now
	if err := d.buildPrinting(&ocfg); err != nil {
		return nil, err
	}
	if d.orders, err = orders.New(ocfg, d.store, pay, d.devices, log.With("component", "orders")); err != nil {
		return nil, err
	}
	d.sup.Add("clock", &clockWatch{clock: clock, jumped: d.orders.ShiftDeadlines, log: log.With("component", "clock")})
	d.orders.Register(d.devices)
	d.sup.Add("orders", d.orders)
	if d.printing != nil {
		d.orders.OnPrune(d.printing.PruneOrder)
		d.sup.Add("printing", d.printing)
	}

	if len(cfg.Scales) > 0 {
		if d.scales, err = scales.New(cfg.Scales, log.With("component", "scales")); err != nil {
			return nil, err
		}
		d.devices.Handle("getWeight", d.scales.GetWeight)
		d.sup.Add("scales", d.scales)
	} else {
		d.devices.Handle("getWeight", noScales)
	}
	d.sup.Add("devices", d.devices)

	if d.doors != nil {
		d.sup.Add("doors", d.doors)
	}

	if err := d.buildSync(); err != nil {
		return nil, err
	}
	if err := d.buildFleet(); err != nil {
		return nil, err
	}
	if err := d.applyDeviceLists(cfg); err != nil {
		return nil, err
	}

	if cfg.HTTP.Listen != "" {
		d.http = httpapi.New(httpapi.Config{Listen: cfg.HTTP.Listen, AdminToken: d.adminToken, ReadAuth: cfg.HTTP.ReadAuth, MetricsAuth: cfg.HTTP.MetricsAuth,
			ReadTimeout: cfg.HTTP.ReadTimeout.Duration, IdleTimeout: cfg.HTTP.IdleTimeout.Duration, MaxConnsPerAddress: cfg.HTTP.MaxConnsPerAddress,
			DataDir: cfg.DataDir},
			log.With("component", "http"))
		d.http.MountAPI(d.httpParts())
		d.http.Mux.HandleFunc("GET /api/v1/backup", d.http.Admin(d.serveBackup))
		d.sup.Add("http", d.http)
	}
	if cfg.Discovery.Listen != "" {
		dcfg := discovery.Config{
			Listen: cfg.Discovery.Listen, StoreID: cfg.StoreID, StoreName: cfg.StoreName, Version: version,
			Devices: d.devices, MDNS: cfg.Discovery.MDNS,
		}
		if d.doors != nil && cfg.MQTT.Listen != "" {
			dcfg.MQTT = mqttListener{d.doors}
		}
		if d.http != nil {
			dcfg.HTTP = d.http
		}
		if d.disc, err = discovery.New(dcfg, log); err != nil {
			return nil, err
		}
		d.sup.Add("discovery", d.disc)
	}
	d.sup.Add("watchdog", supervisor.Func(func(ctx context.Context) error { return sdnotify.RunWatchdog(ctx, d.healthy) }))
	return d, nil
}

// mqttListener is the doors' plain MQTT listener as discovery announces it.
type mqttListener struct{ doors *doors.Service }

func (m mqttListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", m.doors.Addr())
	return a
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
		_, err := d.store.Outbox().QueueStats()
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

// Run binds every listener, starts every part, reports readiness, and
// blocks until ctx is cancelled or a part fails fatally; then it stops and
// closes everything, the store last. Run once.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.sup.Start(ctx); err != nil {
		return err
	}
	// Every bound address, so a listener configured on port 0 can be found
	// ("off" when not configured).
	addrs := map[string]string{"http": "off", "mqtt": "off", "mqtts": "off", "discovery": "off"}
	if d.http != nil {
		addrs["http"] = d.http.Addr().String()
	}
	if d.doors != nil {
		addrs["mqtt"], addrs["mqtts"] = cmp.Or(d.doors.Addr(), "off"), cmp.Or(d.doors.TLSAddr(), "off")
	}
	if d.disc != nil {
		var ds []string
		for _, a := range d.disc.Addrs() {
			ds = append(ds, a.String())
		}
		addrs["discovery"] = strings.Join(ds, ",")
	}
	// Ready first, then the ready file and the line: whoever sees either
	// finds /readyz answering.
	d.ready.Store(true)
	if err := readyfile.Write(d.cfg.DataDir, d.readyFile()); err != nil {
		d.log.Warn("tools will not find listeners on port 0", "err", err)
	}
	d.log.Info("storebox ready", "version", d.version, "store", d.cfg.StoreID, "devices", d.devices.Addr().String(),
		"http", addrs["http"], "mqtt", addrs["mqtt"], "mqtts", addrs["mqtts"], "discovery", addrs["discovery"],
		"data_dir", d.cfg.DataDir, "startup", time.Since(d.started).Round(time.Millisecond))
	sdnotify.Ready()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-d.sup.Fatal():
		d.log.Error("fatal component error; stopping", "err", runErr)
	}
	d.ready.Store(false)
	_ = readyfile.Remove(d.cfg.DataDir)
	sdnotify.Stopping()
	d.log.Info("stopping")
	if err := d.sup.Stop(); err != nil {
		d.log.Error("stop", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	d.log.Info("stopped")
	return runErr
}

// storeService runs the store's side loops and closes it last.
type storeService struct {
	st      *store.Store
	log     *slog.Logger
	started time.Time
	once    sync.Once
}

// Serve reports when the catalog index is built, and releases the store
// file's mapped pages until ctx ends.
func (s *storeService) Serve(ctx context.Context) error {
	s.once.Do(func() {
		// WaitIndexed ends when the index build does, whatever ctx says.
		go func() {
			s.st.WaitIndexed()
			s.log.Info("catalog indexed", "goods", s.st.GoodsCount(), "after", time.Since(s.started).Round(time.Millisecond))
		}()
	})
	s.releaseMappedPages(ctx)
	return nil
}

// Close closes the store.
func (s *storeService) Close() error { return s.st.Close() }

// releaseMappedPages keeps the store file's pages from piling up in the
// daemon's RSS: after a long outbox drain (or a big catalog scan) every page
// read stays mapped. It releases them when the outbox moved by more than
// 10,000 events since the last release, and once a minute otherwise.
func (s *storeService) releaseMappedPages(ctx context.Context) {
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
		q, err := s.st.Outbox().QueueStats()
		if err != nil {
			continue
		}
		moved := abs(int(q.LastSeq)-lastSeq) + abs(q.Depth-lastDepth)
		if moved < 10000 && time.Since(last) < time.Minute {
			continue
		}
		if err := s.st.ReleaseMapped(); err != nil {
			s.log.Debug("release mapped store pages", "err", err)
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

// loadAdminToken returns the configured admin token, or the one in the
// data directory, creating it (mode 0600) at first start.
func loadAdminToken(c *config.Config) (string, error) {
	tok, path, created, err := webauth.LoadAdminToken(c.DataDir, c.HTTP.AdminToken)
	if created {
		dirowner.Match(c.DataDir, path)
	}
	return tok, err
}

// restrictDataDir keeps the data directory and the admin token to the
// service and administrators where file modes do not (Windows: an explicit,
// protected ACL). A file system without ACLs is a warning, not a refusal.
func restrictDataDir(dataDir string, log *slog.Logger) {
	for _, p := range []string{dataDir, filepath.Join(dataDir, webauth.AdminTokenFile)} {
		if err := private.Restrict(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("data directory: access not restricted to the service and administrators", "err", err)
		}
	}
}

// ReadAdminToken is what the CLI uses to talk to the local API.
func ReadAdminToken(c *config.Config) (string, error) {
	return webauth.ReadAdminToken(c.DataDir, c.HTTP.AdminToken)
}

// clockWatch follows the wall clock for the orders' steady clock.
type clockWatch struct {
	clock  *steadyclock.Clock
	jumped func(time.Duration) error
	log    *slog.Logger
}

func (w *clockWatch) Serve(ctx context.Context) error {
	w.clock.Watch(ctx, time.Second, w.jumped, func(d time.Duration, err error) {
		w.log.Error("the wall clock jumped; pending orders' deadlines not moved yet, retrying", "jump", d, "err", err)
	})
	return nil
}
