// Package doorsetup fills a door simulator's settings from the store's
// config: the broker, the store id and the door's secret, from the doors
// the daemon runs (the applied remote document's over the file's).
package doorsetup

import (
	"fmt"
	"strings"

	"github.com/storebox/storebox/cmd/storebox/internal/localapi"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/daemon/fleet"
	"github.com/storebox/storebox/daemon/readyfile"
)

// Fill sets what the flags did not (changed reports a flag given): the
// store id, the broker the daemon listens on, and the door's secret.
func Fill(cfg *doorsim.Config, sc *config.Config, changed func(string) bool) error {
	if !changed("store") {
		cfg.StoreID = sc.StoreID
	}
	if !changed("broker") {
		if sc.MQTT.Listen == "" {
			return fmt.Errorf("mqtt.listen is off in %s: the daemon runs no plain MQTT listener (give --broker)", configName(sc))
		}
		cfg.Broker = localapi.DialAddr(localapi.BoundListen(sc, sc.MQTT.Listen, func(f readyfile.File) string { return f.MQTT }))
	}
	if !changed("secret") {
		secret, err := doorSecret(fleet.Running(sc), cfg.DoorID)
		if err != nil {
			return err
		}
		cfg.Secret = secret
	}
	return nil
}

// doorSecret finds a door's plain secret in the running configuration.
func doorSecret(c *config.Config, id string) (string, error) {
	var ids []string
	for _, d := range c.Doors {
		if d.ID != id {
			ids = append(ids, d.ID)
			continue
		}
		if strings.HasPrefix(d.Secret, "$2") {
			return "", fmt.Errorf("door %s: %s holds only a bcrypt hash of its secret; give the secret with --secret", id, configName(c))
		}
		return d.Secret, nil
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("no door %q: %s has no [[doors]] (add one, see packaging/demo.toml, or give --secret, --store and --broker)", id, configName(c))
	}
	return "", fmt.Errorf("no door %q in %s (configured: %s)", id, configName(c), strings.Join(ids, ", "))
}

// configName names where a configuration came from, for messages: the
// file, and the applied remote document when one is laid over it.
func configName(c *config.Config) string {
	name := c.Path
	if name == "" {
		name = "the embedded default config"
	}
	if !fleet.RemoteEnabled(c) {
		return name
	}
	if v, _, err := fleet.ReadStored(c.DataDir); err == nil {
		name += fmt.Sprintf(" with the applied remote configuration version %d", v)
	}
	return name
}
