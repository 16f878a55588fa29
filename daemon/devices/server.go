// Package devices is the device protocol server (PROTOCOL.md §2): TCP sessions
// for terminals, network scales, e-labels and doors, with login, admission,
// heartbeats, per-session charset and bounded outbound queues. It knows no
// goods: the actions are handlers other packages register (daemon/shelf
// for goods and labels, orders, scales).
package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/internal/listen"
	"github.com/storebox/storebox/internal/peerlimit"
	"github.com/storebox/storebox/protocol/devmsg"
)

// Handler answers one action for a logged-in session. It returns the reply
// body (a struct or map marshalling to a JSON object, or nil) or an error; a
// *devmsg.Error carries its code, anything else is reported as internal.
type Handler func(ctx context.Context, sess *Session, req *devmsg.Request) (body any, err error)

// Config is the server's configuration.
type Config struct {
	Listen         string
	Admission      string // open|pairing
	Heartbeat      time.Duration
	MaxConnections int
	// MaxConnsPerAddress caps the connections of one client, an IPv4
	// address or an IPv6 /64 (devices.max_conns_per_address); zero: no cap.
	// A connection over it is closed at once, before it costs a session.
	MaxConnsPerAddress int
	// NewDevicesPerMinute is how many logins of equipIds the store has no
	// record of one client may make under pairing: that many at once, then
	// one every minute/NewDevicesPerMinute (devices.new_devices_per_minute);
	// zero: no limit. Past it the login is refused with busy, and the
	// client's new connections are closed as they are accepted until it is
	// under the rate again.
	NewDevicesPerMinute int
	OutboundQueue       int
	Tokens              map[string]string
	// WriteTimeout bounds one socket write; a peer that stops reading is
	// dropped after it rather than holding a goroutine forever.
	WriteTimeout time.Duration
	// Observer, if set, sees every answered request (the metrics).
	Observer Observer
}

// Observer is told about every answered request: its action, its error
// code ("" on success) and how long the answer took.
type Observer interface {
	ObserveAction(action, code string, d time.Duration)
}

// Server accepts device connections.
type Server struct {
	cfg     Config
	st      *store.Store
	records *admission.Records // who may log in
	log     *slog.Logger

	handlers   map[string]Handler
	afterLogin []func(*Session)

	ln *listen.Held

	mu       sync.Mutex
	sessions map[string]*Session // by equipId, logged-in only
	conns    map[*Session]struct{}
	labels   map[string]map[*Session]struct{} // label MAC → sessions

	nconns     atomic.Int64
	perClient  *peerlimit.Counter
	refuser    peerlimit.Refuser // closes connections over perClient
	refusedLog atomic.Int64      // unix seconds of the last per-client refusal logged
	newDevices *peerlimit.Rate   // nil: no limit on new devices per client
	newLimited newLimitLog
	loginN     atomic.Uint64
	started    time.Time
	admission  atomic.Pointer[string] // cfg.Admission, changed by a reload

	pendingFull pendingFullLog
}

// New creates a server; call Bind then Serve.
func New(cfg Config, st *store.Store, log *slog.Logger) *Server {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.OutboundQueue <= 0 {
		cfg.OutboundQueue = 256
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 10000
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	s := &Server{
		cfg: cfg, st: st, records: admission.New(st), log: log,
		ln:       &listen.Held{Key: "devices.listen", Addr: cfg.Listen},
		handlers: map[string]Handler{},
		sessions: map[string]*Session{},
		conns:    map[*Session]struct{}{},
		labels:   map[string]map[*Session]struct{}{},

		perClient: peerlimit.NewCounter(cfg.MaxConnsPerAddress),
	}
	if n := cfg.NewDevicesPerMinute; n > 0 {
		s.newDevices = peerlimit.NewRate(n, time.Minute/time.Duration(n))
	}
	s.SetAdmission(cfg.Admission)
	return s
}

// SetAdmission changes admission (open|pairing) for the logins that follow
// (a reload or a remote configuration).
func (s *Server) SetAdmission(a string) { s.admission.Store(&a) }

func (s *Server) openAdmission() bool { return *s.admission.Load() == "open" }

// Handle registers h for action (replacing any earlier handler). Call it
// before Serve.
func (s *Server) Handle(action string, h Handler) { s.handlers[action] = h }

// HandleLogin registers h to run after every successful login, once its
// reply is queued (the shelf sends a label its goods). Call it before
// Serve.
func (s *Server) HandleLogin(h func(*Session)) { s.afterLogin = append(s.afterLogin, h) }

// Bind binds the TCP listener, so a taken port fails the daemon's start.
// It does nothing while a bound listener waits for Serve.
func (s *Server) Bind() error { return s.ln.Bind() }

// Addr is the bound address (after Bind).
func (s *Server) Addr() net.Addr { return s.ln.Bound() }

// Close releases a listener that Serve did not take (a failed start).
func (s *Server) Close() error { return s.ln.Close() }

// Serve accepts connections until ctx ends, then closes every session. It
// binds if Bind was not called, and closes its listener when it returns,
// so a restart binds a fresh one.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := s.ln.Take()
	if err != nil {
		return err
	}
	if s.newDevices != nil {
		// A client inventing devices faster than its rate: its connections
		// cost an accept and a close, not a session.
		ln = &peerlimit.AcceptFunc{Listener: ln, Drop: func(k netip.Prefix) bool {
			if !s.newDevices.Exhausted(k) {
				return false
			}
			s.newLimited.closed(s.log, k)
			return true
		}}
	}
	s.started = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go s.heartbeatLoop(ctx)
	var wg sync.WaitGroup
	defer func() {
		s.closeAll()
		wg.Wait()
		s.refuser.Wait()
	}()
	// Running out of descriptors must slow the server down, not stop it.
	pace := backoff.Policy{Min: 5 * time.Millisecond, Max: time.Second}
	failures := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("devices accept: %w", err)
			}
			wait := pace.Delay(failures)
			failures++
			s.log.Warn("accept failed; retrying", "err", err, "backoff", wait)
			time.Sleep(wait)
			continue
		}
		failures = 0
		client := peerlimit.KeyOf(c.RemoteAddr())
		if !s.perClient.Acquire(client) {
			// Nothing written; closed after a short drain, so that the
			// client's first request, unread, does not turn the close
			// into a reset (Windows, and Linux with input queued).
			s.refuser.Refuse(c, nil)
			if now := time.Now().Unix(); now-s.refusedLog.Load() >= 10 {
				s.refusedLog.Store(now)
				s.log.Warn("device connection refused: client at its cap (devices.max_conns_per_address)", "client", client, "open", s.perClient.Open(client))
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.perClient.Release(client)
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	all := make([]*Session, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.close("server stopping")
	}
}

func (s *Server) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			all := make([]*Session, 0, len(s.sessions))
			for _, c := range s.sessions {
				all = append(all, c)
			}
			s.mu.Unlock()
			for _, c := range all {
				c.Push("health", nil)
			}
		}
	}
}

// Push sends a server push to equipID's current session.
func (s *Server) Push(equipID, action string, body any) bool {
	s.mu.Lock()
	c := s.sessions[equipID]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	return c.Push(action, body)
}

// SessionInfo describes a connected device for the status page.
type SessionInfo struct {
	EquipID   string    `json:"equipId"`
	Kind      string    `json:"kind"`
	Addr      string    `json:"addr"`
	Charset   string    `json:"charset"`
	Framing   string    `json:"framing"`
	MacID     string    `json:"mac_id,omitempty"`
	Since     time.Time `json:"since"`
	LastFrame time.Time `json:"last_frame"`
}

// Sessions lists logged-in sessions by equipId.
func (s *Server) Sessions() []SessionInfo { return s.SessionsLimit(-1) }

// SessionsLimit lists the first n logged-in sessions by equipId (all when
// n < 0), describing only those it returns: the status page shows 200 of
// 10,000 without paying for the rest.
func (s *Server) SessionsLimit(n int) []SessionInfo {
	type entry struct {
		id string
		c  *Session
	}
	s.mu.Lock()
	all := make([]entry, 0, len(s.sessions))
	for id, c := range s.sessions {
		all = append(all, entry{id, c})
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	if n >= 0 && n < len(all) {
		all = all[:n]
	}
	out := make([]SessionInfo, len(all))
	for i, e := range all {
		out[i] = e.c.info()
	}
	return out
}

// Counts returns logged-in sessions by kind and the open connection count.
func (s *Server) Counts() (byKind map[string]int, conns int) {
	byKind = map[string]int{}
	s.mu.Lock()
	for _, c := range s.sessions {
		byKind[c.kind]++
	}
	s.mu.Unlock()
	return byKind, int(s.nconns.Load())
}

// Labels returns the logged-in label sessions bound to mac (in any
// spelling: "A4:C1:38:00:00:01", "a4c138000001").
func (s *Server) Labels(mac string) []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.labels[normalizeMAC(mac)]
	if len(set) == 0 {
		return nil
	}
	out := make([]*Session, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// AnyLabels reports whether a label is logged in, so a catalog change
// without labels to tell costs one check.
func (s *Server) AnyLabels() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.labels) > 0
}

// Disconnect closes equipID's session (e.g. after a technician rejects it).
func (s *Server) Disconnect(equipID, reason string) {
	s.mu.Lock()
	c := s.sessions[equipID]
	s.mu.Unlock()
	if c != nil {
		c.close(reason)
	}
}

// register makes c the session of its equipId (closing an older one) and
// files it under its label MAC; prevMac is the MAC of an earlier login on
// the same connection.
func (s *Server) register(c *Session, prevMac string) (replaced *Session) {
	s.mu.Lock()
	old := s.sessions[c.equipID]
	s.sessions[c.equipID] = c
	if set := s.labels[prevMac]; set != nil && prevMac != c.macID {
		delete(set, c)
		if len(set) == 0 {
			delete(s.labels, prevMac)
		}
	}
	if c.macID != "" {
		set := s.labels[c.macID]
		if set == nil {
			set = map[*Session]struct{}{}
			s.labels[c.macID] = set
		}
		set[c] = struct{}{}
	}
	s.mu.Unlock()
	if old != nil && old != c {
		old.close("replaced by a new login")
	}
	return old
}

func (s *Server) unregister(c *Session) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.sessions[c.equipID] == c {
		delete(s.sessions, c.equipID)
	}
	if set := s.labels[c.macID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.labels, c.macID)
		}
	}
	s.mu.Unlock()
}

func (s *Server) observe(action, code string, start time.Time) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.ObserveAction(action, code, time.Since(start))
	}
}

// readTimeout is how long a connection may stay silent.
func (s *Server) readTimeout() time.Duration { return 3 * s.cfg.Heartbeat }

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	n := s.nconns.Add(1)
	defer s.nconns.Add(-1)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
	}
	c := newSession(s, nc)
	if n > int64(s.cfg.MaxConnections) {
		c.refuseBusy()
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer s.unregister(c)
	c.run(ctx)
}

var errFull = errors.New("outbound queue full")
