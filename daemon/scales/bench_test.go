package scales

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/drivers/scale/scalesim"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// BenchmarkSerialFrameToGetWeight: a CAS continuous scale at 9600 baud on a
// pty, the scale service, the device server, and a terminal asking
// getWeight over TCP. Reports the time from the frame's last byte to the
// first getWeight answer carrying its weight.
//
//	go test -run '^$' -bench SerialFrameToGetWeight -benchtime 200x ./daemon/scales
func BenchmarkSerialFrameToGetWeight(b *testing.B) {
	sim, err := scalesim.New(scaleproto.CASContinuous, scalesim.Options{Baud: 9600, Interval: 40 * time.Millisecond})
	if err != nil {
		b.Skip("no pty:", err)
	}
	defer sim.Close()
	var mu sync.Mutex
	sentAt := map[int64]time.Time{}
	sim.OnFrame(func(fr []byte, at time.Time) {
		m, err := scaleproto.Parse(scaleproto.CASContinuous, fr)
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

	log := slog.New(slog.DiscardHandler)
	svc, err := New([]config.Scale{{ID: "S1", Port: sim.Path(), Protocol: "cas", Terminal: "T-W"}}, log)
	if err != nil {
		b.Fatal(err)
	}
	go svc.Serve(ctx)
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := devices.New(devices.Config{Listen: "127.0.0.1:0", Admission: "open"}, st, log)
	srv.Handle("getWeight", svc.GetWeight)
	if err := srv.Bind(); err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ctx)

	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fr := frame.NewReader(c, 0)
	call := func(msg string) []byte {
		c.Write(frame.Append(nil, frame.ModeLength, []byte(msg)))
		p, err := fr.Next()
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	call(`{"head":{"action":"login","equipId":"T-W"},"body":{}}`)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g := int64(2000 + i)
		sim.SetWeight(g)
		deadline := time.Now().Add(10 * time.Second)
		for {
			var r struct {
				Body struct {
					WeightG int64 `json:"weight_g"`
				} `json:"body"`
			}
			json.Unmarshal(call(`{"head":{"action":"getWeight"},"body":{}}`), &r)
			if r.Body.WeightG == g {
				now := time.Now()
				mu.Lock()
				at, ok := sentAt[g]
				mu.Unlock()
				if !ok {
					b.Fatalf("answer for %d g before its frame", g)
				}
				lat = append(lat, now.Sub(at))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("getWeight never showed %d g", g)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
