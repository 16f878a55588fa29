//go:build windows

package printersim

import "errors"

// ServePTY: Windows has no pseudo-terminals; use a com0com pair or TCP.
func (s *Sim) ServePTY() (path string, stop func(), err error) {
	return "", nil, errors.New("a serial printer simulator needs a pseudo-terminal (Linux); use TCP (--listen) on Windows")
}
