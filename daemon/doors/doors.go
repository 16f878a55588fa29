package doors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/supervisor"
	"github.com/storebox/storebox/internal/nulltime"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/protocol/ledger"
)

// OrderLookup answers the policy questions about a customer (openId).
type OrderLookup interface {
	HasPendingUnpaid(openID string) (bool, error)
	HasExpiredUnpaid(openID string) (bool, error)
}

// EventSink receives ledger events.
type EventSink interface {
	AppendEvent(typ string, data any) error // appended to the durable ledger outbox
}

// Defaults for Config fields left zero.
const (
	DefaultAckTimeout     = 2 * time.Second
	DefaultSends          = 3
	DefaultOpenMS         = 3000
	DefaultAdmittedTTL    = 10 * time.Minute
	DefaultConnectTimeout = 10 * time.Second
	scanQueue             = 16
)

// Config configures the door service.
type Config struct {
	StoreID string
	MQTT    config.MQTT
	Doors   []config.Door

	AckTimeout     time.Duration // wait for an ack after each send (default 2s)
	Sends          int           // sends of one open cmd, in total (default 3)
	AdmittedTTL    time.Duration // how long LastAdmitted remembers a scan (default 10m; <0 forever)
	ConnectTimeout time.Duration // time allowed between TCP connect and CONNECT (default 10s)
	BrokerLogLevel *slog.Level   // level for the broker's own log (default: errors only)
	RefusalSummary time.Duration // how often repeated refused connections are summed up in the log (default 1m)
}

// Errors returned by Open.
var (
	ErrUnknownDoor = errors.New("unknown door")
	ErrDoorOffline = errors.New("door is offline")
	ErrNoAck       = errors.New("door did not acknowledge")
)

// DoorError is a negative ack: the door answered that it could not open.
type DoorError struct{ Msg string }

func (e *DoorError) Error() string {
	if e.Msg == "" {
		return "door refused to open"
	}
	return "door refused to open: " + e.Msg
}

// Outcomes of an opening (OpenResult.Outcome, Stats).
const (
	OutcomeOpened     = "opened"
	OutcomeDenied     = "denied"
	OutcomeOpenFailed = "open_failed"
)

// OpenResult is the last decision or opening at a door.
type OpenResult struct {
	Outcome  string    `json:"outcome"` // opened|denied|open_failed; "" when none yet
	At       time.Time `json:"at"`
	OpenID   string    `json:"openId,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Error    string    `json:"error,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
}

// DoorStatus is one door as the status page shows it.
type DoorStatus struct {
	ID       string     `json:"id"`
	Policy   string     `json:"policy"`
	State    string     `json:"state"` // open|closed|fault; "" when the door never said
	StateAt  time.Time  `json:"stateAt"`
	Online   bool       `json:"online"`
	LastSeen time.Time  `json:"lastSeen"`
	LastOpen OpenResult `json:"lastOpen"`
}

// MarshalJSON writes the times of a door that never connected as null.
func (d DoorStatus) MarshalJSON() ([]byte, error) {
	type plain DoorStatus
	return json.Marshal(struct {
		plain
		StateAt  *time.Time `json:"stateAt"`
		LastSeen *time.Time `json:"lastSeen"`
	}{plain(d), nulltime.Of(d.StateAt), nulltime.Of(d.LastSeen)})
}

// MarshalJSON writes the time of no decision yet as null.
func (o OpenResult) MarshalJSON() ([]byte, error) {
	type plain OpenResult
	return json.Marshal(struct {
		plain
		At *time.Time `json:"at"`
	}{plain(o), nulltime.Of(o.At)})
}

// Stats are counters for metrics.
type Stats struct {
	Opened       uint64 // door.opened recorded
	Denied       uint64 // door.denied recorded
	OpenFailed   uint64 // door.open_failed recorded
	Resends      uint64 // open cmds sent again after an ack timeout
	ScansDropped uint64 // scans dropped because the door's queue was full
	BadMessages  uint64 // door messages that did not decode
	AuthRefused  uint64 // MQTT connections refused (auth, client id, will)
	LedgerErrors uint64 // AppendEvent failures
	DoorsOnline  int
}

type door struct {
	cfg      config.Door
	bcrypt   bool
	staff    map[string]bool
	topics   [4]string // cmd, ack, state, event
	lastSeen atomic.Int64
	scans    chan doormsg.Event
	quit     chan struct{} // closed when a reload retires the door

	mu         sync.Mutex
	conns      map[*mqtt.Client]struct{}
	state      string
	stateAt    time.Time
	lastOpen   OpenResult
	admitted   string
	admittedAt time.Time
	verified   []byte // digest of the last password that matched the bcrypt hash
}

const (
	tCmd = iota
	tAck
	tState
	tEvent
)

func (d *door) online() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns) > 0
}

func (d *door) seen(t time.Time) { d.lastSeen.Store(t.UnixNano()) }

type pending struct {
	door string
	ch   chan doormsg.Ack
}

// Service is the broker plus the door logic.
type Service struct {
	cfg    Config
	orders OrderLookup
	events EventSink
	log    *slog.Logger
	broker *mqtt.Server
	set    atomic.Pointer[doorSet] // replaced whole by Reload

	reloadMu sync.Mutex
	serveCtx context.Context // set by Serve, for the workers of doors a reload adds
	workers  sync.WaitGroup

	pendMu  sync.Mutex
	pending map[string]*pending

	bcryptSem chan struct{}
	connSeq   atomic.Uint64
	refusals  *refusals

	startMu   sync.Mutex
	started   bool
	bound     []*netListener
	closeOnce sync.Once

	opened, denied, openFailed, resends   atomic.Uint64
	dropped, bad, authRefused, ledgerErrs atomic.Uint64
}

// New checks cfg and builds the service; nothing is bound until Bind.
func New(cfg Config, orders OrderLookup, events EventSink, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if orders == nil || events == nil {
		return nil, errors.New("doors.New: orders and events are required")
	}
	if cfg.StoreID == "" || strings.ContainsAny(cfg.StoreID, "/+# ") {
		return nil, fmt.Errorf("doors.New: store id %q is empty or has '/', '+', '#' or spaces", cfg.StoreID)
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Sends <= 0 {
		cfg.Sends = DefaultSends
	}
	if cfg.AdmittedTTL == 0 {
		cfg.AdmittedTTL = DefaultAdmittedTTL
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	s := &Service{
		cfg:       cfg,
		orders:    orders,
		events:    events,
		log:       log,
		pending:   map[string]*pending{},
		bcryptSem: make(chan struct{}, 2),
		refusals:  newRefusals(log, cfg.RefusalSummary),
	}
	set, _, err := s.buildDoors(cfg.Doors, nil)
	if err != nil {
		return nil, fmt.Errorf("doors.New: %w", err)
	}
	s.set.Store(set)
	s.broker = mqtt.New(&mqtt.Options{
		InlineClient:           true,
		Logger:                 slog.New(&levelHandler{h: log.With("component", "mqtt").Handler(), min: brokerLevel(cfg.BrokerLogLevel)}),
		SysTopicResendInterval: 60,
		Capabilities:           capabilities(),
	})
	if err := s.broker.AddHook(&aclHook{s: s}, nil); err != nil {
		return nil, fmt.Errorf("doors.New: add hook: %w", err)
	}
	if err := s.broker.Subscribe(doormsg.Filter(cfg.StoreID), 1, s.onMessage); err != nil {
		return nil, fmt.Errorf("doors.New: subscribe: %w", err)
	}
	return s, nil
}

// doorSet is the configured doors; a reload swaps in a new one.
type doorSet struct {
	byID  map[string]*door
	order []*door // config order
}

func (s *Service) door(id string) *door { return s.set.Load().byID[id] }

// buildDoors checks cfgs and makes their doors, taking a door from reuse
// when its configuration is unchanged (it keeps its connections and
// state); added lists the doors made new.
func (s *Service) buildDoors(cfgs []config.Door, reuse map[string]*door) (set *doorSet, added []*door, err error) {
	set = &doorSet{byID: map[string]*door{}}
	for i, dc := range cfgs {
		if dc.ID == "" || strings.ContainsAny(dc.ID, "/+# ") {
			return nil, nil, fmt.Errorf("doors[%d].id %q is empty or has '/', '+', '#' or spaces", i, dc.ID)
		}
		if dc.ID == mqtt.InlineClientId {
			return nil, nil, fmt.Errorf("door id %q is reserved", dc.ID)
		}
		if set.byID[dc.ID] != nil {
			return nil, nil, fmt.Errorf("duplicate door id %q", dc.ID)
		}
		switch dc.Policy {
		case "entry", "exit", "staff":
		default:
			return nil, nil, fmt.Errorf("door %s: policy %q is not entry, exit or staff", dc.ID, dc.Policy)
		}
		if dc.Secret == "" {
			return nil, nil, fmt.Errorf("door %s: empty secret", dc.ID)
		}
		if dc.OpenMS <= 0 {
			dc.OpenMS = DefaultOpenMS
		}
		d := reuse[dc.ID]
		if d == nil || !reflect.DeepEqual(d.cfg, dc) {
			if d, err = s.newDoor(dc); err != nil {
				return nil, nil, err
			}
			added = append(added, d)
		}
		set.byID[dc.ID] = d
		set.order = append(set.order, d)
	}
	return set, added, nil
}

func (s *Service) newDoor(dc config.Door) (*door, error) {
	d := &door{cfg: dc, staff: map[string]bool{}, conns: map[*mqtt.Client]struct{}{},
		scans: make(chan doormsg.Event, scanQueue), quit: make(chan struct{})}
	if doormsg.IsBcrypt(dc.Secret) {
		if err := doormsg.CheckSecret(dc.Secret); err != nil {
			return nil, fmt.Errorf("door %s: secret %w", dc.ID, err)
		}
		d.bcrypt = true
	}
	for _, id := range dc.Staff {
		d.staff[id] = true
	}
	for k, kind := range []string{doormsg.KindCmd, doormsg.KindAck, doormsg.KindState, doormsg.KindEvent} {
		d.topics[k] = doormsg.Topic(s.cfg.StoreID, dc.ID, kind)
	}
	return d, nil
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Added, Changed, Removed []string
}

// CheckReload reports whether Reload would take cfgs, changing nothing.
func (s *Service) CheckReload(cfgs []config.Door) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if _, _, err := s.buildDoors(cfgs, s.set.Load().byID); err != nil {
		return fmt.Errorf("reload doors: %w", err)
	}
	return nil
}

// Reload replaces the configured doors without a restart. Unchanged doors
// keep their connections and state. A changed door (secret, policy,
// staff, terminal, open time) is disconnected, so it reconnects under the
// new configuration; a removed door is disconnected and refused from then
// on. On error nothing changes.
func (s *Service) Reload(cfgs []config.Door) (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.set.Load()
	set, added, err := s.buildDoors(cfgs, old.byID)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload doors: %w", err)
	}
	var res ReloadResult
	for _, d := range added {
		if old.byID[d.cfg.ID] != nil {
			res.Changed = append(res.Changed, d.cfg.ID)
		} else {
			res.Added = append(res.Added, d.cfg.ID)
		}
	}
	retired := map[string]bool{}
	for _, d := range old.order {
		if set.byID[d.cfg.ID] != d {
			retired[d.cfg.ID] = true
			if set.byID[d.cfg.ID] == nil {
				res.Removed = append(res.Removed, d.cfg.ID)
			}
		}
	}
	s.set.Store(set)
	for _, d := range old.order {
		if retired[d.cfg.ID] {
			close(d.quit)
		}
	}
	// After the swap, so a connection that authenticated against the old
	// configuration meanwhile is found too.
	for _, cl := range s.broker.Clients.GetAll() {
		if !cl.Net.Inline && retired[string(cl.Properties.Username)] && !cl.Closed() {
			_ = s.broker.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
	if s.serveCtx != nil {
		for _, d := range added {
			s.startWorker(s.serveCtx, d)
		}
	}
	s.log.Info("doors reloaded", "added", res.Added, "changed", res.Changed, "removed", res.Removed)
	return res, nil
}

func capabilities() *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	c.MaximumPacketSize = 64 * 1024    // doors send small JSON
	c.MaximumSessionExpiryInterval = 0 // a session ends with its connection (see OnConnectAuthenticate)
	return c
}

// Bind binds the listeners; an address in use is an error here, so the
// daemon does not start.
func (s *Service) Bind() error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started {
		return nil
	}
	ls, err := s.bind()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := s.broker.AddListener(l); err != nil {
			for _, l := range ls {
				_ = l.ln.Close()
			}
			return fmt.Errorf("mqtt add listener %s: %w", l.id, err)
		}
	}
	s.bound = ls
	s.started = true
	return nil
}

// Addr returns the bound address of the plain listener ("" if none), and
// TLSAddr that of the TLS listener: for tests and the status page.
func (s *Service) Addr() string    { return s.addr("mqtt") }
func (s *Service) TLSAddr() string { return s.addr("mqtts") }

func (s *Service) addr(id string) string {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	for _, l := range s.bound {
		if l.id == id {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// Serve runs the broker and the door workers until ctx is cancelled.
//
// The broker cannot be started twice, so its failure to start is fatal
// rather than restarted.
func (s *Service) Serve(ctx context.Context) error {
	if err := s.Bind(); err != nil {
		return err
	}
	if err := s.broker.Serve(); err != nil {
		return supervisor.Fatal{Err: fmt.Errorf("mqtt serve: %w", err)}
	}
	s.reloadMu.Lock()
	s.serveCtx = ctx
	for _, d := range s.set.Load().order {
		s.startWorker(ctx, d)
	}
	s.reloadMu.Unlock()
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		s.refusals.run(ctx)
	}()
	<-ctx.Done()
	s.Close()
	s.workers.Wait()
	return nil
}

// startWorker runs d's scan worker until ctx ends or a reload retires d.
func (s *Service) startWorker(ctx context.Context, d *door) {
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		s.worker(ctx, d)
	}()
}

// Close stops the broker and drops every connection. Serve calls it when
// it stops; the daemon calls it again after Serve (or after a Bind without
// Serve), which does nothing more.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.startMu.Lock()
		started := s.started
		s.startMu.Unlock()
		if started {
			err = s.broker.Close()
		}
	})
	return err
}

func (s *Service) worker(ctx context.Context, d *door) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.quit:
			return
		case ev := <-d.scans:
			s.handleScan(ctx, d, ev)
		}
	}
}

// onMessage runs on the publishing client's goroutine: it must not block.
func (s *Service) onMessage(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	_, id, kind, ok := doormsg.ParseTopic(pk.TopicName)
	if !ok {
		return
	}
	d := s.door(id)
	if d == nil {
		return
	}
	now := time.Now()
	switch kind {
	case doormsg.KindAck:
		a, err := doormsg.DecodeAck(pk.Payload)
		if err != nil {
			s.badMessage(id, kind, err)
			return
		}
		s.pendMu.Lock()
		p := s.pending[a.RequestID]
		s.pendMu.Unlock()
		if p == nil || p.door != id {
			s.log.Debug("door ack for no pending request", "door", id, "requestId", a.RequestID)
			return
		}
		select {
		case p.ch <- a:
		default:
		}
	case doormsg.KindState:
		if len(pk.Payload) == 0 {
			return // a cleared retained message
		}
		st, err := doormsg.DecodeState(pk.Payload)
		if err != nil {
			s.badMessage(id, kind, err)
			return
		}
		if st.At.IsZero() {
			st.At = now
		}
		d.mu.Lock()
		d.state, d.stateAt = st.State, st.At.UTC()
		d.mu.Unlock()
		s.log.Debug("door state", "door", id, "state", st.State)
	case doormsg.KindEvent:
		ev, err := doormsg.DecodeEvent(pk.Payload)
		if err != nil {
			s.badMessage(id, kind, err)
			return
		}
		if ev.Event != doormsg.EventScan {
			s.log.Debug("door event", "door", id, "event", ev.Event)
			return
		}
		select {
		case d.scans <- ev:
		default:
			s.dropped.Add(1)
			s.log.Warn("door scan dropped: door busy", "door", id, "openId", ev.OpenID)
		}
	}
}

func (s *Service) badMessage(door, kind string, err error) {
	s.bad.Add(1)
	s.log.Warn("bad door message", "door", door, "topic", kind, "error", err)
}

func (s *Service) handleScan(ctx context.Context, d *door, ev doormsg.Event) {
	admit, reason := s.decide(d, ev.OpenID)
	data := doormsg.LedgerData{Door: d.cfg.ID, OpenID: ev.OpenID, Reason: reason, Policy: d.cfg.Policy, Code: ev.Code}
	if !admit {
		s.record(d, ledger.DoorDenied, data)
		return
	}
	_ = s.openDoor(ctx, d, &data, true)
}

// decide applies the door's policy to a scanned openId.
func (s *Service) decide(d *door, openID string) (admit bool, reason string) {
	switch d.cfg.Policy {
	case "staff":
		if d.staff[openID] {
			return true, "staff"
		}
		return false, "not_staff"
	case "entry":
		expired, err := s.orders.HasExpiredUnpaid(openID)
		if err != nil {
			s.log.Error("door decision: order lookup failed", "door", d.cfg.ID, "openId", openID, "error", err)
			return false, "lookup_failed"
		}
		if expired {
			return false, "expired_unpaid_order"
		}
		return true, "entry"
	case "exit":
		pendingUnpaid, err := s.orders.HasPendingUnpaid(openID)
		if err != nil {
			s.log.Error("door decision: order lookup failed", "door", d.cfg.ID, "openId", openID, "error", err)
			return false, "lookup_failed"
		}
		if pendingUnpaid {
			return false, "pending_unpaid_order"
		}
		return true, "exit"
	}
	return false, "bad_policy"
}

// Open opens a door for staff (HTTP API, CLI). openID may be empty; reason
// says why (default "staff"). It returns once the door acked, or with
// ErrUnknownDoor, ErrDoorOffline, ErrNoAck, a *DoorError or ctx's error.
func (s *Service) Open(ctx context.Context, doorID, openID, reason string) error {
	d := s.door(doorID)
	if d == nil {
		return fmt.Errorf("open door %s: %w", doorID, ErrUnknownDoor)
	}
	if reason == "" {
		reason = "staff"
	}
	data := doormsg.LedgerData{Door: doorID, OpenID: openID, Reason: reason}
	if !d.online() {
		data.Error = "offline"
		s.record(d, ledger.DoorOpenFailed, data)
		return fmt.Errorf("open door %s: %w", doorID, ErrDoorOffline)
	}
	if err := s.openDoor(ctx, d, &data, false); err != nil {
		return fmt.Errorf("open door %s: %w", doorID, err)
	}
	return nil
}

// openDoor sends the open cmd up to cfg.Sends times and records the result.
// For a scan (admits) the openId becomes the door's last admitted one before
// door.opened is recorded, so whoever reacts to the event sees it.
func (s *Service) openDoor(ctx context.Context, d *door, data *doormsg.LedgerData, admits bool) error {
	reqID := newRequestID()
	p := &pending{door: d.cfg.ID, ch: make(chan doormsg.Ack, 1)}
	s.pendMu.Lock()
	s.pending[reqID] = p
	s.pendMu.Unlock()
	defer func() {
		s.pendMu.Lock()
		delete(s.pending, reqID)
		s.pendMu.Unlock()
	}()
	data.RequestID = reqID
	body := doormsg.Encode(doormsg.Cmd{Cmd: doormsg.CmdOpen, RequestID: reqID, OpenID: data.OpenID, DurationMS: d.cfg.OpenMS})
	err := s.sendUntilAck(ctx, d, p, body, data)
	if err == nil {
		if admits {
			d.mu.Lock()
			d.admitted, d.admittedAt = data.OpenID, time.Now()
			d.mu.Unlock()
		}
		s.record(d, ledger.DoorOpened, *data)
		return nil
	}
	data.Error = err.Error()
	if errors.Is(err, ErrNoAck) {
		data.Error = "no_ack"
	}
	s.record(d, ledger.DoorOpenFailed, *data)
	return err
}

func (s *Service) sendUntilAck(ctx context.Context, d *door, p *pending, body []byte, data *doormsg.LedgerData) error {
	timer := time.NewTimer(s.cfg.AckTimeout)
	defer timer.Stop()
	for data.Attempts < s.cfg.Sends {
		if data.Attempts > 0 {
			s.resends.Add(1)
		}
		data.Attempts++
		if err := s.broker.Publish(d.topics[tCmd], body, false, 0); err != nil {
			return fmt.Errorf("publish cmd: %w", err)
		}
		timer.Reset(s.cfg.AckTimeout)
		select {
		case a := <-p.ch:
			if !a.OK {
				return &DoorError{Msg: a.Error}
			}
			return nil
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ErrNoAck
}

func (s *Service) record(d *door, typ string, data doormsg.LedgerData) {
	res := OpenResult{At: time.Now().UTC(), OpenID: data.OpenID, Reason: data.Reason, Error: data.Error, Attempts: data.Attempts}
	switch typ {
	case ledger.DoorOpened:
		s.opened.Add(1)
		res.Outcome = OutcomeOpened
	case ledger.DoorDenied:
		s.denied.Add(1)
		res.Outcome = OutcomeDenied
	case ledger.DoorOpenFailed:
		s.openFailed.Add(1)
		res.Outcome = OutcomeOpenFailed
	}
	d.mu.Lock()
	d.lastOpen = res
	d.mu.Unlock()
	attrs := []any{"door", data.Door, "openId", data.OpenID, "reason", data.Reason, "attempts", data.Attempts}
	if data.Error != "" {
		attrs = append(attrs, "error", data.Error)
	}
	s.log.Info("door "+res.Outcome, attrs...)
	if err := s.events.AppendEvent(typ, data); err != nil {
		s.ledgerErrs.Add(1)
		s.log.Error("record door event", "type", typ, "door", data.Door, "error", err)
	}
}

// LastAdmitted returns the openId of the last admitted (and opened) scan at
// a door configured beside terminal terminalEquipID, if recent enough.
func (s *Service) LastAdmitted(terminalEquipID string) (openID string, ok bool) {
	if terminalEquipID == "" {
		return "", false
	}
	var best time.Time
	for _, d := range s.set.Load().order {
		if d.cfg.Terminal != terminalEquipID {
			continue
		}
		d.mu.Lock()
		who, at := d.admitted, d.admittedAt
		d.mu.Unlock()
		if who == "" || (s.cfg.AdmittedTTL > 0 && time.Since(at) > s.cfg.AdmittedTTL) {
			continue
		}
		if at.After(best) {
			best, openID, ok = at, who, true
		}
	}
	return openID, ok
}

// Snapshot returns every configured door's status, in config order.
func (s *Service) Snapshot() []DoorStatus {
	set := s.set.Load()
	out := make([]DoorStatus, 0, len(set.order))
	for _, d := range set.order {
		d.mu.Lock()
		st := DoorStatus{ID: d.cfg.ID, Policy: d.cfg.Policy, State: d.state, StateAt: d.stateAt,
			Online: len(d.conns) > 0, LastOpen: d.lastOpen}
		d.mu.Unlock()
		if ns := d.lastSeen.Load(); ns != 0 {
			st.LastSeen = time.Unix(0, ns).UTC()
		}
		out = append(out, st)
	}
	return out
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Opened: s.opened.Load(), Denied: s.denied.Load(), OpenFailed: s.openFailed.Load(),
		Resends: s.resends.Load(), ScansDropped: s.dropped.Load(), BadMessages: s.bad.Load(),
		AuthRefused: s.authRefused.Load(), LedgerErrors: s.ledgerErrs.Load(),
	}
	for _, d := range s.set.Load().order {
		if d.online() {
			st.DoorsOnline++
		}
	}
	return st
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
