package scale_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/scaleproto"
	"github.com/storebox/storebox/test/testenv"
)

const waitFor = 10 * time.Second // generous: the box is shared

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// startSim runs a simulator for the test's lifetime.
func startSim(t *testing.T, p scaleproto.Protocol, opts scalesim.Options) *scalesim.Sim {
	t.Helper()
	if opts.Interval == 0 {
		opts.Interval = 30 * time.Millisecond
	}
	sim, err := scalesim.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim serve: %v", err)
		}
		sim.Close()
	})
	return sim
}

// startScale runs a driver on port for the test's lifetime.
func startScale(t *testing.T, cfg scale.Config) *scale.Scale {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "s1"
	}
	if cfg.PollMS == 0 {
		cfg.PollMS = 40
	}
	s, err := scale.New(cfg, scale.Options{Log: testLog(t), ReopenMin: 20 * time.Millisecond, ReopenMax: 200 * time.Millisecond,
		Probe: scale.ProbeOptions{Bauds: []int{9600}, Timeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("scale serve returned %v on cancel", err)
			}
		case <-time.After(waitFor):
			t.Error("scale serve did not stop")
		}
	})
	return s
}

// waitLatest polls Latest until ok accepts it.
func waitLatest(t *testing.T, s *scale.Scale, what string, ok func(r scaleproto.Reading, st scale.State, err error) bool) scaleproto.Reading {
	t.Helper()
	var r scaleproto.Reading
	testenv.EventuallyWithin(t, waitFor, what, func() bool {
		var st scale.State
		var err error
		r, st, err = s.Latest()
		return ok(r, st, err)
	})
	return r
}

func weight(g int64, stable bool) func(scaleproto.Reading, scale.State, error) bool {
	return func(r scaleproto.Reading, st scale.State, err error) bool {
		return err == nil && st == scale.Connected && r.Grams == g && r.Stable == stable
	}
}

func noWeight(why string, check func(r scaleproto.Reading) bool) func(scaleproto.Reading, scale.State, error) bool {
	return func(r scaleproto.Reading, st scale.State, err error) bool {
		return errors.Is(err, scale.ErrNoWeight) && st == scale.Connected && check(r)
	}
}

type caps struct {
	motionValue bool // motion frames carry a weight
	motion      bool
	overload    bool
	underload   bool
	negative    bool
	net         bool
}

var protocols = []struct {
	name  string
	p     scaleproto.Protocol
	short bool
	caps  caps
}{
	{"toledo8217", scaleproto.Toledo8217, false, caps{motion: true, overload: true, underload: true, negative: true, net: true}},
	{"mt-sics", scaleproto.MTSICS, false, caps{motion: true, motionValue: true, overload: true, underload: true, negative: true}},
	{"cas22", scaleproto.CASContinuous, false, caps{motion: true, motionValue: true, overload: true, negative: true, net: true}},
	{"cas18", scaleproto.CASContinuous, true, caps{motion: true, motionValue: true, overload: true, negative: true, net: true}},
	{"cas-enq", scaleproto.CASENQ, false, caps{motion: true, motionValue: true, overload: true, negative: true}},
	{"cas-pd2", scaleproto.CASPD2, false, caps{motion: true}},
	{"adam", scaleproto.AdamAZ, false, caps{negative: true}},
}

// TestProtocols runs every protocol against its simulator through the
// states and faults a shop floor produces.
func TestProtocols(t *testing.T) {
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, tc.p, scalesim.Options{Short: tc.short})
			sim.SetWeight(1234)
			s := startScale(t, scale.Config{Port: sim.Path(), Protocol: string(tc.p)})
			waitLatest(t, s, "stable", weight(1234, true))
			c := tc.caps

			if c.motion {
				sim.SetMotion(true)
				if c.motionValue {
					sim.SetWeight(1300)
					waitLatest(t, s, "motion", weight(1300, false))
				} else {
					waitLatest(t, s, "motion", noWeight("motion", func(r scaleproto.Reading) bool { return !r.Stable }))
				}
				sim.SetMotion(false)
				sim.SetWeight(1234)
				waitLatest(t, s, "settled", weight(1234, true))
			}
			if c.overload {
				sim.SetOverload(true)
				waitLatest(t, s, "overload", noWeight("overload", func(r scaleproto.Reading) bool { return r.Overload }))
				sim.SetOverload(false)
				waitLatest(t, s, "after overload", weight(1234, true))
			}
			if c.underload {
				sim.SetUnderload(true)
				waitLatest(t, s, "underload", noWeight("underload", func(r scaleproto.Reading) bool { return r.Underload }))
				sim.SetUnderload(false)
				waitLatest(t, s, "after underload", weight(1234, true))
			}
			if c.negative {
				sim.SetWeight(-150)
				r := waitLatest(t, s, "negative", weight(-150, true))
				if !r.Negative {
					t.Errorf("negative flag not set: %+v", r)
				}
			}
			if c.net {
				sim.SetNet(true)
				sim.SetWeight(400)
				waitLatest(t, s, "net", func(r scaleproto.Reading, st scale.State, err error) bool {
					return err == nil && r.Net && r.Grams == 400
				})
				sim.SetNet(false)
			}

			// Garbage between frames is counted and costs no reading.
			before := s.Counters()
			sim.SetWeight(2001)
			noise := "\xff\x00noise\r\n+++"
			if tc.p == scaleproto.AdamAZ {
				// Adam prints a weight once: a line spoilt by a garbage
				// prefix is lost until the weight changes again.
				noise = "\xff\x00noise\r\n"
			}
			sim.InjectGarbage([]byte(noise))
			waitLatest(t, s, "after garbage", weight(2001, true))
			sim.SetWeight(2002)
			sim.InjectGarbage([]byte("?\r\n"))
			waitLatest(t, s, "after garbage 2", weight(2002, true))
			if got := s.Counters().Garbage; got <= before.Garbage {
				t.Errorf("garbage not counted: %d -> %d", before.Garbage, got)
			}

			// Frames written in pieces are reassembled.
			sim.SetSplit(3, 5*time.Millisecond)
			sim.SetWeight(3456)
			waitLatest(t, s, "split frames", weight(3456, true))
			sim.SetSplit(0, 0)
		})
	}
}

// TestBadBCC checks a CAS ENQ frame with a wrong check byte is counted and
// never becomes the current weight.
func TestBadBCC(t *testing.T) {
	t.Parallel()
	sim := startSim(t, scaleproto.CASENQ, scalesim.Options{})
	sim.SetWeight(500)
	s := startScale(t, scale.Config{Port: sim.Path(), Protocol: "cas-enq"})
	waitLatest(t, s, "good", weight(500, true))

	sub, cancel := s.Subscribe()
	defer cancel()
	sim.SetBadBCC(true)
	sim.SetWeight(999)
	waitLatest(t, s, "stale on bad frames", func(r scaleproto.Reading, st scale.State, err error) bool {
		return st == scale.Stale && errors.Is(err, scale.ErrStale)
	})
	if c := s.Counters(); c.Checksum < 2 {
		t.Errorf("checksum errors %d", c.Checksum)
	}
	for len(sub) > 0 {
		if u := <-sub; u.Reading.Grams == 999 {
			t.Fatalf("a bad-BCC weight was published: %+v", u)
		}
	}
	sim.SetBadBCC(false)
	waitLatest(t, s, "good again", weight(999, true))
}

// TestStale: a scale that stops answering goes stale after missed polls and
// Latest refuses the old weight; it recovers when the scale answers again.
func TestStale(t *testing.T) {
	for _, p := range []scaleproto.Protocol{scaleproto.Toledo8217, scaleproto.CASContinuous} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, p, scalesim.Options{})
			sim.SetWeight(700)
			s := startScale(t, scale.Config{Port: sim.Path(), Protocol: string(p)})
			waitLatest(t, s, "live", weight(700, true))
			missed := s.Counters().Missed
			sim.SetSilent(true)
			waitLatest(t, s, "stale", func(r scaleproto.Reading, st scale.State, err error) bool {
				return st == scale.Stale && errors.Is(err, scale.ErrStale) && r.Grams == 0
			})
			if got := s.Counters().Missed - missed; got < scale.StaleAfter {
				t.Errorf("stale after %d missed polls, want >= %d", got, scale.StaleAfter)
			}
			if last, ok := s.LastReading(); !ok || last.Grams != 700 {
				t.Errorf("LastReading %+v %v", last, ok)
			}
			if st := s.Status(); st.State != scale.Stale || st.Error == "" || st.Last == nil || st.Protocol != p {
				t.Errorf("Status %+v", st)
			}
			sim.SetSilent(false)
			waitLatest(t, s, "recovered", weight(700, true))
		})
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestHotPlug: the scale is configured by a stable symlink that does not
// exist yet (switched on after the daemon), then is unplugged and comes
// back as a new device behind the same path.
func TestHotPlug(t *testing.T) {
	fds := openFDs(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "usb-scale-if00")

	sim, err := scalesim.New(scaleproto.MTSICS, scalesim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim.Unplug()
	if err := sim.Link(link); err != nil {
		t.Fatal(err)
	}
	simCtx, simStop := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Serve(simCtx) }()

	s, err := scale.New(scale.Config{ID: "hp", Port: link, Protocol: "mt-sics", PollMS: 40},
		scale.Options{Log: testLog(t), ReopenMin: 20 * time.Millisecond, ReopenMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	waitLatest(t, s, "absent", func(r scaleproto.Reading, st scale.State, err error) bool {
		return st == scale.Disconnected && errors.Is(err, scale.ErrDisconnected) && s.Counters().Errors >= 2
	})
	sim.SetWeight(111)
	if err := sim.Plug(); err != nil {
		t.Fatal(err)
	}
	waitLatest(t, s, "plugged", weight(111, true))
	first := sim.PTY()

	for i := range 3 {
		if err := sim.Unplug(); err != nil {
			t.Fatal(err)
		}
		waitLatest(t, s, "unplugged", func(r scaleproto.Reading, st scale.State, err error) bool {
			return st == scale.Disconnected && errors.Is(err, scale.ErrDisconnected)
		})
		g := int64(200 + i)
		sim.SetWeight(g)
		if err := sim.Plug(); err != nil {
			t.Fatal(err)
		}
		waitLatest(t, s, "replugged", weight(g, true))
	}
	if c := s.Counters(); c.Opens < 4 {
		t.Errorf("opens %d, want >= 4", c.Opens)
	}
	t.Logf("first pty %s, last %s, counters %+v", first, sim.PTY(), s.Counters())

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	simStop()
	<-simDone
	sim.Close()
	if got := openFDs(t); got > fds {
		t.Errorf("file descriptors: %d before, %d after (leak)", fds, got)
	}
}

// TestSwappedLink: the link is re-pointed to a new device while the old one
// is still present but silent (re-enumeration); the driver follows it.
func TestSwappedLink(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "scale")
	old := startSim(t, scaleproto.Toledo8217, scalesim.Options{})
	old.SetWeight(10)
	if err := old.Link(link); err != nil {
		t.Fatal(err)
	}
	s := startScale(t, scale.Config{Port: link, Protocol: "toledo"})
	waitLatest(t, s, "old device", weight(10, true))

	nu := startSim(t, scaleproto.Toledo8217, scalesim.Options{})
	nu.SetWeight(20)
	old.SetSilent(true)
	if err := nu.Link(link); err != nil {
		t.Fatal(err)
	}
	waitLatest(t, s, "new device", weight(20, true))
}

// TestProbe identifies each simulator by its answer and rejects an echoing
// port.
func TestProbe(t *testing.T) {
	// Each attempt a simulator does not answer costs the whole timeout, and
	// the one it answers must get its reply within it: 1 s, so a loaded
	// machine running -race does not miss a reply (250 ms did, "probe: []").
	opts := scale.ProbeOptions{Bauds: []int{9600}, Timeout: time.Second}
	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		e, err := scalesim.NewEcho()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go e.Serve(ctx)
		defer e.Close()
		checkEchoes(t, e.Path())
		res, err := scale.Probe(context.Background(), e.Path(), scale.ProbeOptions{Bauds: []int{9600, 4800}, Timeout: 250 * time.Millisecond, All: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 0 {
			t.Fatalf("echo port identified as %+v", res)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		if _, err := scale.Probe(context.Background(), filepath.Join(t.TempDir(), "nope"), opts); err == nil {
			t.Fatal("probe of a missing port succeeded")
		}
	})
	for _, tc := range protocols {
		if tc.short {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, tc.p, scalesim.Options{})
			sim.SetWeight(42)
			res, err := scale.Probe(context.Background(), sim.Path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].Protocol != tc.p {
				t.Fatalf("probe: %+v", res)
			}
			if tc.p == scaleproto.MTSICS && res[0].Ident != "B021002593" {
				t.Errorf("ident %q", res[0].Ident)
			}
		})
	}
}

// checkEchoes proves the echo pty works, so the negative probe means
// something.
func checkEchoes(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("Ehello")); err != nil {
		t.Fatal(err)
	}
	f.SetReadDeadline(time.Now().Add(waitFor))
	buf := make([]byte, 6)
	got := 0
	for got < 6 {
		n, err := f.Read(buf[got:])
		if err != nil {
			t.Fatalf("echo read: %v", err)
		}
		got += n
	}
	if string(buf) != "Ehello" {
		t.Fatalf("echo returned %q", buf)
	}
}

// TestAuto finds the protocol by probing and then reads.
func TestAuto(t *testing.T) {
	t.Parallel()
	sim := startSim(t, scaleproto.CASENQ, scalesim.Options{})
	sim.SetWeight(321)
	s := startScale(t, scale.Config{Port: sim.Path(), Protocol: "auto"})
	waitLatest(t, s, "auto", weight(321, true))
	if p := s.Protocol(); p != scaleproto.CASENQ {
		t.Fatalf("protocol %q", p)
	}
}

// TestZeroTare sends zero and tare through the driver.
func TestZeroTare(t *testing.T) {
	for _, p := range []scaleproto.Protocol{scaleproto.MTSICS, scaleproto.Toledo8217} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, p, scalesim.Options{})
			sim.SetWeight(50)
			s := startScale(t, scale.Config{Port: sim.Path(), Protocol: string(p)})
			waitLatest(t, s, "before zero", weight(50, true))
			ctx := context.Background()
			if err := s.Zero(ctx); err != nil {
				t.Fatal(err)
			}
			waitLatest(t, s, "zeroed", weight(0, true))
			sim.SetWeight(550)
			waitLatest(t, s, "container", weight(500, true))
			if err := s.Tare(ctx); err != nil {
				t.Fatal(err)
			}
			waitLatest(t, s, "tared", weight(0, true))
			sim.SetWeight(800)
			waitLatest(t, s, "net goods", weight(250, true)) // 800 - 50 zero - 500 tare
			if err := s.ClearTare(ctx); err != nil {
				t.Fatal(err)
			}
			waitLatest(t, s, "tare cleared", weight(750, true))
		})
	}
	t.Run("unsupported", func(t *testing.T) {
		t.Parallel()
		sim := startSim(t, scaleproto.CASContinuous, scalesim.Options{})
		s := startScale(t, scale.Config{Port: sim.Path(), Protocol: "cas"})
		waitLatest(t, s, "live", weight(0, true))
		if err := s.Zero(context.Background()); !errors.Is(err, scaleproto.ErrUnsupported) {
			t.Fatalf("zero on CAS continuous: %v", err)
		}
	})
}

// TestSubscribe gets readings pushed.
func TestSubscribe(t *testing.T) {
	t.Parallel()
	sim := startSim(t, scaleproto.CASContinuous, scalesim.Options{})
	s := startScale(t, scale.Config{Port: sim.Path(), Protocol: "cas"})
	sub, cancel := s.Subscribe()
	defer cancel()
	var mu sync.Mutex
	seen := map[int64]bool{}
	timeout := time.After(waitFor)
	for g := int64(1); g <= 5; g++ {
		sim.SetWeight(g * 100)
		for !seen[g*100] {
			select {
			case u := <-sub:
				mu.Lock()
				if u.Err == nil {
					seen[u.Reading.Grams] = true
				}
				mu.Unlock()
			case <-timeout:
				t.Fatalf("no update with %d g: %v", g*100, seen)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []scale.Config{
		{ID: "a"},
		{ID: "a", Port: "/dev/x", Protocol: "nonsense"},
		{ID: "a", Port: "/dev/x", Protocol: "cas", Parity: "mark"},
		{ID: "a", Port: "/dev/x", Protocol: "cas", StopBits: 3},
		{ID: "a", Port: "/dev/x", Protocol: "cas", PollMS: -1},
	} {
		if _, err := scale.New(c, scale.Options{}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for _, p := range []string{"auto", "", "toledo", "MT-SICS", "cas-enq"} {
		if _, err := scale.New(scale.Config{ID: "a", Port: "/dev/x", Protocol: p}, scale.Options{}); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	_ = fmt.Sprint()
}

// TestPartialFrame: a frame cut off by the start of the next is counted as
// partial and the next frame still reads.
func TestPartialFrame(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p   scaleproto.Protocol
		cut string
	}{
		{scaleproto.CASContinuous, "ST,GS,01,0009"},
		{scaleproto.Toledo8217, "\x02 9."},
		{scaleproto.CASENQ, "\x01\x02S 9"},
	} {
		sim := startSim(t, tc.p, scalesim.Options{})
		sim.SetWeight(10)
		s := startScale(t, scale.Config{Port: sim.Path(), Protocol: string(tc.p)})
		waitLatest(t, s, "first", weight(10, true))
		sim.SetWeight(4321)
		sim.InjectGarbage([]byte(tc.cut))
		waitLatest(t, s, "after cut frame", weight(4321, true))
		if c := s.Counters(); c.Partial == 0 {
			t.Errorf("%s: partial frame not counted: %+v", tc.p, c)
		}
	}
}

// TestSwitchedOnLater: the adapter is there but the scale is off when the
// driver starts; it is stale (never connected) until the scale answers.
func TestSwitchedOnLater(t *testing.T) {
	t.Parallel()
	sim := startSim(t, scaleproto.CASPD2, scalesim.Options{})
	sim.SetSilent(true)
	sim.SetWeight(880)
	s := startScale(t, scale.Config{Port: sim.Path(), Protocol: "cas-pd2"})
	waitLatest(t, s, "off", func(r scaleproto.Reading, st scale.State, err error) bool {
		return st == scale.Stale && errors.Is(err, scale.ErrStale)
	})
	if _, ok := s.LastReading(); ok {
		t.Fatal("a reading from a silent scale")
	}
	sim.SetSilent(false)
	waitLatest(t, s, "switched on", weight(880, true))
}
