package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/fleetlink"
)

// StateFile holds the applied remote document in the data directory.
const StateFile = "remote-config.json"

// ConfigState is what runs and what was last refused.
type ConfigState struct {
	Version   fleetmsg.Version // the applied remote document's; 0 when none
	Source    string           // fleetmsg.SourceFile or SourceRemote
	AppliedAt time.Time        // when it was applied (the file: loaded)
	// RemoteEnabled is fleet.remote_config (and an upstream configured).
	RemoteEnabled bool
	Refusal       *Refusal // nil when nothing is refused
}

// Refusal is a document the daemon would not apply.
type Refusal struct {
	Version string    `json:"version"` // the document's version, "" when it could not be read
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"` // first refused (stays while the same refusal repeats)
}

// ConfigLink fetches desired configuration (fleetlink.Link does).
type ConfigLink interface {
	FetchConfig(ctx context.Context, applied fleetmsg.Version) (fleetlink.Reply, error)
	Changed() <-chan struct{}
}

// RemoteConfig wires a Remote.
type RemoteConfig struct {
	Link     ConfigLink
	Interval time.Duration // fleet.config_interval
	DataDir  string
	// Enabled is fleet.remote_config: when false no document is fetched
	// or used, the stored one included.
	Enabled bool
	// File is the local file's configuration at start; a document's
	// sections replace the same sections of it (Reload brings a new one).
	File *config.Config
	// Apply runs a configuration through the reload path (check, then
	// apply all of it or none).
	Apply func(ctx context.Context, cfg *config.Config) error
	// Changed is called when a document was applied or refused, so the
	// next health snapshot goes out at once.
	Changed func()
	Log     *slog.Logger
}

// Remote applies the cloud's desired configuration (UPSTREAM.md §7). Every change
// of the running configuration, a document or a reloaded file, goes through
// it one at a time, so the file and the document are always merged from
// their latest versions.
type Remote struct {
	cfg RemoteConfig

	applyMu sync.Mutex // held across merge, Apply and bookkeeping

	mu        sync.Mutex
	file      *config.Config
	applied   *stored // nil when none applies
	fileAt    time.Time
	refusal   *Refusal
	unreached string // the last fetch error, "" while the cloud answers
}

// stored is the document kept in the data directory.
type stored struct {
	AppliedAt time.Time       `json:"applied_at"`
	Document  json.RawMessage `json:"document"` // the cloud's signed body, as received
	version   fleetmsg.Version
	doc       fleetmsg.Document
}

// NewRemote returns a Remote with the stored document (if any and if
// enabled) loaded but not yet applied: Effective lays it over a file.
func NewRemote(cfg RemoteConfig) *Remote {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	r := &Remote{cfg: cfg, file: cfg.File, fileAt: time.Now()}
	if !cfg.Enabled {
		return r
	}
	s, err := loadStored(filepath.Join(cfg.DataDir, StateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		cfg.Log.Error("stored remote configuration unreadable; running on the local file until the cloud sends one", "err", err)
	default:
		r.applied = s
	}
	return r
}

// RemoteEnabled reports whether a daemon running c takes remote
// configuration: fleet.remote_config and an upstream to take it from.
func RemoteEnabled(c *config.Config) bool {
	return c.Fleet.RemoteConfig && (c.Upstream.URL != "" || c.Upstream.Kind == "nats")
}

// Running is the configuration a daemon started on file runs: the remote
// document stored in its data directory (when remote configuration is on)
// laid over file, as at start. Tools use it to see the doors the daemon
// has, a door only the cloud's document names included.
func Running(file *config.Config) *config.Config {
	return NewRemote(RemoteConfig{DataDir: file.DataDir, Enabled: RemoteEnabled(file), File: file}).Effective()
}

// ReadStored reports the remote document stored in dataDir (what the next
// start runs on before it reaches the cloud); os.ErrNotExist when none.
func ReadStored(dataDir string) (fleetmsg.Version, time.Time, error) {
	s, err := loadStored(filepath.Join(dataDir, StateFile))
	if err != nil {
		return 0, time.Time{}, err
	}
	return s.version, s.AppliedAt, nil
}

func loadStored(path string) (*stored, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d, doc, err := fleetmsg.ParseDesired(s.Document)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.version, s.doc = d.Version, doc
	return &s, nil
}

// Effective is the configuration to start with: the stored document laid
// over the file.
func (r *Remote) Effective() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.effectiveLocked(r.file)
}

// Reload runs a reloaded local file, with the applied document laid over
// it, through Apply; on success file is the new base for documents.
func (r *Remote) Reload(ctx context.Context, file *config.Config) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	merged := r.effectiveLocked(file)
	r.mu.Unlock()
	if err := r.cfg.Apply(ctx, merged); err != nil {
		return err
	}
	r.mu.Lock()
	r.file, r.fileAt = file, time.Now()
	r.mu.Unlock()
	return nil
}

// effectiveLocked lays the applied document over file. A document that no
// longer fits the file (checked as a whole) is dropped with a refusal, and
// the file runs alone.
func (r *Remote) effectiveLocked(file *config.Config) *config.Config {
	if r.applied == nil {
		return file
	}
	merged, err := file.WithRemote(r.applied.doc)
	if err != nil {
		r.refuseLocked(r.applied.version, fmt.Sprintf("applied version %d no longer fits the local file: %v", r.applied.version, err))
		r.applied = nil
		return file
	}
	return merged
}

// Attach sets the link documents come from and what is told when one is
// applied or refused (the health reporter); call it before Serve.
func (r *Remote) Attach(link ConfigLink, changed func()) {
	r.cfg.Link = link
	if changed != nil {
		r.cfg.Changed = changed
	}
}

// State reports the running configuration and the last refusal.
func (r *Remote) State() ConfigState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := ConfigState{Source: fleetmsg.SourceFile, AppliedAt: r.fileAt, RemoteEnabled: r.cfg.Enabled}
	if r.applied != nil {
		st.Version, st.Source, st.AppliedAt = r.applied.version, fleetmsg.SourceRemote, r.applied.AppliedAt
	}
	if r.refusal != nil {
		rf := *r.refusal
		st.Refusal = &rf
	}
	return st
}

func (r *Remote) appliedVersion() fleetmsg.Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied == nil {
		return 0
	}
	return r.applied.version
}

// Serve fetches at start, every Interval and when the link signals a
// change, until ctx ends. Disabled, it only waits for ctx.
func (r *Remote) Serve(ctx context.Context) error {
	if !r.cfg.Enabled || r.cfg.Link == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.cfg.Link.Changed():
		}
	}
}

// Poll fetches once and applies what is new.
func (r *Remote) Poll(ctx context.Context) {
	rep, err := r.cfg.Link.FetchConfig(ctx, r.appliedVersion())
	if ctx.Err() != nil {
		return
	}
	var ref *fleetlink.RefusedError
	switch {
	case errors.As(err, &ref):
		r.reached()
		r.refuse(fleetmsg.StatedVersion(ref.Body), ref.Reason)
		return
	case err != nil:
		r.mu.Lock()
		if msg := err.Error(); msg != r.unreached {
			r.cfg.Log.Warn("desired configuration not fetched; the running configuration stays (logged again when this changes)", "err", err)
			r.unreached = msg
		}
		r.mu.Unlock()
		return
	}
	r.reached()
	if rep.NotModified {
		r.acceptable()
		return
	}
	r.Offer(ctx, rep.Body)
}

// acceptable clears the refusal when the cloud's reply is one the store
// accepts without applying anything (nothing new, or the applied version
// again): whatever was refused is no longer what the cloud serves, so
// config_refused must not outlive the fault.
func (r *Remote) acceptable() {
	r.mu.Lock()
	rf := r.refusal
	r.refusal = nil
	r.mu.Unlock()
	if rf != nil {
		r.cfg.Log.Info("remote configuration no longer refused: the cloud answers with nothing new or the applied version", "refused_version", rf.Version)
		r.cfg.Changed()
	}
}

func (r *Remote) reached() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreached != "" {
		r.cfg.Log.Info("desired configuration reachable again")
		r.unreached = ""
	}
}

// Offer checks a verified document and applies it all or nothing. The
// returned error is the refusal, also kept for State and health.
func (r *Remote) Offer(ctx context.Context, body []byte) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	d, doc, err := fleetmsg.ParseDesired(body)
	if err != nil {
		return r.refuse(fleetmsg.StatedVersion(body), err.Error())
	}
	applied := r.appliedVersion()
	switch {
	case d.Version == applied:
		r.acceptable()
		return nil
	case d.Version < applied:
		return r.refuse(d.Version, fmt.Sprintf("version %d is older than the applied version %d", d.Version, applied))
	}
	r.mu.Lock()
	file := r.file
	before := file
	if r.applied != nil {
		if m, err := file.WithRemote(r.applied.doc); err == nil {
			before = m
		}
	}
	r.mu.Unlock()
	merged, err := file.WithRemote(doc)
	if err != nil {
		return r.refuse(d.Version, err.Error())
	}
	if err := r.cfg.Apply(ctx, merged); err != nil {
		return r.refuse(d.Version, "not applied: "+err.Error())
	}
	s := &stored{AppliedAt: time.Now().UTC(), Document: append(json.RawMessage(nil), body...), version: d.Version, doc: doc}
	saveErr := saveStored(filepath.Join(r.cfg.DataDir, StateFile), s)
	r.mu.Lock()
	r.applied, r.refusal = s, nil
	r.mu.Unlock()
	r.cfg.Log.Info("remote configuration applied", "version", d.Version, "replaces", fleetmsg.Sections(doc),
		"leaves_to_file", fleetmsg.LeftOut(doc), "removes", removals(before, merged))
	if saveErr != nil {
		r.cfg.Log.Error("remote configuration applied but not saved; the next start runs the previous one until the cloud is reached", "err", saveErr)
	}
	r.cfg.Changed()
	return nil
}

// refuse records a refusal; the same refusal repeated (the cloud serves
// the refused document at every poll) keeps its time and is logged once.
func (r *Remote) refuse(v fleetmsg.Version, reason string) error {
	r.mu.Lock()
	changed := r.refuseLocked(v, reason)
	r.mu.Unlock()
	if changed {
		r.cfg.Changed()
	}
	return errors.New(reason)
}

func (r *Remote) refuseLocked(v fleetmsg.Version, reason string) bool {
	ver := ""
	if v > 0 {
		ver = strconv.FormatUint(uint64(v), 10)
	}
	if rf := r.refusal; rf != nil && rf.Version == ver && rf.Reason == reason {
		return false
	}
	r.refusal = &Refusal{Version: ver, Reason: reason, At: time.Now().UTC()}
	r.cfg.Log.Warn("remote configuration refused; the running configuration stays", "version", ver, "reason", reason)
	return true
}

// removals names what the running configuration loses from before to
// after ("door back", "devices.approve T-07"): a section a document sets
// replaces the file's as a whole, and one it leaves out is the file's
// again, so a door can go without the document naming it.
func removals(before, after *config.Config) []string {
	out := []string{}
	ids := func(c *config.Config) []string {
		var ids []string
		for _, d := range c.Doors {
			ids = append(ids, d.ID)
		}
		return ids
	}
	for _, id := range fleetmsg.Removed(ids(before), ids(after)) {
		out = append(out, "door "+id)
	}
	for _, id := range fleetmsg.Removed(before.Devices.Approve, after.Devices.Approve) {
		out = append(out, "devices.approve "+id)
	}
	for _, id := range fleetmsg.Removed(before.Devices.Reject, after.Devices.Reject) {
		out = append(out, "devices.reject "+id)
	}
	return out
}

// saveStored writes the document atomically: a temporary file, synced,
// renamed over the old one, and the directory synced.
func saveStored(path string, s *stored) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".remote-config-*")
	if err != nil {
		return fmt.Errorf("save remote configuration: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save remote configuration: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // door secrets
		f.Close()
		return fmt.Errorf("save remote configuration: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save remote configuration: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save remote configuration: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save remote configuration: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
