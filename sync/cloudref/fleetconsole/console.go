// Package fleetconsole is the reference cloud's fleet console (UPSTREAM.md §7):
// the latest health snapshot per store, a desired configuration per store,
// the admin API that sets it, config faults, and the fleet page. The cloud
// (sync/cloudref) mounts it behind its signature check.
//
// Health arrives often (every store, every interval), so it is kept in
// memory and written to fleet.json at most every fleetFlushEvery; an
// accepted configuration is written before the admin is answered.
package fleetconsole

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/sync/cloudref/cloudkit"
)

// Config fault modes (Config.Fault), for driving a daemon through a
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

// Config configures a Console.
type Config struct {
	DataDir        string                    // fleet.json goes here; "" keeps the fleet in memory
	AdminToken     string                    // bearer token of the admin endpoints; "" turns them off
	HealthInterval time.Duration             // the stores' fleet.health_interval (0 = DefaultHealthInterval)
	Fault          string                    // one of ConfigFaults, or "" (changeable at run time by an admin)
	SecretFor      func(store string) string // the store's secret, which signs its config replies
	Now            func() time.Time
	Logger         *slog.Logger
	Done           <-chan struct{} // closed when the cloud stops: ends hung replies and FlushLoop
}

// Console holds the per-store fleet state and serves it.
type Console struct {
	cfg    Config
	mu     sync.Mutex
	path   string // fleet.json; "" = memory only
	rev    uint64 // bumped by every change, so the page asks only for what changed
	stores map[string]*storeState
	dirty  bool
	fault  string

	counts Counters
	saveMu sync.Mutex // one writer of fleet.json at a time

	latMu sync.Mutex
	lat   [1 << 16]time.Duration // the last health PUTs' time in the cloud, a ring
	latN  uint64
}

// Counters are the console's figures in the cloud's /stats.
type Counters struct {
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

// storeState is one store as the cloud knows it.
type storeState struct {
	Health     *fleetmsg.Health `json:"health,omitempty"`
	ReceivedAt time.Time        `json:"received_at,omitzero"`
	Desired    *desiredDoc      `json:"desired,omitempty"`
	Previous   *desiredDoc      `json:"previous,omitempty"` // served by the "older" fault
	// Fault is this store's config fault (PUT /v1/admin/stores/<s>/
	// config-fault), over the cloud's; like --config-fault it is not kept
	// across a restart.
	Fault string `json:"-"`
	// Applied is the version the store last said it runs (its health's
	// config, its If-None-Match), so that a cloud which lost its documents
	// does not accept one the store would refuse as older.
	Applied   fleetmsg.Version `json:"applied,omitempty"`
	AppliedAt time.Time        `json:"applied_at,omitzero"`
	Rev       uint64           `json:"-"`
	// For the details view (details.go).
	Older       []*desiredDoc `json:"older,omitempty"` // accepted before Desired, newest first
	AlertEvents []AlertEvent  `json:"-"`               // memory only: fleet.json, written every 2 s, stays the size of the snapshots
	Refusals    []Refusal     `json:"refusals,omitempty"`
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

// stateFile is fleet.json.
type stateFile struct {
	Stores map[string]*storeState `json:"stores"`
}

// New checks cfg and loads fleet.json from cfg.DataDir.
func New(cfg Config) (*Console, error) {
	if err := CheckConfigFault(cfg.Fault); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, stores: map[string]*storeState{}, fault: cfg.Fault}
	if cfg.DataDir == "" {
		return c, nil
	}
	c.path = filepath.Join(cfg.DataDir, "fleet.json")
	b, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("read fleet state: %w", err)
	}
	var ff stateFile
	if err := json.Unmarshal(b, &ff); err != nil {
		return nil, fmt.Errorf("fleet state %s: %w", c.path, err)
	}
	for id, st := range ff.Stores {
		if st == nil {
			continue
		}
		for _, d := range append([]*desiredDoc{st.Desired, st.Previous}, st.Older...) {
			if d != nil {
				d.render()
			}
		}
		c.rev++
		st.Rev = c.rev
		c.stores[id] = st
	}
	return c, nil
}

func (c *Console) store(id string) *storeState {
	st := c.stores[id]
	if st == nil {
		st = &storeState{}
		c.stores[id] = st
	}
	return st
}

// touch marks st changed; the caller holds c.mu.
func (c *Console) touch(st *storeState) {
	c.rev++
	st.Rev = c.rev
	c.dirty = true
}

// save writes fleet.json (temp file, then rename) when anything changed.
func (c *Console) save(force bool) error {
	if c.path == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if !c.dirty && !force {
		c.mu.Unlock()
		return nil
	}
	// Snapshots and documents are replaced, never changed in place, so a
	// shallow copy can be encoded without holding up the stores' PUTs.
	snap := make(map[string]*storeState, len(c.stores))
	for id, st := range c.stores {
		cp := *st
		snap[id] = &cp
	}
	c.dirty = false
	c.mu.Unlock()
	b, err := json.Marshal(stateFile{Stores: snap})
	if err != nil {
		return fmt.Errorf("encode fleet state: %w", err)
	}
	return cloudkit.ReplaceFile(c.path, b, "fleet state")
}

// Close writes fleet.json if anything changed since the last write.
func (c *Console) Close() error { return c.save(false) }

// FlushLoop writes changed health every fleetFlushEvery until cfg.Done.
func (c *Console) FlushLoop() {
	t := time.NewTicker(fleetFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-c.cfg.Done:
			return
		case <-t.C:
			if err := c.save(false); err != nil {
				c.cfg.Logger.Error("fleet state not saved", "err", err)
			}
		}
	}
}

// Mount registers the console's endpoints on mux. storeAPI wraps the
// stores' own endpoints: the cloud's signature check (cloudkit.Verifier.
// Signed) and its fault injection.
func (c *Console) Mount(mux *http.ServeMux, storeAPI func(http.Handler) http.Handler) {
	mux.Handle("PUT /v1/stores/{store}/health", c.timedHealth(limitBody(maxHealthBody, storeAPI(http.HandlerFunc(c.putHealth)))))
	mux.Handle("GET /v1/stores/{store}/config", storeAPI(http.HandlerFunc(c.getConfig)))
	mux.Handle("PUT /v1/admin/stores/{store}/config", c.admin(c.putDesired))
	mux.Handle("PATCH /v1/admin/stores/{store}/config", c.admin(c.patchDesired))
	mux.Handle("GET /v1/admin/stores/{store}/config", c.admin(c.getDesired))
	mux.Handle("PUT /v1/admin/config-fault", c.admin(c.putConfigFault))
	mux.Handle("PUT /v1/admin/stores/{store}/config-fault", c.admin(c.putStoreConfigFault))
	mux.Handle("GET /v1/admin/session", c.admin(c.getAdminSession))
	mux.HandleFunc("GET /{$}", c.getFleetPage)
	mux.HandleFunc("GET /fleet.json", c.getFleet)
	mux.HandleFunc("GET /stores/{store}/health", c.getStoreHealth)
	mux.HandleFunc("GET /stores/{store}/details", c.getStoreDetails)
}

// limitBody stops reading a request body after n bytes (413 from Signed).
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// timedHealth records how long the cloud spends on each health PUT (reading
// the body, verifying, decoding, keeping), apart from the network and the
// client's own queueing, which the stores see in their round trip.
func (c *Console) timedHealth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		next.ServeHTTP(w, r)
		d := time.Since(t0)
		c.latMu.Lock()
		c.lat[c.latN%uint64(len(c.lat))] = d
		c.latN++
		c.latMu.Unlock()
	})
}

// healthLatency is the p50 and p99 of the recorded health PUTs, in ms.
func (c *Console) healthLatency() (p50, p99 float64) {
	c.latMu.Lock()
	n := min(c.latN, uint64(len(c.lat)))
	ds := slices.Clone(c.lat[:n])
	c.latMu.Unlock()
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)])
}

// putHealth keeps the latest snapshot of a store (UPSTREAM.md §7).
func (c *Console) putHealth(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	body := cloudkit.Body(r)
	reject := func(status int, code, detail string) {
		c.mu.Lock()
		c.counts.HealthRejected++
		c.mu.Unlock()
		cloudkit.WriteErr(w, status, code, detail)
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
	now := c.cfg.Now()
	c.mu.Lock()
	st := c.store(store)
	recordHealth(st, &h, now)
	st.Health, st.ReceivedAt = &h, now
	st.Applied, st.AppliedAt = 0, now
	if h.Config.Source == fleetmsg.SourceRemote {
		st.Applied = h.Config.Version
	}
	c.counts.HealthReceived++
	c.touch(st)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// getConfig serves a store's desired configuration, signed over the reply
// body; If-None-Match with the current version gets 304.
func (c *Console) getConfig(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	secret := c.cfg.SecretFor(store)
	c.mu.Lock()
	fault := c.fault
	var cur, prev *desiredDoc
	if v, ok := appliedFromETag(r.Header.Get("If-None-Match")); ok {
		st := c.store(store)
		if st.AppliedAt.IsZero() || st.Applied != v {
			c.touch(st)
		}
		st.Applied, st.AppliedAt = v, c.cfg.Now()
	}
	if st := c.stores[store]; st != nil {
		cur, prev = st.Desired, st.Previous
		if st.Fault != "" {
			fault = st.Fault
		}
	}
	if fault != "" {
		c.counts.ConfigFaulted++
	}
	c.mu.Unlock()

	now := c.cfg.Now()
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
		case <-c.cfg.Done:
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
		cloudkit.WriteErr(w, http.StatusNotFound, "no_config", "no desired configuration for store "+store)
		return
	}
	etag := fleetmsg.ETag(cur.Version)
	w.Header().Set("ETag", etag)
	if noneMatch(r.Header.Get("If-None-Match"), etag) {
		c.mu.Lock()
		c.counts.ConfigNotModified++
		c.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	c.mu.Lock()
	c.counts.ConfigServed++
	c.mu.Unlock()
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

// appliedFromETag reads the version a store runs from its If-None-Match
// (the quoted version it applied).
func appliedFromETag(header string) (fleetmsg.Version, bool) {
	t := strings.TrimPrefix(strings.TrimSpace(header), "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return 0, false
	}
	var v fleetmsg.Version
	if v.UnmarshalJSON([]byte(t)) != nil {
		return 0, false
	}
	return v, true
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
func (c *Console) admin(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.cfg.AdminToken == "" {
			cloudkit.WriteErr(w, http.StatusForbidden, "admin_off", "no admin token configured: start storebox-cloud with --admin-token or STOREBOX_CLOUD_ADMIN_TOKEN")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(c.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="storebox-cloud admin"`)
			cloudkit.WriteErr(w, http.StatusUnauthorized, "bad_token", "admin endpoints need Authorization: Bearer <admin token>")
			return
		}
		next(w, r)
	})
}

// putDesired checks and stores a store's desired configuration.
func (c *Console) putDesired(w http.ResponseWriter, r *http.Request) {
	store, ok := storeParam(w, r)
	if !ok {
		return
	}
	body, ok := c.readDocument(w, r)
	if !ok {
		return
	}
	c.accept(w, store, body)
}

func storeParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	store := r.PathValue("store")
	if store == "" || strings.ContainsAny(store, "/#+ ") {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_store", "store id must be non-empty without '/', '#', '+' or spaces")
		return "", false
	}
	return store, true
}

func (c *Console) readDocument(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fleetmsg.MaxDocument))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.refuseConfig(w, http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("document over %d bytes", fleetmsg.MaxDocument))
			return nil, false
		}
		c.refuseConfig(w, http.StatusBadRequest, "bad_body", "", err.Error())
		return nil, false
	}
	return body, true
}

// Accepted is the admin's answer to a stored document: what it does to the
// store, since a section it sets replaces the store's file's section as a
// whole and one it leaves out falls back to the file's.
type Accepted struct {
	Store   string           `json:"store"`
	Version fleetmsg.Version `json:"version"`
	// Replaces are the sections this document sets; LeavesToFile those
	// the store's file decides.
	Replaces     []string `json:"replaces"`
	LeavesToFile []string `json:"leaves_to_file"`
	// Removes is what the store loses against what it runs now, as far as
	// the cloud can tell ("door back", "devices.approve T-07").
	Removes []string `json:"removes"`
	// StoreApplied is the version the store last said it runs; nil when
	// it has not said since the cloud started keeping it.
	StoreApplied *fleetmsg.Version `json:"store_applied"`
	Notes        []string          `json:"notes"`
}

// accept checks a whole document against the cloud's and the store's
// versions, stores it and answers what it does.
func (c *Console) accept(w http.ResponseWriter, store string, body []byte) {
	d, doc, err := fleetmsg.ParseDesired(body)
	if err != nil {
		var ke *fleetmsg.KeyError
		key := ""
		if errors.As(err, &ke) {
			key = ke.Key
		}
		c.refuseConfig(w, http.StatusBadRequest, "bad_config", key, err.Error())
		c.recordCloudRefusal(store, fleetmsg.StatedVersion(body), err.Error())
		return
	}
	newDoc := &desiredDoc{Version: d.Version, Config: compactJSON(d.Config), SetAt: c.cfg.Now().UTC()}
	newDoc.render()
	c.mu.Lock()
	st := c.store(store)
	if st.Desired != nil && d.Version <= st.Desired.Version {
		cur := st.Desired.Version
		c.mu.Unlock()
		reason := fmt.Sprintf("version: %d is not above the stored version %d", d.Version, cur)
		c.refuseConfig(w, http.StatusConflict, "version_not_increasing", "version", reason)
		c.recordCloudRefusal(store, d.Version, reason)
		return
	}
	if !st.AppliedAt.IsZero() && d.Version <= st.Applied {
		applied, at := st.Applied, st.AppliedAt
		c.mu.Unlock()
		reason := fmt.Sprintf("version: %d is not above version %d, which store %s runs (it said so at %s); the store would refuse it as older: use %d or above",
			d.Version, applied, store, at.UTC().Format(time.RFC3339), applied+1)
		c.refuseConfig(w, http.StatusConflict, "version_not_increasing", "version", reason)
		c.recordCloudRefusal(store, d.Version, reason)
		return
	}
	out := c.effect(st, store, d.Version, doc)
	if st.Desired != nil {
		st.Older = append([]*desiredDoc{st.Desired}, st.Older[:min(len(st.Older), maxOlderDocs-1)]...)
	}
	st.Previous, st.Desired = st.Desired, newDoc
	c.counts.ConfigAccepted++
	c.touch(st)
	c.mu.Unlock()
	if err := c.save(true); err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "storage", err.Error())
		return
	}
	c.cfg.Logger.Info("desired configuration stored", "store", store, "version", uint64(d.Version), "replaces", out.Replaces, "removes", out.Removes)
	cloudkit.WriteJSON(w, http.StatusOK, out)
}

// effect says what doc does to the store st against what it runs now; the
// caller holds c.mu.
func (c *Console) effect(st *storeState, store string, v fleetmsg.Version, doc fleetmsg.Document) Accepted {
	out := Accepted{Store: store, Version: v, Replaces: fleetmsg.Sections(doc), LeavesToFile: fleetmsg.LeftOut(doc), Removes: []string{}, Notes: []string{}}
	if out.Replaces == nil {
		out.Replaces = []string{}
	}
	if out.LeavesToFile == nil {
		out.LeavesToFile = []string{}
	}
	if !st.AppliedAt.IsZero() {
		a := st.Applied
		out.StoreApplied = &a
	}
	var prev fleetmsg.Document
	if st.Desired != nil {
		prev, _ = fleetmsg.CheckConfig(st.Desired.Config)
	}
	if ids := fleetmsg.DoorIDs(doc); doc.Doors != nil && prev.Doors != nil {
		// The stored document's doors are what the store runs, or is
		// about to.
		prevIDs := fleetmsg.DoorIDs(prev)
		for _, id := range fleetmsg.Removed(prevIDs, ids) {
			out.Removes = append(out.Removes, "door "+id)
		}
		out.Notes = append(out.Notes, fmt.Sprintf("doors: this list (%s) replaces version %d's (%s)", listOr(ids), st.Desired.Version, listOr(prevIDs)))
	} else if doc.Doors != nil {
		// The store runs its file's doors; its health names them.
		if st.Health == nil {
			out.Notes = append(out.Notes, "doors: this list replaces the store's whole doors section; the store has not reported its doors, so what it removes is unknown")
		} else {
			var running []string
			for _, d := range st.Health.Doors {
				running = append(running, d.ID)
			}
			for _, id := range fleetmsg.Removed(running, ids) {
				out.Removes = append(out.Removes, "door "+id)
			}
			out.Notes = append(out.Notes, fmt.Sprintf("doors: this list (%s) replaces the store's file's whole doors section (it runs %s)", listOr(ids), listOr(running)))
		}
	} else if prevIDs := fleetmsg.DoorIDs(prev); prev.Doors != nil {
		out.Notes = append(out.Notes, fmt.Sprintf("doors: left out, so the store's file's doors apply again in place of version %d's (%s); a door the file lacks is removed", st.Desired.Version, listOr(prevIDs)))
		for _, id := range prevIDs {
			out.Removes = append(out.Removes, "door "+id+" (unless the store's file has it)")
		}
	}
	lists := func(name string, now, before *[]string) {
		switch {
		case now != nil && before != nil:
			for _, id := range fleetmsg.Removed(*before, *now) {
				out.Removes = append(out.Removes, name+" "+id)
			}
		case now == nil && before != nil:
			out.Notes = append(out.Notes, fmt.Sprintf("%s: left out, so the store's file's list applies again in place of version %d's", name, st.Desired.Version))
		}
	}
	var nowDev, prevDev fleetmsg.DevicesSection
	if doc.Devices != nil {
		nowDev = *doc.Devices
	}
	if prev.Devices != nil {
		prevDev = *prev.Devices
	}
	lists("devices.approve", nowDev.Approve, prevDev.Approve)
	lists("devices.reject", nowDev.Reject, prevDev.Reject)
	if st.AppliedAt.IsZero() {
		out.Notes = append(out.Notes, "store "+store+" has not said which version it runs since this cloud keeps it; if it runs a higher one it refuses this document (config_refused)")
	}
	return out
}

// DoorsPatch is the body of PATCH /v1/admin/stores/<s>/config: doors to
// add (a door with the id of one in the document replaces it) and ids to
// remove, applied to the stored document and stored as a whole new one.
// Version 0 picks the next one above the stored and the store's.
type DoorsPatch struct {
	Version fleetmsg.Version `json:"version"`
	Doors   struct {
		Add    []json.RawMessage `json:"add"`
		Remove []string          `json:"remove"`
	} `json:"doors"`
}

// patchDesired expands a doors edit into a whole document: adding one door
// must not mean restating every door and its secret.
func (c *Console) patchDesired(w http.ResponseWriter, r *http.Request) {
	store, ok := storeParam(w, r)
	if !ok {
		return
	}
	body, ok := c.readDocument(w, r)
	if !ok {
		return
	}
	var p DoorsPatch
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		c.refuseConfig(w, http.StatusBadRequest, "bad_patch", "", `patch: `+err.Error()+` (want {"doors": {"add": [{door}], "remove": ["id"]}}, "version" optional)`)
		return
	}
	if len(p.Doors.Add) == 0 && len(p.Doors.Remove) == 0 {
		c.refuseConfig(w, http.StatusBadRequest, "bad_patch", "doors", "nothing to change: give doors.add or doors.remove")
		return
	}
	c.mu.Lock()
	st := c.store(store)
	config := map[string]json.RawMessage{}
	var doors []json.RawMessage
	var from fleetmsg.Version
	if st.Desired != nil {
		from = st.Desired.Version
		json.Unmarshal(st.Desired.Config, &config)
	}
	raw, hasDoors := config["doors"]
	if hasDoors {
		json.Unmarshal(raw, &doors)
	} else if st.Health != nil && len(st.Health.Doors) > 0 {
		var ids []string
		for _, d := range st.Health.Doors {
			ids = append(ids, d.ID)
		}
		c.mu.Unlock()
		c.refuseConfig(w, http.StatusConflict, "doors_from_file", "doors",
			fmt.Sprintf("store %s runs the doors of its file (%s), which the cloud does not have (nor their secrets); PUT a whole document with every door once, then PATCH edits that list", store, strings.Join(ids, ", ")))
		return
	}
	if p.Version == 0 {
		p.Version = max(from, st.Applied) + 1
	}
	c.mu.Unlock()

	doorID := func(d json.RawMessage) string {
		var v struct {
			ID string `json:"id"`
		}
		json.Unmarshal(d, &v)
		return v.ID
	}
	for _, id := range p.Doors.Remove {
		i := slices.IndexFunc(doors, func(d json.RawMessage) bool { return doorID(d) == id })
		if i < 0 {
			c.refuseConfig(w, http.StatusBadRequest, "bad_patch", "doors.remove", fmt.Sprintf("no door %q in version %d", id, from))
			return
		}
		doors = slices.Delete(doors, i, i+1)
	}
	for _, d := range p.Doors.Add {
		id := doorID(d)
		if i := slices.IndexFunc(doors, func(x json.RawMessage) bool { return id != "" && doorID(x) == id }); i >= 0 {
			doors[i] = d
		} else {
			doors = append(doors, d)
		}
	}
	if doors == nil {
		doors = []json.RawMessage{}
	}
	config["doors"], _ = json.Marshal(doors)
	cfg, _ := json.Marshal(config)
	doc, _ := json.Marshal(fleetmsg.Desired{Version: p.Version, Config: cfg})
	c.accept(w, store, doc)
}

func listOr(ids []string) string {
	if len(ids) == 0 {
		return "no doors"
	}
	return strings.Join(ids, ", ")
}

func (c *Console) refuseConfig(w http.ResponseWriter, status int, code, key, detail string) {
	c.mu.Lock()
	c.counts.ConfigRefused++
	c.mu.Unlock()
	cloudkit.WriteJSON(w, status, map[string]string{"error": code, "key": key, "detail": detail})
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
func (c *Console) getDesired(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	var body []byte
	if st := c.stores[r.PathValue("store")]; st != nil && st.Desired != nil {
		body = st.Desired.body
	}
	c.mu.Unlock()
	if body == nil {
		cloudkit.WriteErr(w, http.StatusNotFound, "no_config", "no desired configuration for this store")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// putConfigFault switches the config fault of every store at run time:
// {"mode": "hang"}, {"mode": ""} to stop.
func (c *Console) putConfigFault(w http.ResponseWriter, r *http.Request) {
	mode, ok := readFaultMode(w, r)
	if !ok {
		return
	}
	c.mu.Lock()
	c.fault = mode
	for _, st := range c.stores { // every row's effective fault changed
		c.touch(st)
	}
	c.mu.Unlock()
	cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"mode": mode})
}

// putStoreConfigFault faults one store's desired configuration, over the
// cloud's fault: {"mode": "garbage"}; {"mode": ""} ends it (the cloud's
// fault, if any, applies again).
func (c *Console) putStoreConfigFault(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	mode, ok := readFaultMode(w, r)
	if !ok {
		return
	}
	c.mu.Lock()
	st := c.store(store)
	st.Fault = mode
	c.touch(st)
	c.mu.Unlock()
	cloudkit.WriteJSON(w, http.StatusOK, map[string]string{"store": store, "mode": mode})
}

func readFaultMode(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_json", err.Error())
		return "", false
	}
	if err := CheckConfigFault(req.Mode); err != nil {
		cloudkit.WriteErr(w, http.StatusBadRequest, "bad_mode", err.Error())
		return "", false
	}
	return req.Mode, true
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

// Store is one store on the fleet page and in GET /fleet.json: what
// the page shows. The whole latest snapshot is at GET /stores/<s>/health.
type Store struct {
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
	// ConfigFault is the fault the cloud serves this store's desired
	// configuration with ("" when none): its own, else the cloud's.
	ConfigFault string `json:"config_fault,omitempty"`
}

// View is GET /fleet.json: the stores changed after ?since=REV (all
// without it). Whether a store is offline depends on the clock, so the page
// decides that from received_at, now and offline_after_s.
type View struct {
	Rev           uint64    `json:"rev"`
	Now           time.Time `json:"now"`
	OfflineAfterS float64   `json:"offline_after_s"`
	Total         int       `json:"total"`
	Stores        []Store   `json:"stores"`
}

// View returns the stores changed after since (all when since is from
// before a restart).
func (c *Console) View(since uint64) View {
	c.mu.Lock()
	defer c.mu.Unlock()
	if since > c.rev {
		since = 0 // a page from before a restart of the cloud: send everything
	}
	v := View{Rev: c.rev, Now: c.cfg.Now().UTC(), OfflineAfterS: (offlineAfter * c.healthInterval()).Seconds(),
		Total: len(c.stores), Stores: []Store{}}
	for id, st := range c.stores {
		if st.Rev <= since {
			continue
		}
		fs := Store{ID: id, Rev: st.Rev, Alerts: []fleetmsg.Alert{}, ConfigFault: c.fault}
		if st.Fault != "" {
			fs.ConfigFault = st.Fault
		}
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

func (c *Console) healthInterval() time.Duration {
	if c.cfg.HealthInterval > 0 {
		return c.cfg.HealthInterval
	}
	return DefaultHealthInterval
}

func (c *Console) getFleet(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		if _, err := fmt.Sscan(v, &since); err != nil {
			cloudkit.WriteErr(w, http.StatusBadRequest, "bad_since", "since must be a number")
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	cloudkit.WriteJSON(w, http.StatusOK, c.View(since))
}

// getStoreHealth is a store's whole latest snapshot and when it arrived.
func (c *Console) getStoreHealth(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	st := c.stores[r.PathValue("store")]
	var out any
	if st != nil && st.Health != nil {
		out = struct {
			ReceivedAt time.Time        `json:"received_at"`
			Health     *fleetmsg.Health `json:"health"`
		}{st.ReceivedAt.UTC(), st.Health}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	c.mu.Unlock()
	if out == nil {
		cloudkit.WriteErr(w, http.StatusNotFound, "no_health", "no health snapshot from this store")
		return
	}
	if err != nil {
		cloudkit.WriteErr(w, http.StatusInternalServerError, "encode", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// Stats are the console's counters and how many stores it knows.
func (c *Console) Stats() (Counters, int) {
	c.mu.Lock()
	out, n := c.counts, len(c.stores)
	c.mu.Unlock()
	out.HealthP50MS, out.HealthP99MS = c.healthLatency()
	return out, n
}
