//go:build !windows

package printersim

import (
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// ServePTY attaches the printer to a fresh pseudo-terminal, a stand-in for
// a serial port: the driver opens the returned path. stop detaches it.
func (s *Sim) ServePTY() (path string, stop func(), err error) {
	master, slave, err := pty.Open()
	if err != nil {
		return "", nil, fmt.Errorf("open pty: %w", err)
	}
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		master.Close()
		slave.Close()
		return "", nil, fmt.Errorf("raw pty: %w", err)
	}
	// pty.Open leaves the master blocking, where Close cannot interrupt a
	// Read; a non-blocking copy joins the runtime poller.
	fd, err := syscall.Dup(int(master.Fd()))
	master.Close()
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		slave.Close()
		return "", nil, fmt.Errorf("pty master: %w", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	done := make(chan struct{})
	go func() { s.ServeConn(m); close(done) }()
	// The slave stays open here too, so the master never reads EIO while no
	// driver has the port open.
	return slave.Name(), func() { m.Close(); <-done; slave.Close() }, nil
}
