package daemon

import (
	"log/slog"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/doors"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/scales"
)

// CheckConfig runs the checks of the parts New builds from cfg (doors and
// the broker's TLS files, the payment provider, the scales' lines) without
// opening, binding or starting anything. `storebox config check` and New
// both call it, so anything `run` refuses from the file `config check`
// refuses first, and as a config error (exit 78, no restart loop).
// config.Validate catches all of it with the file's line
// (FuzzConfigCheckAgreesWithParts); this is the net under it.
func CheckConfig(cfg *config.Config) error {
	fail := func(err error) error { return config.Errors{{File: cfg.Path, Msg: err.Error()}} }
	quiet := slog.New(slog.DiscardHandler)
	if cfg.MQTT.Listen != "" || cfg.MQTT.TLSListen != "" {
		if err := doors.CheckConfig(cfg.StoreID, cfg.MQTT, cfg.Doors); err != nil {
			return fail(err)
		}
	}
	if _, err := payments.FromConfig(cfg, payPageBase(cfg.HTTP.Listen), quiet); err != nil {
		return fail(err)
	}
	if _, err := scales.New(cfg.Scales, quiet); err != nil {
		return fail(err)
	}
	return nil
}
