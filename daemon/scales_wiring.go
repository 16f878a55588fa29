package daemon

import (
	"context"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/scales"
	"github.com/storebox/storebox/daemon/supervisor"
	"github.com/storebox/storebox/protocol/devmsg"
)

// scalesComponent runs the serial scale drivers and registers getWeight.
func (d *Daemon) scalesComponent() supervisor.Component {
	return supervisor.Component{
		Name: "scales",
		Start: func(context.Context) error {
			svc, err := scales.New(d.cfg.Scales, d.log.With("component", "scales"))
			if err != nil {
				return err
			}
			d.Scales = svc
			d.Devices.Handle("getWeight", svc.GetWeight)
			return nil
		},
		Serve: func(ctx context.Context) error { return d.Scales.Serve(ctx) },
	}
}

// noScales answers getWeight in a store without serial scales.
func noScales(context.Context, *devices.Session, *devmsg.Request) (any, error) {
	return nil, devmsg.Errorf(devmsg.CodeNotFound, "no serial scales are configured ([[scales]] in the config)")
}
