package fleet

import (
	"github.com/storebox/storebox/internal/diskspace"
	"github.com/storebox/storebox/protocol/fleetmsg"
)

// diskHealth is the space left to the daemon on dir's file system.
func diskHealth(dir string) (fleetmsg.DiskHealth, error) {
	s, err := diskspace.Of(dir)
	if err != nil {
		return fleetmsg.DiskHealth{}, err
	}
	return fleetmsg.DiskHealth{FreeBytes: s.Free, FreeRatio: s.FreeRatio()}, nil
}
