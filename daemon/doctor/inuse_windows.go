package doctor

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// addrInUse reports whether a bind failed because the port is taken
// (WSAEADDRINUSE, or WSAEACCES: held with SO_EXCLUSIVEADDRUSE).
func addrInUse(err error) bool {
	return errors.Is(err, windows.WSAEADDRINUSE) || errors.Is(err, windows.WSAEACCES) || errors.Is(err, syscall.EADDRINUSE)
}
