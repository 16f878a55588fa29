package scalesim

import (
	"errors"
	"os"
)

// openPTY: the simulators need POSIX pseudo-terminals; on Windows use a
// virtual COM port pair (com0com) and a real scale or another host.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, errors.New("scale simulators need a POSIX pseudo-terminal (Linux, macOS)")
}
