package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/printing"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/nulltime"
	"github.com/storebox/storebox/protocol/catalogfile"
)

// MountAPI adds the daemon's routes (PROTOCOL.md §5): the readiness probe, the
// JSON API, metrics, profiles and the status page with its live feed.
func (s *Server) MountAPI(p Parts) {
	a := &api{s: s, p: p}
	s.HandleOpen("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !p.Ready() {
			Error(w, http.StatusServiceUnavailable, "starting or stopping")
			return
		}
		w.Write([]byte("ready\n"))
	}))
	s.Mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) { JSON(w, 200, a.status(-1)) })
	s.Mux.HandleFunc("GET /api/v1/devices", a.devices)
	s.Mux.HandleFunc("GET /api/v1/devices/known", a.knownDevices)
	s.Mux.HandleFunc("POST /api/v1/devices/pending/forget", s.Admin(a.forgetPending))
	for _, verb := range []string{"approve", "reject"} {
		s.Mux.HandleFunc("POST /api/v1/devices/{id}/"+verb, s.Admin(a.setDeviceStatus(verb)))
	}
	s.Mux.HandleFunc("POST /api/v1/catalog", s.Admin(a.importCatalog))
	s.Mux.HandleFunc("GET /api/v1/catalog", s.Admin(a.exportCatalog))
	s.Mux.HandleFunc("GET /api/v1/sync", func(w http.ResponseWriter, _ *http.Request) { JSON(w, 200, a.queue()) })
	s.Mux.HandleFunc("POST /api/v1/sync/now", s.Admin(a.syncNow))
	s.Mux.HandleFunc("POST /api/v1/reload", s.Admin(a.reload))
	s.Mux.HandleFunc("GET /api/v1/orders", a.orders)
	// The customer's test pay page and the provider's signed callback.
	s.HandleOpen("/pay/test/", p.Orders.PayPageHandler())
	s.HandleOpen("POST /api/v1/payments/notify", p.Orders.NotifyHandler())
	s.Mux.HandleFunc("POST /api/v1/doors/{id}/open", s.Admin(a.openDoor))
	s.Mux.HandleFunc("GET /api/v1/printers", a.printers)
	s.Mux.HandleFunc("POST /api/v1/printers/{id}/test", s.Admin(a.printTest))
	s.Mux.HandleFunc("POST /api/v1/orders/{oid}/reprint", s.Admin(a.reprint))
	if p.Metrics != nil {
		s.HandleMetrics(p.Metrics.handler(p))
	}
	// Profiles for diagnosing a slow store; behind the admin token.
	s.Mux.HandleFunc("GET /debug/pprof/", s.Admin(pprof.Index))
	s.Mux.HandleFunc("GET /debug/pprof/profile", s.Admin(pprof.Profile))
	s.Mux.HandleFunc("GET /debug/pprof/heap", s.Admin(pprof.Handler("heap").ServeHTTP))
	s.Mux.HandleFunc("GET /debug/pprof/goroutine", s.Admin(pprof.Handler("goroutine").ServeHTTP))
	// Status page and its live feed; the feed carries the first
	// PageOnlineMax sessions (the counts cover all of them).
	s.MountStatusPage(func() any { return a.status(PageOnlineMax) })
}

// api serves the routes MountAPI adds from the daemon's parts.
type api struct {
	s *Server
	p Parts
}

func (a *api) devices(w http.ResponseWriter, _ *http.Request) {
	known, err := a.p.Admission.Devices()
	if err != nil {
		Error(w, 500, err.Error())
		return
	}
	JSON(w, 200, map[string]any{"devices": nonNil(known), "sessions": a.p.Devices.SessionsLimit(-1)})
}

// knownDevice is one row of GET /api/v1/devices/known.
type knownDevice struct {
	EquipID  string     `json:"equipId"`
	Kind     string     `json:"kind"`
	Name     string     `json:"name"`
	Status   string     `json:"status"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen"`
}

// knownDevices serves GET /api/v1/devices/known?limit=N (default 200, at
// most 1000): the approved and rejected devices, the approved ones that
// are offline first (most recently seen first), then the online ones,
// then the rejected; total counts them all. The page lists them without
// fetching every record and session of a store with 10,000 e-labels.
func (a *api) knownDevices(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	all, err := a.p.Admission.Devices()
	if err != nil {
		Error(w, 500, err.Error())
		return
	}
	online := map[string]bool{}
	for _, si := range a.p.Devices.SessionsLimit(-1) {
		online[si.EquipID] = true
	}
	rows := make([]knownDevice, 0, len(all))
	for _, d := range all {
		if d.Status == admission.DevicePending {
			continue
		}
		rows = append(rows, knownDevice{EquipID: d.EquipID, Kind: d.Kind, Name: d.Name, Status: d.Status,
			Online: online[d.EquipID], LastSeen: nulltime.Of(d.LastSeen)})
	}
	rank := func(k knownDevice) int {
		switch {
		case k.Status == admission.DeviceRejected:
			return 2
		case k.Online:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(rows, func(x, y knownDevice) int {
		if c := cmp.Compare(rank(x), rank(y)); c != 0 {
			return c
		}
		return -cmp.Compare(timeOf(x.LastSeen).UnixNano(), timeOf(y.LastSeen).UnixNano())
	})
	total := len(rows)
	JSON(w, 200, map[string]any{"devices": rows[:min(limit, total)], "total": total})
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func (a *api) setDeviceStatus(verb string) http.HandlerFunc {
	status := admission.DeviceApproved
	if verb == "reject" {
		status = admission.DeviceRejected
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		dev, err := a.p.Admission.SetDeviceStatus(id, status)
		if err != nil {
			Error(w, 500, err.Error())
			return
		}
		if status == admission.DeviceRejected {
			a.p.Devices.Disconnect(id, "rejected by technician")
		}
		a.s.Log.Info("device "+status, "equipId", id)
		JSON(w, 200, dev)
	}
}

// forgetPending serves POST /api/v1/devices/pending/forget: every pending
// record deleted, {"forgotten": n}.
func (a *api) forgetPending(w http.ResponseWriter, _ *http.Request) {
	n, err := a.p.Admission.ForgetPending()
	if err != nil {
		Error(w, 500, err.Error())
		return
	}
	a.s.Log.Info("pending devices forgotten", "count", n)
	JSON(w, 200, map[string]int{"forgotten": n})
}

func (a *api) importCatalog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	flag := func(k string) bool { return q.Get(k) == "1" || q.Get(k) == "true" }
	res, err := a.p.Catalog.Import(http.MaxBytesReader(w, r.Body, 4<<30), q.Get("name"), q.Get("format"),
		store.ImportOptions{Replace: flag("replace"), SetStock: flag("set_stock")})
	if err != nil {
		Error(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	JSON(w, 200, res)
}

func (a *api) exportCatalog(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if _, err := catalogfile.ParseFormat(format); err != nil {
		Error(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.p.Catalog.Export(w, format); err != nil {
		a.s.Log.Error("catalog export", "err", err)
	}
}

func (a *api) syncNow(w http.ResponseWriter, r *http.Request) {
	if a.p.Uploader == nil {
		Error(w, http.StatusConflict, "no upstream configured (set upstream.url and upstream.secret)")
		return
	}
	a.p.Uploader.SyncNowHandler().ServeHTTP(w, r)
}

// reload reads the configuration file again and applies it, all or
// nothing (SIGHUP's work, for `storebox reload` and Windows).
func (a *api) reload(w http.ResponseWriter, _ *http.Request) {
	if a.p.Reload == nil {
		Error(w, http.StatusNotImplemented, "this daemon cannot reload")
		return
	}
	if err := a.p.Reload(); err != nil {
		Error(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	JSON(w, http.StatusOK, map[string]bool{"reloaded": true})
}

func (a *api) orders(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	list := a.p.Orders.List(r.URL.Query().Get("status"), limit)
	JSON(w, 200, map[string]any{"orders": nonNil(list), "counts": a.p.Orders.Counts()})
}

func (a *api) openDoor(w http.ResponseWriter, r *http.Request) {
	if a.p.Doors == nil {
		Error(w, http.StatusNotFound, "no MQTT broker running (mqtt.listen is empty)")
		return
	}
	var body struct {
		OpenID string `json:"openId"`
		Reason string `json:"reason"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			Error(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	if body.Reason == "" {
		body.Reason = "staff"
	}
	err := a.p.Doors.Open(r.Context(), r.PathValue("id"), body.OpenID, body.Reason)
	var de *doors.DoorError
	switch {
	case err == nil:
		JSON(w, 200, map[string]any{"door": r.PathValue("id"), "opened": true})
	case errors.Is(err, doors.ErrUnknownDoor):
		Error(w, http.StatusNotFound, err.Error())
	case errors.Is(err, doors.ErrDoorOffline), errors.Is(err, doors.ErrNoAck), errors.As(err, &de):
		Error(w, http.StatusBadGateway, err.Error())
	default:
		Error(w, 500, err.Error())
	}
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (a *api) printers(w http.ResponseWriter, _ *http.Request) {
	states := []printing.State{}
	if a.p.Printers != nil {
		states = a.p.Printers.States()
	}
	JSON(w, 200, map[string]any{"printers": states})
}

func (a *api) printTest(w http.ResponseWriter, r *http.Request) {
	if a.p.Printers == nil {
		Error(w, http.StatusNotFound, "no printer configured ([[printers]] in the config)")
		return
	}
	id := r.PathValue("id")
	if err := a.p.Printers.TestPage(id); err != nil {
		printError(w, err)
		return
	}
	JSON(w, http.StatusAccepted, map[string]any{"queued": []string{id}})
}

func (a *api) reprint(w http.ResponseWriter, r *http.Request) {
	if a.p.Printers == nil {
		Error(w, http.StatusNotFound, "no printer configured ([[printers]] in the config)")
		return
	}
	ids, err := a.p.Printers.Reprint(r.PathValue("oid"), r.URL.Query().Get("printer"))
	if err != nil {
		printError(w, err)
		return
	}
	JSON(w, http.StatusAccepted, map[string]any{"queued": ids})
}

func printError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, printing.ErrUnknownPrinter), errors.Is(err, printing.ErrNoReceipt):
		Error(w, http.StatusNotFound, err.Error())
	case errors.Is(err, printing.ErrNoPrinter):
		Error(w, http.StatusConflict, err.Error())
	default:
		Error(w, http.StatusInternalServerError, err.Error())
	}
}
