package daemon

import (
	"context"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/protocol/devmsg"
)

// noScales answers getWeight in a store without serial scales.
func noScales(context.Context, *devices.Session, *devmsg.Request) (any, error) {
	return nil, devmsg.Errorf(devmsg.CodeNotFound, "no serial scales are configured ([[scales]] in the config)")
}
