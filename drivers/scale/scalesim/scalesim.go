// Package scalesim simulates serial scales on pseudo-terminals for tests and
// demos: each simulator speaks one protocol's exact frames on a pty whose
// slave path a driver opens like a real port. Faults can be injected
// (garbage, split frames, bad BCC, silence) and the "device" can be
// unplugged and plugged back, optionally behind a stable symlink that is
// swapped atomically, as udev does for /dev/serial/by-id.
package scalesim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/storebox/storebox/protocol/scaleproto"
)

// Options tune a simulator; zero values are sensible.
type Options struct {
	// Interval between frames of a streaming protocol (CAS continuous).
	Interval time.Duration
	// Short makes CAS continuous send the 18-byte frame.
	Short bool
	// Baud, when set, paces every byte as a real line would (10 bits a byte).
	Baud int
}

// Sim is one simulated scale.
type Sim struct {
	proto scaleproto.Protocol
	opts  Options

	mu        sync.Mutex
	gross     int64
	zero      int64
	tare      int64
	motion    bool
	overload  bool
	underload bool
	net       bool
	silent    bool
	badBCC    bool
	garbage   []byte
	pieces    int
	pause     time.Duration
	lastAdam  *int64
	requests  int
	frames    int
	master    *os.File
	slave     *os.File
	ptyPath   string
	link      string
	plugged   chan struct{} // closed and replaced on every plug
	writeMu   sync.Mutex
	listeners []func([]byte, time.Time)
}

// New creates a simulator for protocol p on a fresh pty.
func New(p scaleproto.Protocol, opts Options) (*Sim, error) {
	if _, err := scaleproto.NewScanner(p); err != nil {
		return nil, fmt.Errorf("scalesim: %w", err)
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	s := &Sim{proto: p, opts: opts, plugged: make(chan struct{})}
	if err := s.Plug(); err != nil {
		return nil, err
	}
	return s, nil
}

// Plug creates a new pty (a new "USB enumeration") and points the link at
// it. It is a no-op when already plugged.
func (s *Sim) Plug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.master != nil {
		return nil
	}
	m, sl, err := openPTY()
	if err != nil {
		return err
	}
	s.master, s.slave, s.ptyPath = m, sl, sl.Name()
	if s.link != "" {
		if err := swapLink(s.ptyPath, s.link); err != nil {
			return err
		}
	}
	close(s.plugged)
	s.plugged = make(chan struct{})
	return nil
}

// Unplug closes the pty, as pulling the USB cable does: the driver's handle
// dies and the stable link disappears until Plug.
func (s *Sim) Unplug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unplugLocked()
}

func (s *Sim) unplugLocked() error {
	if s.master == nil {
		return nil
	}
	if s.link != "" {
		if err := os.Remove(s.link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove link: %w", err)
		}
	}
	err := errors.Join(s.master.Close(), s.slave.Close())
	s.master, s.slave, s.ptyPath = nil, nil, ""
	return err
}

// Close unplugs for good.
func (s *Sim) Close() error { return s.Unplug() }

// Link keeps a symlink at path pointing to the current pty, replaced
// atomically (rename) on every Plug.
func (s *Sim) Link(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link = path
	if s.master == nil {
		return nil
	}
	return swapLink(s.ptyPath, path)
}

func swapLink(target, link string) error {
	tmp := filepath.Join(filepath.Dir(link), fmt.Sprintf(".%s.%d.tmp", filepath.Base(link), time.Now().UnixNano()))
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}

// Path is the stable link when one is set, else the current pty path.
func (s *Sim) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link != "" {
		return s.link
	}
	return s.ptyPath
}

// PTY is the current pty slave path ("" while unplugged).
func (s *Sim) PTY() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ptyPath
}

// Setters for what the scale shows.

// SetWeight sets the gross load in grams (negative for below zero).
func (s *Sim) SetWeight(g int64) { s.mu.Lock(); s.gross = g; s.mu.Unlock() }

// SetMotion makes the scale report an unsettled weight.
func (s *Sim) SetMotion(on bool) { s.mu.Lock(); s.motion = on; s.mu.Unlock() }

// SetOverload and SetUnderload put the scale out of range.
func (s *Sim) SetOverload(on bool)  { s.mu.Lock(); s.overload = on; s.mu.Unlock() }
func (s *Sim) SetUnderload(on bool) { s.mu.Lock(); s.underload = on; s.mu.Unlock() }

// SetNet marks weights as net even without a tare.
func (s *Sim) SetNet(on bool) { s.mu.Lock(); s.net = on; s.mu.Unlock() }

// SetSilent stops all answers and frames (a scale switched off behind a
// live USB adapter).
func (s *Sim) SetSilent(on bool) { s.mu.Lock(); s.silent = on; s.mu.Unlock() }

// SetBadBCC corrupts the check byte of CAS ENQ/DC1 frames.
func (s *Sim) SetBadBCC(on bool) { s.mu.Lock(); s.badBCC = on; s.mu.Unlock() }

// InjectGarbage sends b before the next frame.
func (s *Sim) InjectGarbage(b []byte) {
	s.mu.Lock()
	s.garbage = append(s.garbage, b...)
	s.mu.Unlock()
}

// SetSplit writes each frame in pieces with a pause between them (pieces
// <= 1 turns splitting off).
func (s *Sim) SetSplit(pieces int, pause time.Duration) {
	s.mu.Lock()
	s.pieces, s.pause = pieces, pause
	s.mu.Unlock()
}

// Requests is how many weigh requests the scale has answered or ignored.
func (s *Sim) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Frames is how many weight frames the scale has sent.
func (s *Sim) Frames() int { s.mu.Lock(); defer s.mu.Unlock(); return s.frames }

// OnFrame registers f to be called with each weight frame just before its
// last byte is written, with the time of that write (latency measurement).
func (s *Sim) OnFrame(f func(frame []byte, at time.Time)) {
	s.mu.Lock()
	s.listeners = append(s.listeners, f)
	s.mu.Unlock()
}

// reading is what the display shows now; call with mu held.
func (s *Sim) readingLocked() scaleproto.Reading {
	g := s.gross - s.zero - s.tare
	return scaleproto.Reading{
		Grams:     g,
		Stable:    !s.motion,
		Overload:  s.overload,
		Underload: s.underload,
		Negative:  g < 0,
		Net:       s.net || s.tare != 0,
	}
}

// Serve answers requests (or streams frames) until ctx ends, surviving
// unplug/plug cycles.
func (s *Sim) Serve(ctx context.Context) error {
	for {
		s.mu.Lock()
		m, plugged := s.master, s.plugged
		s.mu.Unlock()
		if m == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-plugged:
				continue
			}
		}
		s.session(ctx, m)
		if ctx.Err() != nil {
			return nil
		}
		// The pty was unplugged (or failed): wait for the next plug.
		s.mu.Lock()
		if s.master == m {
			s.unplugLocked()
		}
		s.mu.Unlock()
	}
}

func (s *Sim) session(ctx context.Context, m *os.File) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sctx, func() { m.SetReadDeadline(time.Now()) })
	defer stop()
	if !scaleproto.Polled(s.proto) {
		go s.stream(sctx, m)
	}
	buf := make([]byte, 256)
	var in []byte
	echo := false
	for {
		n, err := m.Read(buf)
		if err != nil {
			return
		}
		in = append(in, buf[:n]...)
		in = s.handle(sctx, m, in, &echo)
	}
}

func (s *Sim) stream(ctx context.Context, m *os.File) {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		r, silent := s.readingLocked(), s.silent
		s.mu.Unlock()
		if silent {
			continue
		}
		if s.sendFrame(ctx, m, scaleproto.EncodeCAS(r, s.opts.Short)) != nil {
			return
		}
	}
}

// handle consumes complete requests from in and answers them; it returns
// the unconsumed rest.
func (s *Sim) handle(ctx context.Context, m *os.File, in []byte, echo *bool) []byte {
	s.mu.Lock()
	silent := s.silent
	s.mu.Unlock()
	switch s.proto {
	case scaleproto.Toledo8217, scaleproto.CASPD2:
		for _, c := range in {
			if silent {
				continue
			}
			if *echo {
				if c == 'F' {
					*echo = false
				} else {
					s.send(ctx, m, []byte{c}, nil)
				}
				continue
			}
			s.toledoCommand(ctx, m, c, echo)
		}
		return nil
	case scaleproto.CASENQ:
		for _, c := range in {
			if silent {
				continue
			}
			switch c {
			case scaleproto.ENQ:
				s.send(ctx, m, []byte{scaleproto.ACK}, nil)
			case scaleproto.DC1:
				s.mu.Lock()
				s.requests++
				f := scaleproto.EncodeENQ(s.readingLocked())
				if s.badBCC {
					f[len(f)-3] ^= 0x5a
				}
				s.mu.Unlock()
				s.sendFrame(ctx, m, f)
			default:
				s.send(ctx, m, []byte{scaleproto.NAK}, nil)
			}
		}
		return nil
	case scaleproto.MTSICS, scaleproto.AdamAZ:
		for {
			i := bytes.IndexByte(in, '\n')
			if i < 0 {
				return in
			}
			line := string(bytes.TrimSpace(in[:i]))
			in = in[i+1:]
			if !silent {
				s.lineCommand(ctx, m, line)
			}
		}
	}
	return nil
}

func (s *Sim) toledoCommand(ctx context.Context, m *os.File, c byte, echo *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proto == scaleproto.CASPD2 {
		if c == 'W' {
			s.requests++
			f := scaleproto.EncodePD2(s.readingLocked())
			s.mu.Unlock()
			s.sendFrame(ctx, m, f)
			s.mu.Lock()
		}
		return
	}
	var out []byte
	frame := false
	switch c {
	case 'W':
		s.requests++
		out, frame = scaleproto.EncodeToledo(s.readingLocked()), true
	case 'Z':
		s.zero, s.tare = s.gross, 0
	case 'T':
		s.tare = s.gross - s.zero
	case 'C':
		s.tare = 0
	case 'E':
		*echo = true
		out = []byte{scaleproto.STX, 'E', '\r'}
	case '\r', '\n':
	default:
		out = []byte{scaleproto.STX, '?', 0x40 | 0x80, '\r'} // bad command (with parity)
	}
	s.mu.Unlock()
	if frame {
		s.sendFrame(ctx, m, out)
	} else if out != nil {
		s.send(ctx, m, out, nil)
	}
	s.mu.Lock()
}

func (s *Sim) lineCommand(ctx context.Context, m *os.File, line string) {
	s.mu.Lock()
	var out string
	frame := false
	if s.proto == scaleproto.AdamAZ {
		switch line {
		case "P":
			s.requests++
			r := s.readingLocked()
			if s.lastAdam == nil || *s.lastAdam != r.Grams {
				g := r.Grams
				s.lastAdam = &g
				out, frame = string(scaleproto.EncodeAdam(r)), true
			}
		case "Z":
			s.zero, s.tare = s.gross, 0
		case "T":
			s.tare = s.gross - s.zero
		}
		s.mu.Unlock()
		if frame {
			s.sendFrame(ctx, m, []byte(out))
		}
		return
	}
	switch line {
	case "S", "SI":
		s.requests++
		r := s.readingLocked()
		if line == "S" && !r.Stable {
			r.NoValue = true // S waits for stability; answer busy
		}
		out, frame = string(scaleproto.EncodeSICS(r)), true
	case "Z":
		if s.motion {
			out = "Z I\r\n"
		} else {
			s.zero, s.tare = s.gross, 0
			out = "Z A\r\n"
		}
	case "T":
		s.tare = s.gross - s.zero
		out = fmt.Sprintf("T S %10s kg\r\n", kg(s.tare))
	case "TAC":
		s.tare = 0
		out = "TAC A\r\n"
	case "@", "I4":
		out = "I4 A \"B021002593\"\r\n"
	case "":
	default:
		out = "ES\r\n"
	}
	s.mu.Unlock()
	if frame {
		s.sendFrame(ctx, m, []byte(out))
	} else if out != "" {
		s.send(ctx, m, []byte(out), nil)
	}
}

func kg(g int64) string {
	sign := ""
	if g < 0 {
		sign, g = "-", -g
	}
	return fmt.Sprintf("%s%d.%03d", sign, g/1000, g%1000)
}

// sendFrame writes pending garbage then frame, split as configured, and
// tells listeners.
func (s *Sim) sendFrame(ctx context.Context, m *os.File, frame []byte) error {
	s.mu.Lock()
	garbage := s.garbage
	s.garbage = nil
	pieces, pause := s.pieces, s.pause
	s.frames++
	ls := s.listeners
	s.mu.Unlock()
	if len(garbage) > 0 {
		if err := s.send(ctx, m, garbage, nil); err != nil {
			return err
		}
	}
	last := func() {
		at := time.Now()
		for _, f := range ls {
			f(frame, at)
		}
	}
	if pieces > 1 && len(frame) > 1 {
		size := (len(frame) + pieces - 1) / pieces
		for off := 0; off < len(frame); off += size {
			if off > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(pause):
				}
			}
			end := min(off+size, len(frame))
			var hook func()
			if end == len(frame) {
				hook = last
			}
			if err := s.send(ctx, m, frame[off:end], hook); err != nil {
				return err
			}
		}
		return nil
	}
	return s.send(ctx, m, frame, last)
}

// send writes b, paced at the configured baud rate. A full pty (nobody
// reading) drops the bytes after a while instead of blocking forever.
// onLast, when set, runs just before the final byte is written.
func (s *Sim) send(ctx context.Context, m *os.File, b []byte, onLast func()) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	write := func(p []byte) error {
		m.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := m.Write(p)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		return err
	}
	if s.opts.Baud <= 0 {
		if onLast != nil {
			onLast()
		}
		return write(b)
	}
	charTime := time.Duration(10 * float64(time.Second) / float64(s.opts.Baud))
	next := time.Now()
	for i := range b {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		if i == len(b)-1 && onLast != nil {
			onLast()
		}
		if err := write(b[i : i+1]); err != nil {
			return err
		}
		next = next.Add(charTime)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
