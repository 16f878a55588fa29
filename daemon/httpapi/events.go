package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Events streams a JSON snapshot as server-sent events (`event: status`),
// sent when it changes. One goroutine builds the snapshot for every open
// page, and only while a page is open: an idle store with no technician
// looking costs nothing, and ten open phones cost the same as one.
type Events struct {
	// Snapshot builds the current state. It is called about once per
	// Interval while at least one client is connected.
	Snapshot func() any
	// Event is the SSE event name (default "status").
	Event string
	// Interval is how often the snapshot is checked (default 1s).
	Interval time.Duration
	// Keepalive is how often a comment is sent on a quiet stream (default
	// 15s) so proxies and phones keep the connection.
	Keepalive time.Duration
	// Volatile names JSON members (at any depth) whose value changes on its
	// own every tick (uptime, ages, last-frame times): a change there alone
	// does not send an event. Clients get the current values with the next
	// real change and advance the clocks themselves.
	Volatile []string
	// MaxBuildShare bounds the CPU share spent building snapshots: when one
	// build takes longer than MaxBuildShare × Interval (a very large store),
	// the next check waits build/MaxBuildShare instead. Default 0.005.
	MaxBuildShare float64
	// Linger keeps building for a while after the last client left, so a
	// reloaded page gets the current state at once (default 10s).
	Linger time.Duration
	Log    *slog.Logger

	once     sync.Once
	volatile [][]byte // `"name":` of each Volatile member
	closed   chan struct{}
	closeMu  sync.Once

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	stop    chan struct{}
	last    []byte // the newest build (full payload)
	lastKey []byte // the newest build with volatile members blanked
}

// StatusVolatile are the members of the daemon's status snapshot that tick
// on their own.
// A scale's "at" and "counters" move with every reading even when the
// weight does not; a new weight, stability or state is still a change.
var StatusVolatile = []string{"uptime_s", "oldest_age_s", "last_frame", "at", "counters"}

func (e *Events) init() {
	e.once.Do(func() {
		if e.Event == "" {
			e.Event = "status"
		}
		if e.Interval <= 0 {
			e.Interval = time.Second
		}
		if e.Keepalive <= 0 {
			e.Keepalive = 15 * time.Second
		}
		if e.Linger <= 0 {
			e.Linger = 10 * time.Second
		}
		if e.MaxBuildShare <= 0 {
			e.MaxBuildShare = 0.005
		}
		if e.Log == nil {
			e.Log = slog.New(slog.DiscardHandler)
		}
		for _, n := range e.Volatile {
			e.volatile = append(e.volatile, []byte(`"`+n+`":`))
		}
		e.subs = map[chan []byte]struct{}{}
		e.closed = make(chan struct{})
	})
}

// Close ends every open stream (the server is shutting down); clients
// reconnect to the next daemon by themselves.
func (e *Events) Close() {
	e.init()
	e.closeMu.Do(func() { close(e.closed) })
}

// key is the payload with volatile values blanked, for change detection.
// It works on compact encoding/json output, where `"name":` can only be a
// member name (a quote inside a string value is escaped). A plain scan, not
// a regexp: it runs on every tick over up to ~50 KB.
func (e *Events) key(b []byte) []byte {
	type span struct{ from, to int }
	var spans []span
	for _, k := range e.volatile {
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], k)
			if i < 0 {
				break
			}
			from := off + i + len(k)
			to := skipValue(b, from)
			spans = append(spans, span{from, to})
			off = to
		}
	}
	if len(spans) == 0 {
		return b
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	out := make([]byte, 0, len(b))
	prev := 0
	for _, sp := range spans {
		if sp.from < prev {
			continue
		}
		out = append(out, b[prev:sp.from]...)
		out = append(out, '0')
		prev = sp.to
	}
	return append(out, b[prev:]...)
}

// skipValue returns the end of the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValue(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']':
			return j
		}
	}
	return len(b)
}

// build makes one snapshot and reports whether it differs from the last.
func (e *Events) build() (payload []byte, changed bool, took time.Duration) {
	start := time.Now()
	b, err := json.Marshal(e.Snapshot())
	if err != nil {
		e.Log.Error("status events: encode snapshot", "err", err)
		return nil, false, time.Since(start)
	}
	k := e.key(b)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = b
	changed = !bytes.Equal(k, e.lastKey)
	e.lastKey = k
	return b, changed, time.Since(start)
}

func (e *Events) run(stop <-chan struct{}) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		b, changed, took := e.build()
		if changed {
			e.broadcast(b)
		}
		next := e.Interval
		if slow := time.Duration(float64(took) / e.MaxBuildShare); slow > next {
			next = min(slow, time.Minute)
		}
		t.Reset(next)
	}
}

func (e *Events) broadcast(b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		offer(ch, b)
	}
}

// offer puts b in ch, replacing an unsent older payload: a slow client
// gets the newest state, never a backlog, and never blocks the others.
func offer(ch chan []byte, b []byte) {
	for {
		select {
		case ch <- b:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (e *Events) subscribe() chan []byte {
	e.init()
	ch := make(chan []byte, 1)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subs[ch] = struct{}{}
	if e.stop == nil {
		// First client: start building; its first build is sent to all.
		e.stop = make(chan struct{})
		e.lastKey = nil
		go e.run(e.stop)
	} else if e.last != nil {
		ch <- e.last
	}
	return ch
}

func (e *Events) unsubscribe(ch chan []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.subs, ch)
	if len(e.subs) > 0 || e.stop == nil {
		return
	}
	stop := e.stop
	time.AfterFunc(e.Linger, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.subs) == 0 && e.stop == stop {
			close(e.stop)
			e.stop = nil
			e.last = nil
		}
	})
}

// streamWriteWait bounds one event's write to a stream's client.
const streamWriteWait = 10 * time.Second

// ServeHTTP streams events until the client goes away.
func (e *Events) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.init()
	select {
	case <-e.closed:
		Error(w, http.StatusServiceUnavailable, "shutting down")
		return
	default:
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	// The stream has no overall write deadline (it stays open for as long
	// as the page does); each write gets streamWriteWait instead, so a
	// client that stops reading is dropped rather than held.
	rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
	defer rc.SetWriteDeadline(time.Time{}) // the connection may serve another request
	w.WriteHeader(http.StatusOK)
	ch := e.subscribe()
	defer e.unsubscribe(ch)
	// Reconnect quickly after a daemon restart.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	keep := time.NewTicker(e.Keepalive)
	defer keep.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-e.closed:
			return
		case b := <-ch:
			rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Event, b)
			keep.Reset(e.Keepalive)
		case <-keep.C:
			rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
			_, err = fmt.Fprint(w, ": keepalive\n\n")
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}
