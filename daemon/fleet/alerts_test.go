package fleet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
)

func TestAlertsKeepSinceAndHoldDoorsAndScales(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var tr tracker
	obs := Observation{
		Pending: []string{"T-02"},
		Scales:  []fleetmsg.ScaleHealth{{ID: "deli", State: "stale", Error: "no frame for 3s"}, {ID: "fruit", State: "connected"}},
		Doors:   []fleetmsg.DoorHealth{{ID: "front", Online: false}, {ID: "back", Online: true}},
		Queue:   fleetmsg.QueueHealth{Depth: 12, DeadLetters: 2},
		// Unsent for 20 minutes against a 15-minute alarm.
		QueueOldest: t0.Add(-20 * time.Minute),
	}
	low := fleetmsg.DiskHealth{FreeBytes: 5 << 30, FreeRatio: 0.05}
	at := func(d time.Duration) ([]fleetmsg.Alert, []fleetmsg.Alert, []fleetmsg.Alert) {
		return tr.update(conditions(obs, low, true, "/var/lib/storebox", 15*time.Minute, t0.Add(d)), t0.Add(d))
	}
	alerts, raised, _ := at(0)
	kinds := func(as []fleetmsg.Alert) (out []string) {
		for _, a := range as {
			out = append(out, a.Kind+":"+a.Subject)
		}
		return out
	}
	// The door and the scale are held back; the rest is raised at once.
	want := []string{"dead_letters:queue", "device_pending:T-02", "disk_low:/var/lib/storebox", "queue_stale:queue"}
	if got := kinds(alerts); !equal(got, want) || !equal(kinds(raised), want) {
		t.Fatalf("at 0: alerts %v raised %v", got, kinds(raised))
	}
	for _, a := range alerts {
		if a.Kind == fleetmsg.AlertQueueStale && !a.Since.Equal(t0.Add(-5*time.Minute)) {
			t.Fatalf("queue_stale since %v, want when the oldest event crossed the alarm age", a.Since)
		}
	}
	_, raised, _ = at(4 * time.Second)
	if got := kinds(raised); !equal(got, []string{"scale_fault:deli"}) {
		t.Fatalf("at 4s raised %v", got)
	}
	alerts, raised, _ = at(11 * time.Second)
	if got := kinds(raised); !equal(got, []string{"door_offline:front"}) {
		t.Fatalf("at 11s raised %v", got)
	}
	for _, a := range alerts {
		if a.Kind == fleetmsg.AlertDevicePending && !a.Since.Equal(t0) {
			t.Fatalf("device_pending since moved to %v", a.Since)
		}
		if a.Kind == fleetmsg.AlertScaleFault && !a.Since.Equal(t0) {
			t.Fatalf("scale_fault since %v, want first observed %v", a.Since, t0)
		}
	}
	// The device is approved and the door comes back: both cleared, the rest stays.
	obs.Pending, obs.Doors = nil, []fleetmsg.DoorHealth{{ID: "front", Online: true}}
	alerts, raised, cleared := at(13 * time.Second)
	if len(raised) != 0 || !equal(kinds(cleared), []string{"device_pending:T-02", "door_offline:front"}) || len(alerts) != 4 {
		t.Fatalf("at 13s alerts %v raised %v cleared %v", kinds(alerts), kinds(raised), kinds(cleared))
	}
	// Raised again later: a new since.
	obs.Pending = []string{"T-02"}
	alerts, _, _ = at(20 * time.Second)
	for _, a := range alerts {
		if a.Kind == fleetmsg.AlertDevicePending && !a.Since.Equal(t0.Add(20*time.Second)) {
			t.Fatalf("re-raised device_pending since %v", a.Since)
		}
	}
}

func TestNoAlertsForAHealthyStore(t *testing.T) {
	var tr tracker
	now := time.Now()
	obs := Observation{Ready: true, QueueOldest: now.Add(-time.Minute), Queue: fleetmsg.QueueHealth{Depth: 3}}
	alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", 15*time.Minute, now), now)
	if len(alerts) != 0 {
		t.Fatalf("alerts %+v", alerts)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPendingAlertsAreBounded(t *testing.T) {
	var tr tracker
	now := time.Now()
	obs := Observation{}
	for i := range 10000 {
		obs.Pending = append(obs.Pending, fmt.Sprintf("L-%05d", i))
	}
	alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", time.Hour, now), now)
	if len(alerts) != maxPendingAlerts {
		t.Fatalf("%d alerts for 10,000 pending devices", len(alerts))
	}
	if last := alerts[len(alerts)-1]; last.Subject != "L-00099" || !strings.Contains(last.Message, "9901 more devices are waiting") {
		t.Fatalf("last alert %+v", last)
	}
}

// TestPendingFullAlert: at the pending cap the fleet hears that new
// devices are being refused (issue 19).
func TestPendingFullAlert(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	pending := make([]string, 1000)
	for i := range pending {
		pending[i] = fmt.Sprintf("FLOOD-%04d", i)
	}
	n := 0
	for _, c := range conditions(Observation{Pending: pending, PendingFull: true}, fleetmsg.DiskHealth{}, false, "", time.Hour, now) {
		if c.kind == fleetmsg.AlertPendingFull {
			n++
			if !strings.Contains(c.message, "1000 devices wait") {
				t.Fatalf("message %q", c.message)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d devices_pending_full conditions, want 1", n)
	}
}

func TestLedgerRebasedForAnHour(t *testing.T) {
	var tr tracker
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	obs := Observation{LedgerRebased: t0, RebaseFirstSeq: 1001}
	at := func(d time.Duration) []fleetmsg.Alert {
		alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", time.Hour, t0.Add(d)), t0.Add(d))
		return alerts
	}
	if a := at(time.Minute); len(a) != 1 || a[0].Kind != fleetmsg.AlertLedgerRebased || a[0].Subject != "1001" || !a[0].Since.Equal(t0) {
		t.Fatalf("after a minute: %+v", a)
	}
	if a := at(time.Hour + time.Second); len(a) != 0 {
		t.Fatalf("after an hour: %+v", a)
	}
}

func TestClockSkewNamesTheOffset(t *testing.T) {
	var tr tracker
	now := time.Now()
	obs := Observation{ClockOffset: -time.Hour - 400*time.Millisecond, ClockCorrected: true}
	alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", time.Hour, now), now)
	if len(alerts) != 1 || alerts[0].Kind != fleetmsg.AlertClockSkew || alerts[0].Subject != "-3600" || !strings.Contains(alerts[0].Message, "1h0m0s behind") {
		t.Fatalf("%+v", alerts)
	}
	obs.ClockCorrected = false
	if alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", time.Hour, now), now); len(alerts) != 0 {
		t.Fatalf("not corrected: %+v", alerts)
	}
}

func TestPrinterFaultAlert(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var tr tracker
	obs := Observation{Printers: []PrinterObservation{
		{PrinterHealth: fleetmsg.PrinterHealth{ID: "front", State: "paper_end", Queued: 3, Error: "out of paper"}, Fault: true},
		{PrinterHealth: fleetmsg.PrinterHealth{ID: "back", State: "ok"}},
		{PrinterHealth: fleetmsg.PrinterHealth{ID: "bar", State: "unreachable", Error: "connection refused"}}, // not yet 10 s
	}}
	alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 1}, true, "/d", time.Hour, t0), t0)
	if len(alerts) != 1 || alerts[0].Kind != fleetmsg.AlertPrinterFault || alerts[0].Subject != "front" ||
		!strings.Contains(alerts[0].Message, "out of paper") || !strings.Contains(alerts[0].Message, "3 receipts waiting") {
		t.Fatalf("alerts %+v", alerts)
	}
	obs.Printers[0].Fault, obs.Printers[0].State = false, "ok"
	alerts, _, cleared := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 1}, true, "/d", time.Hour, t0.Add(time.Minute)), t0.Add(time.Minute))
	if len(alerts) != 0 || len(cleared) != 1 {
		t.Fatalf("after paper was loaded: alerts %+v cleared %+v", alerts, cleared)
	}
}

// A box an hour behind the cloud reports its alerts' since on the cloud's
// clock; a since once reported on it stays put when the box's clock is set
// right, and one seen before the offset was known is reported on the
// cloud's clock once it is.
func TestAlertSinceOnTheCloudsClock(t *testing.T) {
	local := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // the box's clock, an hour behind
	clock := struct {
		offset       time.Duration
		known, fixed bool
	}{}
	tr := tracker{toCloud: func(t time.Time) (time.Time, bool) {
		if clock.fixed {
			return t.Add(-clock.offset), true
		}
		return t, clock.known
	}}
	obs := Observation{Pending: []string{"T-1"}}
	eval := func(now time.Time) map[string]time.Time {
		alerts, _, _ := tr.update(conditions(obs, fleetmsg.DiskHealth{FreeRatio: 0.5}, true, "d", time.Hour, now), now)
		out := map[string]time.Time{}
		for _, a := range alerts {
			out[a.Kind+":"+a.Subject] = a.Since
		}
		return out
	}
	// Seen before any reply: reported on the box's clock for now.
	if got := eval(local)["device_pending:T-1"]; !got.Equal(local) {
		t.Fatalf("offset unknown: since %v", got)
	}
	// The cloud's Date shows the box an hour behind.
	clock.offset, clock.known, clock.fixed = -time.Hour, true, true
	cloud := local.Add(time.Hour)
	obs.Pending = []string{"T-1", "T-2"}
	got := eval(local.Add(time.Minute))
	if !got["device_pending:T-1"].Equal(cloud) || !got["device_pending:T-2"].Equal(cloud.Add(time.Minute)) {
		t.Fatalf("offset known: %v, want T-1 at %v and T-2 a minute later", got, cloud)
	}
	// NTP sets the box right: its clock jumps an hour, the offset is gone.
	clock.offset = 0
	got = eval(local.Add(time.Hour + 2*time.Minute))
	if !got["device_pending:T-1"].Equal(cloud) || !got["device_pending:T-2"].Equal(cloud.Add(time.Minute)) {
		t.Fatalf("after the clock was set right: %v, want them where they were", got)
	}
}
