// Package scale drives serial scales: it opens the port by its configured
// path, polls (or listens to) the scale, and keeps the latest reading with a
// connection state that never passes an old weight off as current.
//
// Protocols (config scales[].protocol) and their factory lines:
//
//	toledo8217  9600 7E1  poll "W" every poll_ms (default 200ms); zero/tare/clear tare
//	mt-sics     9600 8N1  poll "SI"; zero "Z", tare "T", clear "TAC" (acknowledged)
//	cas         9600 8N1  continuous 22/18-byte stream; poll_ms = longest gap (500ms)
//	cas-enq     9600 8N1  ENQ -> ACK -> DC1 -> frame with BCC
//	cas-pd2     9600 7E1  poll "W"
//	adam        4800 8N1  poll "P" every 3s (it beeps); zero/tare
//	auto                  probe on every open (see Probe)
//
// States: disconnected (port not open), connected (answering), stale (port
// open, StaleAfter polls unanswered). A port that disappears or errors is
// reopened by the same path with backoff; when a stale port's path now
// resolves to another device (udev re-enumeration behind a by-id link) it is
// reopened at once. The Adam prints nothing when the weight has not
// changed, so its silence after a first answer is not counted as a miss:
// an Adam scale switched off behind a live USB adapter is not detected.
package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/storebox/storebox/internal/backoff"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// State is the connection state of a scale.
type State string

const (
	// Disconnected: the port is not open (missing, unplugged, failing).
	Disconnected State = "disconnected"
	// Connected: the scale answers.
	Connected State = "connected"
	// Stale: the port is open but the scale missed StaleAfter polls.
	Stale State = "stale"
)

// StaleAfter is how many missed polls (or frame intervals) make a scale stale.
const StaleAfter = 3

// Errors from Latest.
var (
	ErrDisconnected = errors.New("scale disconnected")
	ErrStale        = errors.New("scale not answering")
	ErrNoReading    = errors.New("no reading yet")
	ErrNoWeight     = errors.New("scale reports no weight")
)

// Counters are totals since the Scale was made.
type Counters struct {
	Frames   uint64 `json:"frames"`   // messages decoded
	Garbage  uint64 `json:"garbage"`  // bytes runs that were no message
	Partial  uint64 `json:"partial"`  // frames cut off (by another frame or a poll timeout)
	Checksum uint64 `json:"checksum"` // frames with a bad check byte
	Missed   uint64 `json:"missed"`   // polls (or frame intervals) without an answer
	Opens    uint64 `json:"opens"`    // successful port opens
	Errors   uint64 `json:"errors"`   // failed opens and port errors
}

// Update is pushed to subscribers on every reading and state change.
type Update struct {
	ID      string
	Reading scaleproto.Reading
	State   State
	Err     error // as Latest would return it
}

// Options are the driver's collaborators and tunables.
type Options struct {
	Log *slog.Logger
	// ReopenMin and ReopenMax bound the reopen backoff (defaults 100ms, 5s).
	ReopenMin, ReopenMax time.Duration
	// Probe tunes protocol detection for Protocol "auto".
	Probe ProbeOptions
}

// Scale is one serial scale. Run it with Serve; read it with Latest or
// Subscribe from any goroutine.
type Scale struct {
	cfg   Config
	proto scaleproto.Protocol // "" for auto
	opts  Options
	log   *slog.Logger

	cmds chan cmdReq

	mu       sync.Mutex
	state    State
	active   scaleproto.Protocol
	line     Line
	poll     time.Duration
	last     scaleproto.Reading
	have     bool
	lastErr  error
	counters Counters
	subs     map[chan Update]struct{}
}

type cmdReq struct {
	cmd  scaleproto.Command
	done chan error
}

// New checks cfg and returns a Scale ready to Serve.
func New(cfg Config, opts Options) (*Scale, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var p scaleproto.Protocol
	if cfg.Protocol != "" && !strings.EqualFold(cfg.Protocol, Auto) {
		p, _ = scaleproto.ParseProtocol(cfg.Protocol)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ReopenMin <= 0 {
		opts.ReopenMin = 100 * time.Millisecond
	}
	if opts.ReopenMax < opts.ReopenMin {
		opts.ReopenMax = max(5*time.Second, opts.ReopenMin)
	}
	return &Scale{
		cfg:   cfg,
		proto: p,
		opts:  opts,
		log:   opts.Log.With("scale", cfg.ID, "port", cfg.Port),
		cmds:  make(chan cmdReq),
		state: Disconnected,
		subs:  map[chan Update]struct{}{},
	}, nil
}

// ID is the configured scale id.
func (s *Scale) ID() string { return s.cfg.ID }

// Protocol is the protocol in use ("" while an auto scale is not identified).
func (s *Scale) Protocol() scaleproto.Protocol {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Counters returns a copy of the counters.
func (s *Scale) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// State is the current connection state.
func (s *Scale) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Latest returns the current reading. It fails with ErrDisconnected or
// ErrStale rather than hand out a weight the scale no longer confirms, with
// ErrNoReading before the first frame, and with ErrNoWeight (and the
// reading, for its flags) while the scale reports motion without a value,
// overload or underload.
func (s *Scale) Latest() (scaleproto.Reading, State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.latestLocked()
	return r, s.state, err
}

func (s *Scale) latestLocked() (scaleproto.Reading, error) {
	switch s.state {
	case Disconnected:
		if s.lastErr != nil {
			return scaleproto.Reading{}, fmt.Errorf("%w: %v", ErrDisconnected, s.lastErr)
		}
		return scaleproto.Reading{}, ErrDisconnected
	case Stale:
		return scaleproto.Reading{}, ErrStale
	}
	if !s.have {
		return scaleproto.Reading{}, ErrNoReading
	}
	// Belt and braces: even if the loop is held up, an old frame is not current.
	if s.active != scaleproto.AdamAZ && s.poll > 0 && time.Since(s.last.At) > time.Duration(StaleAfter+1)*s.poll+time.Second {
		return scaleproto.Reading{}, ErrStale
	}
	r := s.last
	switch {
	case r.Overload:
		return r, fmt.Errorf("%w: overload", ErrNoWeight)
	case r.Underload:
		return r, fmt.Errorf("%w: underload", ErrNoWeight)
	case r.NoValue && !r.Stable:
		return r, fmt.Errorf("%w: in motion", ErrNoWeight)
	case r.NoValue:
		return r, ErrNoWeight
	}
	return r, nil
}

// LastReading is the last decoded reading whatever the state, for status
// displays; never answer a weight request from it.
func (s *Scale) LastReading() (scaleproto.Reading, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.have
}

// Subscribe returns a channel that receives an Update on every reading and
// state change. A slow receiver misses intermediate updates but always gets
// the newest. Call cancel to unsubscribe.
func (s *Scale) Subscribe() (<-chan Update, func()) {
	ch := make(chan Update, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, ch)
			s.mu.Unlock()
		})
	}
}

// publishLocked sends the current update to every subscriber, replacing an
// unread older one.
func (s *Scale) publishLocked() {
	if len(s.subs) == 0 {
		return
	}
	r, err := s.latestLocked()
	u := Update{ID: s.cfg.ID, Reading: r, State: s.state, Err: err}
	for ch := range s.subs {
		select {
		case ch <- u:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- u:
			default:
			}
		}
	}
}

func (s *Scale) setState(st State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
	}
	if s.state == st {
		return
	}
	s.log.Info("scale state", "from", s.state, "to", st, "err", err)
	s.state = st
	s.publishLocked()
}

func (s *Scale) count(f func(c *Counters)) {
	s.mu.Lock()
	f(&s.counters)
	s.mu.Unlock()
}

// Zero, Tare and ClearTare send the command to the scale (where the
// protocol has it) and wait for its acknowledgement where it gives one.
func (s *Scale) Zero(ctx context.Context) error { return s.Do(ctx, scaleproto.CmdZero) }
func (s *Scale) Tare(ctx context.Context) error { return s.Do(ctx, scaleproto.CmdTare) }
func (s *Scale) ClearTare(ctx context.Context) error {
	return s.Do(ctx, scaleproto.CmdClearTare)
}

// Do sends command c through the running Serve loop.
func (s *Scale) Do(ctx context.Context, c scaleproto.Command) error {
	req := cmdReq{cmd: c, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	select {
	case s.cmds <- req:
	case <-ctx.Done():
		return fmt.Errorf("scale %s %s: %w (is the scale connected?)", s.cfg.ID, c, ctx.Err())
	}
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("scale %s %s: %w", s.cfg.ID, c, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scale %s %s: no answer: %w", s.cfg.ID, c, ctx.Err())
	}
}

// Serve opens the port by its configured path and keeps reading until ctx
// ends, reopening with backoff when the port is missing, unplugged or
// replaced. It returns nil when ctx is cancelled.
func (s *Scale) Serve(ctx context.Context) error {
	reopen := backoff.Policy{Min: s.opts.ReopenMin, Max: s.opts.ReopenMax}
	failures := 0
	for ctx.Err() == nil {
		served, err := s.openAndRun(ctx)
		if ctx.Err() != nil {
			break
		}
		s.count(func(c *Counters) { c.Errors++ })
		s.setState(Disconnected, err)
		if served {
			failures = 0
		}
		wait := reopen.Delay(failures)
		failures++
		s.log.Debug("scale port closed", "err", err, "retry_in", wait)
		backoff.Sleep(ctx, wait)
	}
	s.setState(Disconnected, nil)
	return nil
}

// openAndRun opens the port once and runs a session on it. served is true
// when the scale answered at least once (the backoff restarts).
func (s *Scale) openAndRun(ctx context.Context) (served bool, err error) {
	p, line := s.proto, s.cfg.line(s.proto)
	if p == "" {
		res, err := Probe(ctx, s.cfg.Port, s.opts.Probe)
		if err != nil {
			return false, err
		}
		if len(res) == 0 {
			return false, fmt.Errorf("probe %s: no scale answered", s.cfg.Port)
		}
		p, line = res[0].Protocol, res[0].Line
		s.log.Info("scale identified", "protocol", p, "line", line.String(), "ident", res[0].Ident)
	}
	port, fi, err := openPort(s.cfg.Port, line)
	if err != nil {
		return false, err
	}
	s.count(func(c *Counters) { c.Opens++ })
	s.mu.Lock()
	s.active, s.line, s.poll = p, line, s.cfg.poll(p)
	s.mu.Unlock()
	s.log.Info("scale port open", "protocol", p, "line", line.String())
	sess := &session{s: s, port: port, proto: p, ident: fi, poll: s.cfg.poll(p)}
	return sess.run(ctx)
}

// openPort opens path and remembers which device it resolved to, so a
// symlink swapped to a new device can be noticed.
func openPort(path string, line Line) (serial.Port, os.FileInfo, error) {
	mode, err := line.mode()
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	var fi os.FileInfo
	if runtime.GOOS != "windows" { // COM ports are no files to stat
		if fi, err = os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	port, err := serial.Open(path, mode)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Drop whatever the line buffered while nobody listened.
	_ = port.ResetInputBuffer()
	return port, fi, nil
}

// samePort reports whether path still resolves to the device we opened.
func samePort(path string, fi os.FileInfo) bool {
	if fi == nil {
		return true
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(fi, now)
}

// Status is a snapshot for status pages and metrics.
type Status struct {
	ID       string              `json:"id"`
	Port     string              `json:"port"`
	Protocol scaleproto.Protocol `json:"protocol"`
	Line     string              `json:"line,omitempty"`
	State    State               `json:"state"`
	Error    string              `json:"error,omitempty"` // why Latest fails now
	Last     *scaleproto.Reading `json:"-"`               // last reading, whatever the state
	Counters Counters            `json:"counters"`
}

// Status returns a snapshot of the scale.
func (s *Scale) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{ID: s.cfg.ID, Port: s.cfg.Port, Protocol: s.active, State: s.state, Counters: s.counters}
	if s.line.Baud > 0 {
		st.Line = s.line.String()
	}
	if _, err := s.latestLocked(); err != nil {
		st.Error = err.Error()
	}
	if s.have {
		r := s.last
		st.Last = &r
	}
	return st
}
