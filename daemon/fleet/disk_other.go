//go:build !unix

package fleet

import (
	"errors"

	"github.com/storebox/storebox/protocol/fleetmsg"
)

// diskHealth is not measured here; disk_low is never raised.
func diskHealth(string) (fleetmsg.DiskHealth, error) {
	return fleetmsg.DiskHealth{}, errors.ErrUnsupported
}
