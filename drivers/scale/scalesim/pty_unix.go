//go:build !windows

package scalesim

import (
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// openPTY opens a pty in raw mode. The simulator keeps the slave open
// itself so the master never reads EIO while no driver is attached.
func openPTY() (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("raw pty: %w", err)
	}
	// pty.Open leaves the master in blocking mode (Fd() does that), where
	// deadlines and Close cannot interrupt a Read; reopen it non-blocking so
	// it joins the runtime poller.
	fd, err := syscall.Dup(int(master.Fd()))
	master.Close()
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("pty master: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), slave, nil
}
