//go:build !windows

package doctor

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a bind failed because the port is taken.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
