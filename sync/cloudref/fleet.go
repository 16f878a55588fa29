package cloudref

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
)

// The fleet console (SPEC §7): the latest health snapshot per store, a
// desired configuration per store, and the fleet page. Health arrives often
// (every store, every interval), so it is kept in memory and written to
// fleet.json at most every fleetFlushEvery; an accepted configuration is
// written before the admin is answered.

// Config fault modes (Options.ConfigFault), for driving a daemon through a
// misbehaving cloud.
const (
	ConfigFaultHang     = "hang"     // accept GET config and never answer
	ConfigFaultGarbage  = "garbage"  // 200, signed, not JSON
	ConfigFaultOversize = "oversize" // 200, signed, a 10 MB document
	ConfigFaultUnsigned = "unsigned" // 200 without X-Storebox-Signature
	ConfigFaultForged   = "forged"   // 200 signed with the wrong secret
	ConfigFaultStale    = "stale"    // 200 signed 10 minutes ago
	ConfigFaultOlder    = "older"    // 200 with the previously accepted document (its version goes backwards)
)

// ConfigFaults lists the modes; "" is no fault.
var ConfigFaults = []string{ConfigFaultHang, ConfigFaultGarbage, ConfigFaultOversize, ConfigFaultUnsigned, ConfigFaultForged, ConfigFaultStale, ConfigFaultOlder}

const (
	maxHealthBody   = 1 << 20
	oversizeConfig  = 10 << 20
	fleetFlushEvery = 2 * time.Second
	// DefaultHealthInterval matches the daemon's fleet.health_interval.
	DefaultHealthInterval = 60 * time.Second
	// offlineAfter intervals without a snapshot, a store shows as offline.
	offlineAfter = 3
)

// fleet holds the per-store fleet state.
type fleet struct {
	mu     sync.Mutex
	path   string // fleet.json; "" = memory only
	rev    uint64 // bumped by every change, so the page asks only for what changed
	stores map[string]*fleetStore
	dirty  bool
	fault  string

	counts fleetCounters
	saveMu sync.Mutex // one writer of fleet.json at a time

	latMu sync.Mutex
	lat   [1 << 16]time.Duration // the last health PUTs' time in the cloud, a ring
	latN  uint64
}

type fleetCounters struct {
	HealthP50MS       float64 `json:"health_p50_ms"` // time in the cloud per health PUT
	HealthP99MS       float64 `json:"health_p99_ms"`
	HealthReceived    uint64  `json:"health_received"`
	HealthRejected    uint64  `json:"health_rejected"`
	ConfigServed      uint64  `json:"config_served"`
	ConfigNotModified uint64  `json:"config_not_modified"`
	ConfigAccepted    uint64  `json:"config_accepted"`
	ConfigRefused     uint64  `json:"config_refused"`
	ConfigFaulted     uint64  `json:"config_faulted"`
}

// fleetStore is one store as the cloud knows it.
type fleetStore struct {
	Health     *fleetmsg.Health `json:"health,omitempty"`
	ReceivedAt time.Time        `json:"received_at,omitzero"`
	Desired    *desiredDoc      `json:"desired,omitempty"`
	Previous   *desiredDoc      `json:"previous,omitempty"` // served by the "older" fault
	Rev        uint64           `json:"-"`
}

// desiredDoc is an accepted desired configuration and its reply body,
// rendered once so every GET signs the same bytes.
type desiredDoc struct {
	Version fleetmsg.Version `json:"version"`
	Config  json.RawMessage  `json:"config"`
	SetAt   time.Time        `json:"set_at"`
	body    []byte
}

func (d *desiredDoc) render() {
	d.body, _ = json.Marshal(fleetmsg.Desired{Version: d.Version, Config: d.Config})
}

// fleetFile is fleet.json.
type fleetFile struct {
	Stores map[string]*fleetStore `json:"stores"`
}

func openFleet(dataDir, fault string) (*fleet, error) {
	f := &fleet{stores: map[string]*fleetStore{}, fault: fault}
	if dataDir == "" {
		return f, nil
	}
	f.path = filepath.Join(dataDir, "fleet.json")
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("read fleet state: %w", err)
	}
	var ff fleetFile
	if err := json.Unmarshal(b, &ff); err != nil {
		return nil, fmt.Errorf("fleet state %s: %w", f.path, err)
	}
	for id, st := range ff.Stores {
		if st == nil {
			continue
		}
		for _, d := range []*desiredDoc{st.Desired, st.Previous} {
			if d != nil {
				d.render()
			}
		}
		f.rev++
		st.Rev = f.rev
		f.stores[id] = st
	}
	return f, nil
}

func (f *fleet) store(id string) *fleetStore {
	st := f.stores[id]
	if st == nil {
		st = &fleetStore{}
		f.stores[id] = st
	}
	return st
}

// touch marks st changed; the caller holds f.mu.
func (f *fleet) touch(st *fleetStore) {
	f.rev++
	st.Rev = f.rev
	f.dirty = true
}

// save writes fleet.json (temp file, then rename) when anything changed.
func (f *fleet) save(force bool) error {
	if f.path == "" {
		return nil
	}
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	f.mu.Lock()
	if !f.dirty && !force {
		f.mu.Unlock()
		return nil
	}
	// Snapshots and documents are replaced, never changed in place, so a
	// shallow copy can be encoded without holding up the stores' PUTs.
	snap := make(map[string]*fleetStore, len(f.stores))
	for id, st := range f.stores {
		c := *st
		snap[id] = &c
	}
	f.dirty = false
	f.mu.Unlock()
	b, err := json.Marshal(fleetFile{Stores: snap})
	if err != nil {
		return fmt.Errorf("encode fleet state: %w", err)
	}
	return replaceFile(f.path, b, "fleet state")
}

// flushLoop writes changed health every fleetFlushEvery until done.
func (s *Server) flushLoop() {
	t := time.NewTicker(fleetFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.fleet.save(false); err != nil {
				s.log.Error("fleet state not saved", "err", err)
			}
		}
	}
}

func (s *Server) secretFor(store string) string {
	if v, ok := s.opt.StoreSecrets[store]; ok {
		return v
	}
	return s.opt.Secret
}

// timedHealth records how long the cloud spends on each health PUT (reading
// the body, verifying, decoding, keeping), apart from the network and the
// client's own queueing, which the stores see in their round trip.
func (s *Server) timedHealth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		next.ServeHTTP(w, r)
		d := time.Since(t0)
		f := s.fleet
		f.latMu.Lock()
		f.lat[f.latN%uint64(len(f.lat))] = d
		f.latN++
		f.latMu.Unlock()
	})
}

// healthLatency is the p50 and p99 of the recorded health PUTs, in ms.
func (f *fleet) healthLatency() (p50, p99 float64) {
	f.latMu.Lock()
	n := min(f.latN, uint64(len(f.lat)))
	ds := slices.Clone(f.lat[:n])
	f.latMu.Unlock()
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)])
}

// putHealth keeps the latest snapshot of a store (SPEC §7).
func (s *Server) putHealth(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	body := bodyOf(r)
	reject := func(status int, code, detail string) {
		s.fleet.mu.Lock()
		s.fleet.counts.HealthRejected++
		s.fleet.mu.Unlock()
		writeErr(w, status, code, detail)
	}
	if len(body) > maxHealthBody {
		reject(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("health snapshot over %d bytes", maxHealthBody))
		return
	}
	h, err := fleetmsg.DecodeHealth(body)
	if err != nil {
		reject(http.StatusBadRequest, "bad_health", err.Error())
		return
	}
	if h.Store == "" {
		h.Store = store
	}
	if h.Store != store {
		reject(http.StatusBadRequest, "bad_health", fmt.Sprintf("snapshot is for store %q, the path names %q", h.Store, store))
		return
	}
	now := s.opt.Now()
	s.fleet.mu.Lock()
	st := s.fleet.store(store)
	st.Health, st.ReceivedAt = &h, now
	s.fleet.counts.HealthReceived++
	s.fleet.touch(st)
	s.fleet.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// getConfig serves a store's desired configuration, signed over the reply
// body; If-None-Match with the current version gets 304.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	secret := s.secretFor(store)
	s.fleet.mu.Lock()
	fault := s.fleet.fault
	var cur, prev *desiredDoc
	if st := s.fleet.stores[store]; st != nil {
		cur, prev = st.Desired, st.Previous
	}
	if fault != "" {
		s.fleet.counts.ConfigFaulted++
	}
	s.fleet.mu.Unlock()

	now := s.opt.Now()
	reply := func(body []byte, sig string) {
		w.Header().Set("Content-Type", "application/json")
		if sig != "" {
			w.Header().Set(ledger.HeaderSignature, sig)
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
	switch fault {
	case ConfigFaultHang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	case ConfigFaultGarbage:
		body := []byte(`{"version": 999, "config": {"doors": [ this is not JSON`)
		reply(body, ledger.Sign(secret, now, body))
		return
	case ConfigFaultOversize:
		var v fleetmsg.Version = 1
		if cur != nil {
			v = cur.Version + 1
		}
		body := oversizeDocument(v)
		reply(body, ledger.Sign(secret, now, body))
		return
	case ConfigFaultOlder:
		if prev != nil {
			cur = prev
		}
	}
	if cur == nil {
		writeErr(w, http.StatusNotFound, "no_config", "no desired configuration for store "+store)
		return
	}
	etag := fleetmsg.ETag(cur.Version)
	w.Header().Set("ETag", etag)
	if noneMatch(r.Header.Get("If-None-Match"), etag) {
		s.fleet.mu.Lock()
		s.fleet.counts.ConfigNotModified++
		s.fleet.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.fleet.mu.Lock()
	s.fleet.counts.ConfigServed++
	s.fleet.mu.Unlock()
	switch fault {
	case ConfigFaultUnsigned:
		reply(cur.body, "")
	case ConfigFaultForged:
		reply(cur.body, ledger.Sign("forged-"+secret, now, cur.body))
	case ConfigFaultStale:
		reply(cur.body, ledger.Sign(secret, now.Add(-2*ledger.MaxSkew), cur.body))
	default:
		reply(cur.body, ledger.Sign(secret, now, cur.body))
	}
}

// oversizeDocument is a well-formed desired configuration of about 10 MB.
func oversizeDocument(v fleetmsg.Version) []byte {
	var b strings.Builder
	b.Grow(oversizeConfig + 200)
	fmt.Fprintf(&b, `{"version": %d, "config": {"doors": [`, v)
	for i := 0; b.Len() < oversizeConfig; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": "D%07d", "secret": "%s", "policy": "entry"}`, i, strings.Repeat("x", 64))
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// noneMatch reports whether an If-None-Match header matches etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func noneMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// admin guards the console's admin endpoints with their own bearer token.
func (s *Server) admin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opt.AdminToken == "" {
			writeErr(w, http.StatusForbidden, "admin_off", "no admin token configured: start storebox-cloud with --admin-token or STOREBOX_CLOUD_ADMIN_TOKEN")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opt.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="storebox-cloud admin"`)
			writeErr(w, http.StatusUnauthorized, "bad_token", "admin endpoints need Authorization: Bearer <admin token>")
			return
		}
		next(w, r)
	})
}

// putDesired checks and stores a store's desired configuration.
func (s *Server) putDesired(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	if store == "" || strings.ContainsAny(store, "/#+ ") {
		writeErr(w, http.StatusBadRequest, "bad_store", "store id must be non-empty without '/', '#', '+' or spaces")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fleetmsg.MaxDocument))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refuseConfig(w, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("document over %d bytes", fleetmsg.MaxDocument))
			return
		}
		s.refuseConfig(w, http.StatusBadRequest, "bad_body", "", err.Error())
		return
	}
	d, _, err := fleetmsg.ParseDesired(body)
	if err != nil {
		var ke *fleetmsg.KeyError
		key := ""
		if errors.As(err, &ke) {
			key = ke.Key
		}
		s.refuseConfig(w, http.StatusBadRequest, "bad_config", key, err.Error())
		return
	}
	doc := &desiredDoc{Version: d.Version, Config: compactJSON(d.Config), SetAt: s.opt.Now().UTC()}
	doc.render()
	s.fleet.mu.Lock()
	st := s.fleet.store(store)
	if st.Desired != nil && d.Version <= st.Desired.Version {
		cur := st.Desired.Version
		s.fleet.mu.Unlock()
		s.refuseConfig(w, http.StatusConflict, "version_not_increasing", "version",
			fmt.Sprintf("version: %d is not above the stored version %d", d.Version, cur))
		return
	}
	st.Previous, st.Desired = st.Desired, doc
	s.fleet.counts.ConfigAccepted++
	s.fleet.touch(st)
	s.fleet.mu.Unlock()
	if err := s.fleet.save(true); err != nil {
		writeErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	s.log.Info("desired configuration stored", "store", store, "version", uint64(d.Version))
	writeJSON(w, http.StatusOK, map[string]any{"store": store, "version": d.Version})
}

func (s *Server) refuseConfig(w http.ResponseWriter, status int, code, key, detail string) {
	s.fleet.mu.Lock()
	s.fleet.counts.ConfigRefused++
	s.fleet.mu.Unlock()
	writeJSON(w, status, map[string]string{"error": code, "key": key, "detail": detail})
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var buf strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return json.RawMessage(strings.TrimSpace(buf.String()))
}

// getDesired returns the stored desired configuration (admin).
func (s *Server) getDesired(w http.ResponseWriter, r *http.Request) {
	s.fleet.mu.Lock()
	var body []byte
	if st := s.fleet.stores[r.PathValue("store")]; st != nil && st.Desired != nil {
		body = st.Desired.body
	}
	s.fleet.mu.Unlock()
	if body == nil {
		writeErr(w, http.StatusNotFound, "no_config", "no desired configuration for this store")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// putConfigFault switches the config fault at run time: {"mode": "hang"},
// {"mode": ""} to stop.
func (s *Server) putConfigFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	if err := CheckConfigFault(req.Mode); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_mode", err.Error())
		return
	}
	s.fleet.mu.Lock()
	s.fleet.fault = req.Mode
	s.fleet.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"mode": req.Mode})
}

// CheckConfigFault accepts "" or one of ConfigFaults.
func CheckConfigFault(mode string) error {
	if mode == "" {
		return nil
	}
	for _, m := range ConfigFaults {
		if m == mode {
			return nil
		}
	}
	return fmt.Errorf("config fault %q is not one of %s", mode, strings.Join(ConfigFaults, ", "))
}

// FleetStore is one store on the fleet page and in GET /fleet.json: what
// the page shows. The whole latest snapshot is at GET /stores/<s>/health.
type FleetStore struct {
	ID             string                `json:"id"`
	Rev            uint64                `json:"rev"`
	ReceivedAt     *time.Time            `json:"received_at,omitempty"` // nil: never reported
	At             *time.Time            `json:"at,omitempty"`
	Version        string                `json:"version"`
	UptimeS        int64                 `json:"uptime_s"`
	Ready          bool                  `json:"ready"`
	Alerts         []fleetmsg.Alert      `json:"alerts"`
	Queue          fleetmsg.QueueHealth  `json:"queue"`
	Config         fleetmsg.ConfigStatus `json:"config"`
	DesiredVersion fleetmsg.Version      `json:"desired_version"`
}

// FleetView is GET /fleet.json: the stores changed after ?since=REV (all
// without it). Whether a store is offline depends on the clock, so the page
// decides that from received_at, now and offline_after_s.
type FleetView struct {
	Rev           uint64       `json:"rev"`
	Now           time.Time    `json:"now"`
	OfflineAfterS float64      `json:"offline_after_s"`
	Total         int          `json:"total"`
	Stores        []FleetStore `json:"stores"`
}

// Fleet returns the stores changed after since (all when since is from
// before a restart).
func (s *Server) Fleet(since uint64) FleetView {
	s.fleet.mu.Lock()
	defer s.fleet.mu.Unlock()
	if since > s.fleet.rev {
		since = 0 // a page from before a restart of the cloud: send everything
	}
	v := FleetView{Rev: s.fleet.rev, Now: s.opt.Now().UTC(), OfflineAfterS: (offlineAfter * s.healthInterval()).Seconds(),
		Total: len(s.fleet.stores), Stores: []FleetStore{}}
	for id, st := range s.fleet.stores {
		if st.Rev <= since {
			continue
		}
		fs := FleetStore{ID: id, Rev: st.Rev, Alerts: []fleetmsg.Alert{}}
		if st.Desired != nil {
			fs.DesiredVersion = st.Desired.Version
		}
		if h := st.Health; h != nil {
			recv := st.ReceivedAt.UTC()
			at := h.At
			fs.ReceivedAt, fs.At = &recv, &at
			fs.Version, fs.UptimeS, fs.Ready = h.Version, h.UptimeS, h.Ready
			if h.Alerts != nil {
				fs.Alerts = h.Alerts
			}
			fs.Queue, fs.Config = h.Queue, h.Config
		}
		v.Stores = append(v.Stores, fs)
	}
	return v
}

func (s *Server) healthInterval() time.Duration {
	if s.opt.HealthInterval > 0 {
		return s.opt.HealthInterval
	}
	return DefaultHealthInterval
}

func (s *Server) getFleet(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		if _, err := fmt.Sscan(v, &since); err != nil {
			writeErr(w, http.StatusBadRequest, "bad_since", "since must be a number")
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.Fleet(since))
}

// getStoreHealth is a store's whole latest snapshot and when it arrived.
func (s *Server) getStoreHealth(w http.ResponseWriter, r *http.Request) {
	s.fleet.mu.Lock()
	st := s.fleet.stores[r.PathValue("store")]
	var out any
	if st != nil && st.Health != nil {
		out = struct {
			ReceivedAt time.Time        `json:"received_at"`
			Health     *fleetmsg.Health `json:"health"`
		}{st.ReceivedAt.UTC(), st.Health}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	s.fleet.mu.Unlock()
	if out == nil {
		writeErr(w, http.StatusNotFound, "no_health", "no health snapshot from this store")
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "encode", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// fleetStats are the fleet counters for /stats.
func (s *Server) fleetStats() (fleetCounters, int) {
	s.fleet.mu.Lock()
	c, n := s.fleet.counts, len(s.fleet.stores)
	s.fleet.mu.Unlock()
	c.HealthP50MS, c.HealthP99MS = s.fleet.healthLatency()
	return c, n
}
