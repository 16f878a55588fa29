package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/storebox/storebox/daemon/config"
)

// Reload is the one way a running daemon takes a new configuration: SIGHUP
// (systemctl reload) calls it with the file read again, and so may anything
// else that hands the daemon a configuration.
//
// It is all or nothing. Every live setting in reloadable below is checked
// against cfg first; if any check fails, nothing changes and the error says
// which setting and why. Only then is each applied. Keys that differ from
// the running configuration and that no entry reaches are named in the log
// as needing a restart; they do not make the reload fail.
//
// To make a setting live, add an entry to reloadable: the keys it owns, a
// check that changes nothing, and an apply that cannot fail once the check
// passed.
//
// cfg is the local file as read again; the fleet's applied remote document
// (UPSTREAM.md §7) is laid over it first, and a new remote document comes through
// applyConfig below the same way.
func (d *Daemon) Reload(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("reload: no configuration")
	}
	return d.remote.Reload(context.Background(), cfg)
}

// SetConfigSource sets how ReloadSource reads the configuration again (the
// file the daemon was started with). Call it before Run.
func (d *Daemon) SetConfigSource(load func() (*config.Config, error)) { d.source.Store(&load) }

// ReloadSource reads the configuration again and reloads it, all or
// nothing: what SIGHUP does and what POST /api/v1/reload (`storebox
// reload`, the way on Windows, which has no SIGHUP) does.
func (d *Daemon) ReloadSource() error {
	if !d.Ready() {
		return errors.New("reload: the daemon is not ready yet; nothing applied")
	}
	load := d.source.Load()
	if load == nil {
		return errors.New("reload: this daemon has no configuration file to read again")
	}
	cfg, err := (*load)()
	if err != nil {
		return fmt.Errorf("reload: configuration not applied: %w", err)
	}
	if err := d.Reload(cfg); err != nil {
		return err
	}
	d.log.Info("reload: configuration applied")
	return nil
}

// applyConfig checks cfg against every live setting, then applies it.
func (d *Daemon) applyConfig(_ context.Context, cfg *config.Config) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	live := d.reloadable()
	var errs []error
	for _, r := range live {
		if err := r.check(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.keys[0], err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reload: nothing applied: %w", err)
	}
	// What writes the store goes first, in one transaction: if it fails,
	// nothing has been applied yet.
	if err := d.applyDeviceLists(cfg); err != nil {
		return fmt.Errorf("reload: nothing applied: %w", err)
	}
	var owned []string
	for _, r := range live {
		if r.apply != nil {
			r.apply(cfg)
		}
		owned = append(owned, r.keys...)
	}
	if restart := changedKeys(d.cfg, cfg, owned); len(restart) > 0 {
		d.log.Warn("configuration changed where a reload does not reach; restart to apply", "keys", restart)
	}
	return nil
}

// reloadSetting is one live setting of the running daemon.
type reloadSetting struct {
	keys  []string // the configuration keys it owns: "doors", "devices.admission"
	check func(*config.Config) error
	apply func(*config.Config) // nil: applied by applyConfig itself
}

// reloadable lists what Reload changes in the running daemon.
func (d *Daemon) reloadable() []reloadSetting {
	return []reloadSetting{{
		// The doors change at once; see doors.Service.Reload.
		keys: []string{"doors"},
		check: func(cfg *config.Config) error {
			if d.doors == nil {
				return nil
			}
			return d.doors.CheckReload(cfg.Doors)
		},
		apply: func(cfg *config.Config) {
			if d.doors == nil {
				if len(cfg.Doors) > 0 {
					d.log.Warn("doors configured but mqtt.listen is empty; not reloaded")
				}
				return
			}
			if _, err := d.doors.Reload(cfg.Doors); err != nil {
				// CheckReload passed on the same doors; this is a bug.
				d.log.Error("reload doors after a passed check", "err", err)
			}
		},
	}, {
		keys:  []string{"devices.admission"},
		check: func(*config.Config) error { return nil }, // config.Validate names the values
		apply: func(cfg *config.Config) { d.devices.SetAdmission(cfg.Devices.Admission) },
	}, {
		// Applied before every other setting (applyConfig), as it can fail.
		keys:  []string{"devices.approve", "devices.reject"},
		check: func(*config.Config) error { return nil },
	}, {
		keys:  []string{"orders.payment_ttl"},
		check: func(*config.Config) error { return nil },
		apply: func(cfg *config.Config) { d.orders.SetPaymentTTL(cfg.Orders.PaymentTTL.Duration) },
	}}
}

// changedKeys lists the keys whose values differ between old and now,
// as "section.key" for the fields of a section and "section" otherwise,
// leaving out those owned (a key, or any key under an owned section).
func changedKeys(old, now *config.Config, owned []string) []string {
	var out []string
	isOwned := func(key string) bool {
		return slices.ContainsFunc(owned, func(o string) bool { return key == o || strings.HasPrefix(key, o+".") })
	}
	var walk func(prefix string, a, b reflect.Value, depth int)
	walk = func(prefix string, a, b reflect.Value, depth int) {
		for i := range a.NumField() {
			f := a.Type().Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			key := tag
			if prefix != "" {
				key = prefix + "." + tag
			}
			if isOwned(key) {
				continue
			}
			av, bv := a.Field(i), b.Field(i)
			if reflect.DeepEqual(av.Interface(), bv.Interface()) {
				continue
			}
			if av.Kind() == reflect.Struct && depth == 0 {
				walk(key, av, bv, depth+1)
				continue
			}
			out = append(out, key)
		}
	}
	walk("", reflect.ValueOf(*old), reflect.ValueOf(*now), 0)
	return out
}
