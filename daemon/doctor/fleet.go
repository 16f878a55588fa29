package doctor

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/fleet"
)

// fleetStatus is the "config" section of the daemon's status (UPSTREAM.md §7).
type fleetStatus struct {
	Source        string    `json:"source"`
	Version       uint64    `json:"version"`
	AppliedAt     time.Time `json:"applied_at"`
	RemoteEnabled bool      `json:"remote_enabled"`
	Refused       *struct {
		Version string    `json:"version"`
		Reason  string    `json:"reason"`
		At      time.Time `json:"at"`
	} `json:"refused"`
	HealthSentAt time.Time `json:"health_sent_at"`
	HealthError  string    `json:"health_error"`
}

// checkFleet shows the applied configuration's version and source, the
// last refused remote document and whether health reaches the cloud.
func checkFleet(cfg *config.Config, d *daemonInfo) []Result {
	const name = "fleet"
	if cfg.Upstream.URL == "" && cfg.Upstream.Kind != "nats" {
		return nil
	}
	if !d.running || d.statusErr != nil {
		if !cfg.Fleet.RemoteConfig {
			return []Result{{Level: OK, Check: name, Detail: "fleet.remote_config = false: the local file is the whole configuration"}}
		}
		v, at, err := fleet.ReadStored(cfg.DataDir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return []Result{{Level: OK, Check: name, Detail: "no remote configuration stored; the daemon runs on the local file until the cloud sends one"}}
		case err != nil:
			return []Result{{Level: Warn, Check: name, Detail: "stored remote configuration unreadable: " + err.Error(),
				Fix: "the daemon ignores it and fetches a new one; remove " + fleet.StateFile + " from the data directory to silence this"}}
		}
		return []Result{{Level: OK, Check: name, Detail: fmt.Sprintf("remote configuration version %d stored (applied %s); the next start runs on it", v, at.Local().Format(time.DateTime))}}
	}
	c := d.status.Config
	var out []Result
	switch {
	case c.Source == "remote":
		out = append(out, Result{Level: OK, Check: name, Detail: fmt.Sprintf("running remote configuration version %d, applied %s, over the local file", c.Version, c.AppliedAt.Local().Format(time.DateTime))})
	case !c.RemoteEnabled:
		out = append(out, Result{Level: OK, Check: name, Detail: "running the local file (remote configuration off)"})
	default:
		out = append(out, Result{Level: OK, Check: name, Detail: "running the local file; the cloud has sent no remote configuration"})
	}
	if rf := c.Refused; rf != nil {
		v := rf.Version
		if v == "" {
			v = "(unreadable)"
		}
		out = append(out, Result{Level: Warn, Check: name, Detail: fmt.Sprintf("remote configuration version %s refused at %s: %s", v, rf.At.Local().Format(time.DateTime), rf.Reason),
			Fix: fmt.Sprintf("send a corrected document with a higher version through the cloud's admin API (the reference cloud: PUT /v1/admin/stores/%s/config with its admin token; its fleet page only shows); only doors, devices.admission, devices.approve, devices.reject and orders.payment_ttl apply remotely, and the reply must be signed with upstream.secret", cfg.StoreID)})
	}
	if c.HealthError != "" {
		out = append(out, Result{Level: Warn, Check: name, Detail: "health snapshots do not reach the cloud: " + c.HealthError,
			Fix: "check upstream.url, upstream.secret and the network; the store keeps selling meanwhile"})
	}
	return out
}
