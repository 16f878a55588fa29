package daemon

import (
	"fmt"

	"context"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/fleet"
	"github.com/storebox/storebox/daemon/httpapi"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/protocol/fleetmsg"
	"github.com/storebox/storebox/sync/fleetlink"
	"github.com/storebox/storebox/sync/upstream"
)

// hasUpstream reports whether a cloud is configured at all.
func hasUpstream(c *config.Config) bool { return c.Upstream.URL != "" || c.Upstream.Kind == "nats" }

// newRemote prepares the fleet's remote configuration from the local file:
// the stored document is read (when fleet.remote_config is on and there is
// an upstream) so the daemon starts on it even with the cloud unreachable.
func (d *Daemon) newRemote(file *config.Config) *fleet.Remote {
	return fleet.NewRemote(fleet.RemoteConfig{
		Interval: file.Fleet.ConfigInterval.Duration,
		DataDir:  file.DataDir,
		Enabled:  fleet.RemoteEnabled(file),
		File:     file,
		Apply:    d.applyConfig,
		Log:      d.log.With("component", "fleet"),
	})
}

// buildFleet adds health reporting and the remote configuration poller
// when an upstream is configured: over HTTP through the signed upstream
// client, or over NATS key-value buckets with upstream.kind = "nats".
func (d *Daemon) buildFleet() error {
	c := d.cfg
	if !hasUpstream(c) {
		return nil
	}
	var link fleetlink.Link
	if c.Upstream.Kind == "nats" {
		n, err := fleetlink.DialNATS(fleetlink.NATSConfig{URL: c.Upstream.NATSURL, StoreID: c.StoreID, Secret: c.Upstream.Secret,
			Timeout: c.Upstream.Timeout.Duration, Logger: d.log.With("component", "fleet")})
		if err != nil {
			return err
		}
		link, d.natsFleet = n, n
		if c.Fleet.RemoteConfig {
			d.sup.Add("fleet-watch", &natsWatch{n})
		}
	} else {
		link = fleetlink.NewHTTP(d.upstream)
	}
	d.reporter = fleet.NewReporter(fleet.ReporterConfig{
		Link: link, Observe: d.observe, Config: d.remote.State, StoreID: c.StoreID, Version: d.version, DataDir: c.DataDir,
		Started: d.started, Interval: c.Fleet.HealthInterval.Duration, QueueAlarmAge: c.Fleet.QueueAlarmAge.Duration,
		Clock: d.cloudClock, Log: d.log.With("component", "fleet"),
	})
	d.remote.Attach(link, d.reporter.Kick)
	d.sup.Add("fleet-health", d.reporter)
	if d.remote.State().RemoteEnabled {
		d.sup.Add("fleet-config", d.remote)
	}
	return nil
}

// cloudClock is this box's clock against the cloud's, as the link that
// carries health measures it (zero: unknown).
func (d *Daemon) cloudClock() upstream.ClockState {
	if d.natsFleet != nil {
		return d.natsFleet.Clock()
	}
	if d.upstream != nil {
		return d.upstream.Clock()
	}
	return upstream.ClockState{}
}

// cloudNow is the cloud's time as this box knows it: its clock, corrected
// once a cloud reply showed it off — the HTTP cloud's Date (which relays
// payment notifies), else the NATS server's timestamps.
func (d *Daemon) cloudNow() time.Time {
	switch {
	case d.upstream != nil:
		return d.upstream.CloudNow()
	case d.natsFleet != nil:
		return d.natsFleet.CloudNow()
	}
	return time.Now()
}

// natsWatch follows the store's entry in storebox_config and closes the
// fleet's NATS connection when the daemon stops.
type natsWatch struct{ n *fleetlink.NATS }

func (w *natsWatch) Serve(ctx context.Context) error { w.n.Watch(ctx); return nil }
func (w *natsWatch) Close() error                    { w.n.Close(); return nil }

// applyDeviceLists approves and rejects the configured equipIds that are
// not so already (at start and at every reload), all in one transaction: an
// error changes no record. A rejected device's session is closed.
func (d *Daemon) applyDeviceLists(cfg *config.Config) error {
	set := map[string]string{}
	for _, l := range []struct {
		ids    []string
		status string
	}{{cfg.Devices.Approve, admission.DeviceApproved}, {cfg.Devices.Reject, admission.DeviceRejected}} {
		for _, id := range l.ids {
			if dv, ok, err := d.admission.Device(id); err == nil && ok && dv.Status == l.status {
				continue
			}
			set[id] = l.status
		}
	}
	if len(set) == 0 {
		return nil
	}
	changed, err := d.admission.SetStatuses(set)
	if err != nil {
		return fmt.Errorf("devices.approve/reject: %w", err)
	}
	for _, dv := range changed {
		if dv.Status == admission.DeviceRejected {
			d.devices.Disconnect(dv.EquipID, "rejected by configuration")
		}
		d.log.Info("device "+dv.Status+" by configuration", "equipId", dv.EquipID)
	}
	return nil
}

// observe gathers what a health snapshot reports from the parts' state;
// the device counts (every record read) only when counts is asked for, the
// pending ones (a cheap scan) always.
func (d *Daemon) observe(counts bool) fleet.Observation {
	o := fleet.Observation{Ready: d.Ready(), Devices: map[string]fleetmsg.DeviceCounts{}}
	online, _ := d.devices.Counts()
	for kind, n := range online {
		c := o.Devices[kind]
		c.Online = n
		o.Devices[kind] = c
	}
	if !counts {
		if pending, err := d.admission.PendingDevices(); err == nil {
			for _, dv := range pending {
				o.Pending = append(o.Pending, dv.EquipID)
			}
		}
	} else if known, err := d.admission.Devices(); err == nil {
		for _, dv := range known {
			if dv.Status == admission.DevicePending {
				o.Pending = append(o.Pending, dv.EquipID)
			}
			if dv.Kind == "" { // approved or rejected before it ever logged in
				continue
			}
			c := o.Devices[dv.Kind]
			switch dv.Status {
			case admission.DeviceApproved:
				c.Approved++
			case admission.DevicePending:
				c.Pending++
			}
			o.Devices[dv.Kind] = c
		}
	}
	o.PendingFull = len(o.Pending) >= admission.MaxPending
	if d.scales != nil {
		for _, st := range d.scales.Statuses() {
			sh := fleetmsg.ScaleHealth{ID: st.ID, State: string(st.State), Error: st.Error}
			if st.Last != nil {
				at := st.Last.At.UTC()
				sh.LastReadingAt = &at
			}
			o.Scales = append(o.Scales, sh)
		}
	}
	if d.printing != nil {
		for _, ps := range d.printing.States() {
			o.Printers = append(o.Printers, fleet.PrinterObservation{Fault: ps.Fault,
				PrinterHealth: fleetmsg.PrinterHealth{ID: ps.ID, State: ps.State, Queued: ps.Queued, Error: ps.Error}})
		}
	}
	if d.doors != nil {
		for _, ds := range d.doors.Snapshot() {
			o.Doors = append(o.Doors, fleetmsg.DoorHealth{ID: ds.ID, State: ds.State, Online: ds.Online})
		}
	}
	if q, err := d.store.Outbox().QueueStats(); err == nil {
		o.Queue = fleetmsg.QueueHealth{Depth: int64(q.Depth), DeadLetters: int64(q.DeadLetters)}
		o.QueueOldest = q.Oldest
		if !q.Oldest.IsZero() {
			o.Queue.OldestAgeS = int64(time.Since(q.Oldest) / time.Second)
		}
	}
	if rb, ok, err := d.store.LastLedgerRebase(); err == nil && ok {
		o.LedgerRebased, o.RebaseFirstSeq = rb.At, rb.FirstSeq
	}
	cl := d.cloudClock()
	o.ClockOffset, o.ClockCorrected = cl.Offset, cl.Corrected
	if d.uploader != nil {
		u := d.uploader.Status()
		if !u.LastSuccess.IsZero() {
			at := u.LastSuccess.UTC()
			o.Queue.LastSyncAt = &at
		}
		o.Queue.LastError = u.LastError
	}
	return o
}

// configStatus is the "config" section of the status (UPSTREAM.md §7).
func (d *Daemon) configStatus() httpapi.ConfigStatus {
	st := d.remote.State()
	cs := httpapi.ConfigStatus{Source: st.Source, Version: uint64(st.Version), AppliedAt: st.AppliedAt.UTC(), RemoteEnabled: st.RemoteEnabled}
	if rf := st.Refusal; rf != nil {
		cs.Refused = &httpapi.ConfigRefusal{Version: rf.Version, Reason: rf.Reason, At: rf.At}
	}
	if d.reporter != nil {
		cs.HealthSentAt, _, cs.HealthError = d.reporter.Delivery()
	}
	return cs
}
