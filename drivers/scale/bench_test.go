package scale_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// BenchmarkFrameToLatest measures the time from the last byte of a weight
// frame leaving the simulated scale (paced at 9600 baud over a pty) to the
// reading being current in the driver (pushed to a subscriber, and Latest
// returning it). Each op is one new weight; run with a fixed count, e.g.
//
//	go test -run XXX -bench FrameToLatest -benchtime 300x ./drivers/scale/
//
// and read the p50-ms / p99-ms / max-ms metrics.
func BenchmarkFrameToLatest(b *testing.B) {
	for _, tc := range []struct {
		name   string
		p      scaleproto.Protocol
		pollMS int
	}{
		{"cas-continuous", scaleproto.CASContinuous, 500},
		{"toledo8217-poll50ms", scaleproto.Toledo8217, 50},
		{"cas-enq-poll50ms", scaleproto.CASENQ, 50},
	} {
		b.Run(tc.name, func(b *testing.B) { benchLatency(b, tc.p, tc.pollMS) })
	}
}

func benchLatency(b *testing.B, p scaleproto.Protocol, pollMS int) {
	sim, err := scalesim.New(p, scalesim.Options{Baud: 9600, Interval: 40 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	var mu sync.Mutex
	sentAt := map[int64]time.Time{}
	sim.OnFrame(func(frame []byte, at time.Time) {
		m, err := scaleproto.Parse(p, frame)
		if err != nil {
			return
		}
		mu.Lock()
		if _, ok := sentAt[m.Reading.Grams]; !ok {
			sentAt[m.Reading.Grams] = at
		}
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sim.Serve(ctx)
	s, err := scale.New(scale.Config{ID: "bench", Port: sim.Path(), Protocol: string(p), PollMS: pollMS}, scale.Options{})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	sub, unsub := s.Subscribe()
	defer unsub()

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g := int64(1000 + i)
		sim.SetWeight(g)
		timeout := time.After(10 * time.Second)
		for got := false; !got; {
			select {
			case u := <-sub:
				if u.Err != nil || u.Reading.Grams != g {
					continue
				}
				now := time.Now()
				if r, _, err := s.Latest(); err != nil || r.Grams != g {
					b.Fatalf("Latest after update: %+v %v", r, err)
				}
				mu.Lock()
				at, ok := sentAt[g]
				mu.Unlock()
				if !ok {
					b.Fatalf("update for %d g before its frame was sent", g)
				}
				lat = append(lat, now.Sub(at))
				got = true
			case <-timeout:
				b.Fatalf("no reading %d g; counters %+v", g, s.Counters())
			}
		}
	}
	b.StopTimer()
	cancel()
	<-done
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))]) / float64(time.Millisecond)
	}
	if testing.Verbose() {
		b.Logf("slowest: %v", lat[max(0, len(lat)-8):])
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
