package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type snap struct {
	Name    string `json:"name"`
	UptimeS int64  `json:"uptime_s"`
	Online  []sess `json:"online"`
}

type sess struct {
	ID        string         `json:"id"`
	LastFrame string         `json:"last_frame"`
	At        string         `json:"at"`
	Counters  map[string]int `json:"counters"`
	WeightG   int            `json:"weight_g"`
}

// source is a snapshot the test changes.
type source struct {
	mu    sync.Mutex
	s     snap
	calls atomic.Int64
}

func (src *source) get() any {
	src.calls.Add(1)
	src.mu.Lock()
	defer src.mu.Unlock()
	s := src.s
	s.Online = append([]sess(nil), s.Online...)
	return s
}

func (src *source) set(f func(*snap)) {
	src.mu.Lock()
	f(&src.s)
	src.mu.Unlock()
}

// stream reads SSE blocks ("event: ...\ndata: ...") from a live response.
func stream(t *testing.T, url string) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var block []string
		for sc.Scan() {
			if sc.Text() == "" {
				out <- strings.Join(block, "\n")
				block = nil
				continue
			}
			block = append(block, sc.Text())
		}
	}()
	return out, func() { cancel(); resp.Body.Close() }
}

func nextStatus(t *testing.T, ch <-chan string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case b, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.HasPrefix(b, "event: status\ndata: ") {
				return strings.TrimPrefix(b, "event: status\ndata: ")
			}
		case <-deadline:
			t.Fatal("no status event")
		}
	}
}

// status decodes one payload a subscriber received.
func status(t *testing.T, b []byte) string {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("payload is not JSON: %s", b)
	}
	return string(b)
}

// nothingSent checks, once every goroutine of the bubble is idle, that ch
// holds no payload: a change that should not be sent was not.
func nothingSent(t *testing.T, ch chan []byte) {
	t.Helper()
	synctest.Wait()
	select {
	case b := <-ch:
		t.Fatalf("unexpected event: %s", b)
	default:
	}
}

// In a synctest bubble the clock moves only when every goroutine waits, so
// "nothing was sent" is checked when nothing else can happen, not after a
// sleep that a slow machine may outlast.
func TestEventsSendOnlyOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &source{s: snap{Name: "a", Online: []sess{{ID: "T1", LastFrame: "x"}}}}
		ev := &Events{Snapshot: src.get, Interval: 20 * time.Millisecond, Linger: 100 * time.Millisecond, Volatile: StatusVolatile, Log: slog.New(slog.DiscardHandler)}
		ch := ev.subscribe()
		if got := status(t, <-ch); !strings.Contains(got, `"name":"a"`) {
			t.Fatalf("first event %s", got)
		}
		// Only volatile members change: nothing is sent, however many
		// builds run.
		for i := 0; i < 5; i++ {
			src.set(func(s *snap) {
				s.UptimeS++
				s.Online[0].LastFrame = strings.Repeat("y", i+1)
				s.Online[0].At = time.Now().String()
				s.Online[0].Counters = map[string]int{"frames": i, "missed": 2 * i}
			})
			time.Sleep(30 * time.Millisecond)
		}
		nothingSent(t, ch)
		src.set(func(s *snap) { s.Online[0].WeightG = 1250 })
		if got := status(t, <-ch); !strings.Contains(got, `"weight_g":1250`) || !strings.Contains(got, `"frames":4`) {
			t.Fatalf("weight change event %s", got)
		}
		// A real change is sent, with the current volatile values.
		src.set(func(s *snap) { s.Name = `b "quoted" uptime_s` })
		if got := status(t, <-ch); !strings.Contains(got, `"uptime_s":5`) || !strings.Contains(got, `b \"quoted\" uptime_s`) {
			t.Fatalf("change event %s", got)
		}
		// A second client gets the current state at once.
		ch2 := ev.subscribe()
		if got := status(t, <-ch2); !strings.Contains(got, `"name":"b \"quoted\" uptime_s"`) {
			t.Fatalf("second client's first event %s", got)
		}
		ev.unsubscribe(ch2)
		ev.unsubscribe(ch)
		// With no client left, building stops after the linger.
		time.Sleep(ev.Linger)
		synctest.Wait()
		ev.mu.Lock()
		n, running := len(ev.subs), ev.stop != nil
		ev.mu.Unlock()
		if n != 0 || running {
			t.Fatalf("after the linger: %d subscribers, running %v", n, running)
		}
		calls := src.calls.Load()
		time.Sleep(time.Minute)
		synctest.Wait()
		if d := src.calls.Load() - calls; d != 0 {
			t.Fatalf("snapshot built %d times with no client", d)
		}
	})
}

func TestEventsKeepalive(t *testing.T) {
	src := &source{}
	ev := &Events{Snapshot: src.get, Interval: 10 * time.Millisecond, Keepalive: 50 * time.Millisecond}
	srv := httptest.NewServer(ev)
	defer srv.Close()
	ch, stop := stream(t, srv.URL)
	defer stop()
	nextStatus(t, ch, 5*time.Second)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-ch:
			if b == ": keepalive" {
				return
			}
		case <-deadline:
			t.Fatal("no keepalive")
		}
	}
}

// A slow build backs the interval off so building stays a small share of
// CPU: a 20 ms build at a 10 % share means the next check 200 ms after it
// ends. In a synctest bubble the build takes exactly 20 ms of the fake
// clock, so the spacing is checked exactly, not as a ratio of wall time.
func TestEventsBackOffWhenSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var starts []time.Time
		ev := &Events{Interval: 5 * time.Millisecond, MaxBuildShare: 0.1, Snapshot: func() any {
			mu.Lock()
			starts = append(starts, time.Now())
			n := len(starts)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			return n
		}}
		ch := ev.subscribe()
		for range 4 {
			<-ch // every build changes the payload
		}
		ev.unsubscribe(ch)
		time.Sleep(ev.Linger + time.Minute) // the builder stops
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(starts) < 4 {
			t.Fatalf("%d builds", len(starts))
		}
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap != 220*time.Millisecond {
				t.Fatalf("build %d started %s after the one before, want 220ms (20ms build + 200ms back-off)", i, gap)
			}
		}
	})
}

func TestUIFiles(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0", AdminToken: "tok"}, slog.New(slog.DiscardHandler)) // read_auth off
	s.MountStatusPage(func() any { return map[string]int{"x": 1} })
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, c := range []struct {
		path, ctype, body string
		code              int
	}{
		{"/", "text/html", `<script src="/ui/app.js"`, 200},
		{"/ui/app.js", "text/javascript", "EventSource", 200},
		{"/ui/style.css", "text/css", "@media", 200},
		{"/ui/nope.js", "", "", 404},
		{"/nope", "", "", 404},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(b), c.body) {
			t.Errorf("GET %s: %d %q %.80q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	// Nothing on the page comes from elsewhere: it must work without internet.
	for _, f := range []string{"ui/index.html", "ui/app.js", "ui/style.css"} {
		b, _ := ui.ReadFile(f)
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", f, bad)
			}
		}
	}
}

// Stopping the server ends open streams instead of waiting for them.
func TestEventsEndOnShutdown(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0", AdminToken: "tok"}, slog.New(slog.DiscardHandler))
	s.MountStatusPage(func() any { return map[string]int{"x": 1} })
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	ch, stop := stream(t, "http://"+s.Addr().String()+"/api/v1/events")
	defer stop()
	nextStatus(t, ch, 5*time.Second)
	cancel()
	deadline := time.After(10 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-ch:
			ended = !ok
		case <-deadline:
			t.Fatal("stream still open after shutdown")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestKeyBlanksVolatileValues(t *testing.T) {
	e := &Events{Volatile: []string{"at", "counters", "uptime_s"}}
	e.init()
	for in, want := range map[string]string{
		`{"uptime_s":12,"name":"x"}`:                                `{"uptime_s":0,"name":"x"}`,
		`{"a":[{"at":"2026-01-01T00:00:00Z","w":1},{"at":null}]}`:   `{"a":[{"at":0,"w":1},{"at":0}]}`,
		`{"counters":{"frames":3,"s":"}\"{"},"at":"x\"y","k":true}`: `{"counters":0,"at":0,"k":true}`,
		`{"name":"\"at\":5","uptime_s":-1.5e3}`:                     `{"name":"\"at\":5","uptime_s":0}`,
		`{"nested":{"counters":[1,[2,3]],"keep":"at"}}`:             `{"nested":{"counters":0,"keep":"at"}}`,
		`{"at":`: `{"at":0`,
	} {
		if got := string(e.key([]byte(in))); got != want {
			t.Errorf("key(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzKey(f *testing.F) {
	f.Add([]byte(`{"uptime_s":12,"online":[{"last_frame":"x","at":{"a":"}"}}]}`))
	f.Add([]byte(`{"at":"\\"}`))
	e := &Events{Volatile: StatusVolatile}
	e.init()
	f.Fuzz(func(t *testing.T, b []byte) {
		e.key(b) // must not panic on anything
		if !json.Valid(b) {
			return
		}
		// The feed only ever sees encoding/json output.
		var v any
		json.Unmarshal(b, &v)
		b, _ = json.Marshal(v)
		k := e.key(b)
		if !json.Valid(k) {
			t.Fatalf("key of valid JSON is not JSON: %q -> %q", b, k)
		}
		if k2 := e.key(k); !bytes.Equal(k2, k) {
			t.Fatalf("key not idempotent: %q -> %q -> %q", b, k, k2)
		}
	})
}
