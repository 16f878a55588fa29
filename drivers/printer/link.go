package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.bug.st/serial"
)

// Link is an open connection to one printer.
type Link interface {
	// Write sends all of p, or fails.
	Write(p []byte) (int, error)
	// Query sends DLE EOT n and returns the printer's status byte, or
	// ErrNoStatus when the link cannot carry an answer back.
	Query(n byte) (byte, error)
	Close() error
}

// ErrNoStatus: the link is one-way (a plain file, a write-only device).
var ErrNoStatus = errors.New("the link does not answer status queries")

// Timeouts of a link.
type Timeouts struct {
	Dial  time.Duration // connect; default 5s
	Write time.Duration // one job's bytes; default 30s
	Query time.Duration // one status byte; default 2s
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Dial <= 0 {
		t.Dial = 5 * time.Second
	}
	if t.Write <= 0 {
		t.Write = 30 * time.Second
	}
	if t.Query <= 0 {
		t.Query = 2 * time.Second
	}
	return t
}

// Open connects to the printer named by connect: tcp://HOST:PORT,
// serial:PATH@BAUD, spooler:NAME (Windows), or a device or file path.
func Open(ctx context.Context, connect string, to Timeouts) (Link, error) {
	to = to.withDefaults()
	switch {
	case strings.HasPrefix(connect, "tcp://"):
		d := net.Dialer{Timeout: to.Dial}
		c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(connect, "tcp://"))
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", connect, err)
		}
		return &connLink{c: c, to: to}, nil
	case strings.HasPrefix(connect, "serial:"):
		path, baudS, _ := strings.Cut(strings.TrimPrefix(connect, "serial:"), "@")
		baud, err := strconv.Atoi(baudS)
		if err != nil || path == "" {
			return nil, fmt.Errorf("connect %s: not serial:PATH@BAUD", connect)
		}
		p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", connect, err)
		}
		return &serialLink{p: p, to: to}, nil
	case strings.HasPrefix(connect, "spooler:"):
		return openSpooler(strings.TrimPrefix(connect, "spooler:"))
	default:
		return openFile(connect, to)
	}
}

// connLink is a TCP printer.
type connLink struct {
	c  net.Conn
	to Timeouts
}

func (l *connLink) Write(p []byte) (int, error) {
	l.c.SetWriteDeadline(time.Now().Add(l.to.Write))
	return l.c.Write(p)
}

func (l *connLink) Query(n byte) (byte, error) {
	l.c.SetDeadline(time.Now().Add(l.to.Query))
	defer l.c.SetDeadline(time.Time{})
	return query(l.c, n)
}

func (l *connLink) Close() error { return l.c.Close() }

// query sends DLE EOT n on rw and reads the answer, skipping bytes that
// cannot be one (automatic status back, noise) until the deadline.
func query(rw io.ReadWriter, n byte) (byte, error) {
	if _, err := rw.Write(StatusQuery(n)); err != nil {
		return 0, fmt.Errorf("status query %d: %w", n, err)
	}
	var b [1]byte
	for {
		if _, err := io.ReadFull(rw, b[:]); err != nil {
			return 0, fmt.Errorf("status query %d: no answer: %w", n, err)
		}
		if validStatus(b[0]) {
			return b[0], nil
		}
	}
}

// serialLink is a printer on a serial port.
type serialLink struct {
	p  serial.Port
	to Timeouts
}

func (l *serialLink) Write(p []byte) (int, error) { return l.p.Write(p) }

func (l *serialLink) Query(n byte) (byte, error) {
	if _, err := l.p.Write(StatusQuery(n)); err != nil {
		return 0, fmt.Errorf("status query %d: %w", n, err)
	}
	deadline := time.Now().Add(l.to.Query)
	var b [1]byte
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, fmt.Errorf("status query %d: no answer in %s: %w", n, l.to.Query, os.ErrDeadlineExceeded)
		}
		if err := l.p.SetReadTimeout(left); err != nil {
			return 0, fmt.Errorf("status query %d: %w", n, err)
		}
		k, err := l.p.Read(b[:])
		if err != nil {
			return 0, fmt.Errorf("status query %d: %w", n, err)
		}
		if k == 1 && validStatus(b[0]) {
			return b[0], nil
		}
	}
}

func (l *serialLink) Close() error { return l.p.Close() }

// fileLink is a USB printer-class device (/dev/usb/lp0) or a plain file.
// usblp answers status reads from bidirectional printers; a plain file or a
// write-only device does not.
type fileLink struct {
	f        *os.File
	to       Timeouts
	readable bool
}

func openFile(path string, to Timeouts) (Link, error) {
	if !filepath.IsAbs(path) && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, `\\`) {
		return nil, fmt.Errorf("connect %q: use tcp://HOST:PORT, serial:PATH@BAUD or a device path", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (unplugged?)", path, err)
	}
	readable := st.Mode()&os.ModeCharDevice != 0
	flag := os.O_WRONLY | os.O_APPEND
	if readable {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil && readable { // a device we may only write to
		readable = false
		f, err = os.OpenFile(path, os.O_WRONLY, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &fileLink{f: f, to: to, readable: readable}, nil
}

func (l *fileLink) Write(p []byte) (int, error) {
	if l.f.SetWriteDeadline(time.Now().Add(l.to.Write)) == nil {
		defer l.f.SetWriteDeadline(time.Time{})
	}
	return l.f.Write(p)
}

func (l *fileLink) Query(n byte) (byte, error) {
	if !l.readable {
		return 0, ErrNoStatus
	}
	if err := l.f.SetReadDeadline(time.Now().Add(l.to.Query)); err != nil {
		return 0, ErrNoStatus // not pollable: cannot wait for an answer
	}
	defer l.f.SetReadDeadline(time.Time{})
	return query(l.f, n)
}

func (l *fileLink) Close() error { return l.f.Close() }

// statusLink is a link whose printer's status comes from elsewhere than
// DLE EOT (the Windows spooler's view of the printer).
type statusLink interface{ status() (Status, error) }

// ReadStatus asks DLE EOT 1, 2 and 4 (a spooler link asks its spooler).
// ErrNoStatus means the link is one-way; an error matching
// os.ErrDeadlineExceeded that the printer is connected but did not answer;
// any other that the link broke.
func ReadStatus(l Link) (Status, error) {
	if s, ok := l.(statusLink); ok {
		return s.status()
	}
	var b [3]byte
	for i, n := range []byte{1, 2, 4} {
		v, err := l.Query(n)
		if err != nil {
			return Status{}, err
		}
		b[i] = v
	}
	return ParseStatus(b[0], b[1], b[2])
}
