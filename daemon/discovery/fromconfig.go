package discovery

import (
	"fmt"

	"github.com/storebox/storebox/daemon/config"
)

// ConfigFrom derives the discovery Config from the daemon's configuration:
// discovery.listen and discovery.mdns, the store's id and name, and the
// ports of devices.listen, mqtt.listen and http.listen (0 when a listener
// is disabled). A daemon that bound a listener on port 0 should overwrite
// the port with the bound one. An empty discovery.listen means discovery is
// off: do not create the Service.
func ConfigFrom(c *config.Config, version string) (Config, error) {
	cfg := Config{
		Listen:    c.Discovery.Listen,
		StoreID:   c.StoreID,
		StoreName: c.StoreName,
		Version:   version,
		MDNS:      c.Discovery.MDNS,
	}
	var err error
	if cfg.DevicePort, err = PortOf(c.Devices.Listen); err != nil {
		return Config{}, fmt.Errorf("discovery config: devices.listen: %w", err)
	}
	if cfg.MQTTPort, err = PortOf(c.MQTT.Listen); err != nil {
		return Config{}, fmt.Errorf("discovery config: mqtt.listen: %w", err)
	}
	if cfg.HTTPPort, err = PortOf(c.HTTP.Listen); err != nil {
		return Config{}, fmt.Errorf("discovery config: http.listen: %w", err)
	}
	return cfg, nil
}
