package scalesim

import (
	"context"
	"os"
	"time"
)

// Echo is a pty that writes back every byte it receives: a console or
// loopback port that must never be taken for a scale.
type Echo struct {
	master, slave *os.File
}

// NewEcho opens the echoing pty.
func NewEcho() (*Echo, error) {
	m, s, err := openPTY()
	if err != nil {
		return nil, err
	}
	return &Echo{master: m, slave: s}, nil
}

// Path is the pty slave path.
func (e *Echo) Path() string { return e.slave.Name() }

// Serve echoes until ctx ends.
func (e *Echo) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { e.master.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 256)
	for {
		n, err := e.master.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := e.master.Write(buf[:n]); err != nil {
			return err
		}
	}
}

// Close closes the pty.
func (e *Echo) Close() error {
	e.slave.Close()
	return e.master.Close()
}
