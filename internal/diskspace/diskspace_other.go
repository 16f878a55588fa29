//go:build !unix && !windows

package diskspace

import (
	"errors"
	"fmt"
)

// Of is not implemented on this platform.
func Of(dir string) (Space, error) {
	return Space{}, fmt.Errorf("disk space of %s: %w", dir, errors.ErrUnsupported)
}
