package fleet

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/upstream"
)

// Observation is the daemon state one snapshot is built from; the daemon
// fills it from what it already keeps (sessions, scales, doors, queue).
type Observation struct {
	Ready   bool
	Devices map[string]fleetmsg.DeviceCounts
	Pending []string // equipIds waiting for approval
	// PendingFull: the pending records are at their cap (admission.MaxPending)
	// and new devices are refused.
	PendingFull bool
	Scales      []fleetmsg.ScaleHealth
	Doors       []fleetmsg.DoorHealth
	Printers    []PrinterObservation
	Queue       fleetmsg.QueueHealth
	// QueueOldest is the oldest unsent event's time, zero when the queue
	// is empty.
	QueueOldest time.Time
	// LedgerRebased is the last time the ledger's numbering followed the
	// cloud's (a new or restored data directory), zero if never, and the
	// first seq after it.
	LedgerRebased  time.Time
	RebaseFirstSeq uint64
	// ClockOffset is this box's clock minus the cloud's; ClockCorrected
	// says the store signs with the cloud's time because of it.
	ClockOffset    time.Duration
	ClockCorrected bool
}

// PrinterObservation is a printer's health and whether its state is a
// fault (the printing service decides: paper end at once, silence after
// 10 s).
type PrinterObservation struct {
	fleetmsg.PrinterHealth
	Fault bool
}

// ledgerRebasedFor is how long ledger_rebased stays raised after a rebase
// (UPSTREAM.md §7).
const ledgerRebasedFor = time.Hour

// condition is an alert as observed now; hold is how long it must persist
// before it is raised (a door reconnecting, a scale re-opening at start),
// since overrides the time it was first observed.
type condition struct {
	kind, subject, message string
	hold                   time.Duration
	since                  time.Time
}

// Holds before an alert is raised. Doors and scales need a moment at start
// and ride out short blips; everything else is raised when observed.
const (
	doorHold  = 10 * time.Second
	scaleHold = 3 * time.Second
)

// maxPendingAlerts bounds the device_pending alerts of one snapshot: a
// store that just switched on 10,000 e-labels under pairing must still
// fit its snapshot in the cloud's limit. The last one counts the rest.
const maxPendingAlerts = 100

// diskLowRatio is the free share of the data directory's file system under
// which disk_low is raised (UPSTREAM.md §7).
const diskLowRatio = 0.10

// conditions derives the alert conditions of UPSTREAM.md §7 from an observation.
func conditions(o Observation, disk fleetmsg.DiskHealth, diskOK bool, dataDir string, queueAlarmAge time.Duration, now time.Time) []condition {
	var cs []condition
	for i, id := range o.Pending {
		msg := fmt.Sprintf("device %s is waiting for approval (storebox devices approve %s)", id, id)
		if i == maxPendingAlerts-1 && len(o.Pending) > maxPendingAlerts {
			cs = append(cs, condition{kind: fleetmsg.AlertDevicePending, subject: id,
				message: fmt.Sprintf("%s; %d more devices are waiting too", msg, len(o.Pending)-maxPendingAlerts+1)})
			break
		}
		cs = append(cs, condition{kind: fleetmsg.AlertDevicePending, subject: id, message: msg})
	}
	if o.PendingFull {
		cs = append(cs, condition{kind: fleetmsg.AlertPendingFull, subject: "devices",
			message: fmt.Sprintf("%d devices wait for approval; new devices are refused until some are approved or rejected (storebox devices; forget-pending clears them all)", len(o.Pending))})
	}
	for _, s := range o.Scales {
		if s.State == "connected" {
			continue
		}
		msg := fmt.Sprintf("scale %s is %s", s.ID, s.State)
		if s.Error != "" {
			msg += ": " + s.Error
		}
		cs = append(cs, condition{kind: fleetmsg.AlertScaleFault, subject: s.ID, message: msg, hold: scaleHold})
	}
	for _, p := range o.Printers {
		if !p.Fault {
			continue
		}
		msg := fmt.Sprintf("printer %s is %s (%d receipts waiting)", p.ID, p.State, p.Queued)
		if p.Error != "" {
			msg += ": " + p.Error
		}
		cs = append(cs, condition{kind: fleetmsg.AlertPrinterFault, subject: p.ID, message: msg})
	}
	for _, d := range o.Doors {
		if !d.Online {
			cs = append(cs, condition{kind: fleetmsg.AlertDoorOffline, subject: d.ID, message: fmt.Sprintf("door %s is not connected to the broker", d.ID), hold: doorHold})
		}
	}
	if !o.QueueOldest.IsZero() {
		if age := now.Sub(o.QueueOldest); age > queueAlarmAge {
			msg := fmt.Sprintf("oldest unsent event is %s old (%d queued)", age.Round(time.Second), o.Queue.Depth)
			if o.Queue.LastError != "" {
				msg += "; last error: " + o.Queue.LastError
			}
			cs = append(cs, condition{kind: fleetmsg.AlertQueueStale, subject: "queue", message: msg, since: o.QueueOldest.Add(queueAlarmAge)})
		}
	}
	if o.Queue.DeadLetters > 0 {
		cs = append(cs, condition{kind: fleetmsg.AlertDeadLetters, subject: "queue",
			message: fmt.Sprintf("%d events the cloud refused are in the dead-letter bucket", o.Queue.DeadLetters)})
	}
	if !o.LedgerRebased.IsZero() && now.Sub(o.LedgerRebased) < ledgerRebasedFor {
		cs = append(cs, condition{kind: fleetmsg.AlertLedgerRebased, subject: strconv.FormatUint(o.RebaseFirstSeq, 10), since: o.LedgerRebased,
			message: fmt.Sprintf("this data directory is new or restored: its unsent events were numbered from seq %d, above the cloud's last", o.RebaseFirstSeq)})
	}
	if o.ClockCorrected {
		cs = append(cs, condition{kind: fleetmsg.AlertClockSkew, subject: strconv.FormatInt(int64(o.ClockOffset.Round(time.Second)/time.Second), 10),
			message: ClockAdvice(o.ClockOffset)})
	}
	if diskOK && disk.FreeRatio < diskLowRatio {
		cs = append(cs, condition{kind: fleetmsg.AlertDiskLow, subject: dataDir,
			message: fmt.Sprintf("%.1f%% free (%d MiB) on the data directory's file system", disk.FreeRatio*100, disk.FreeBytes>>20)})
	}
	return cs
}

// tracker turns conditions into alerts whose since stays put while they
// stay raised.
type tracker struct {
	seen   map[string]seenAlert
	raised map[string]bool
	// toCloud turns a time of this box's clock into the cloud's (known:
	// the offset has been measured); nil is this box's clock, known.
	toCloud func(time.Time) (time.Time, bool)
}

// seenAlert is when an alert was first observed (or its condition's own
// since), on this box's clock (holds count from it) and as reported: on
// the cloud's clock, pinned at the first evaluation that knew the offset,
// so a clock set right later does not move it.
type seenAlert struct {
	first, since time.Time
	pinned       bool
}

func alertKey(kind, subject string) string { return kind + "\x00" + subject }

// update returns the raised alerts, sorted, and which were raised and
// cleared by this observation.
func (t *tracker) update(cs []condition, now time.Time) (alerts []fleetmsg.Alert, raised, cleared []fleetmsg.Alert) {
	if t.seen == nil {
		t.seen, t.raised = map[string]seenAlert{}, map[string]bool{}
	}
	toCloud := t.toCloud
	if toCloud == nil {
		toCloud = func(t time.Time) (time.Time, bool) { return t, true }
	}
	present := make(map[string]bool, len(cs))
	for _, c := range cs {
		k := alertKey(c.kind, c.subject)
		present[k] = true
		s, ok := t.seen[k]
		if !ok {
			s.first = now
			if !c.since.IsZero() {
				s.first = c.since
			}
		}
		if !s.pinned {
			s.since, s.pinned = toCloud(s.first)
		}
		t.seen[k] = s
		if now.Sub(s.first) < c.hold {
			continue
		}
		a := fleetmsg.Alert{Kind: c.kind, Subject: c.subject, Since: s.since.UTC(), Message: c.message}
		alerts = append(alerts, a)
		if !t.raised[k] {
			t.raised[k] = true
			raised = append(raised, a)
		}
	}
	for k := range t.seen {
		if present[k] {
			continue
		}
		delete(t.seen, k)
		if t.raised[k] {
			delete(t.raised, k)
			kind, subject, _ := strings.Cut(k, "\x00")
			cleared = append(cleared, fleetmsg.Alert{Kind: kind, Subject: subject})
		}
	}
	sortAlerts(alerts)
	sortAlerts(raised)
	sortAlerts(cleared)
	return alerts, raised, cleared
}

func sortAlerts(as []fleetmsg.Alert) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Kind != as[j].Kind {
			return as[i].Kind < as[j].Kind
		}
		return as[i].Subject < as[j].Subject
	})
}

// ClockAdvice says what a clock offset (this box's minus the cloud's)
// means and what to do about it.
func ClockAdvice(offset time.Duration) string {
	return upstream.DescribeOffset(offset) + ": storebox signs with the cloud's time so sync goes on, " +
		"but order times, receipts and logs follow this clock; set it right (timedatectl set-ntp true; a box that loses the time at every power cut needs a new CMOS battery)"
}
