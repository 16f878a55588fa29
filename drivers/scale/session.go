package scale

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.bug.st/serial"

	"github.com/storebox/storebox/protocol/scaleproto"
)

// session is one open port.
type session struct {
	s     *Scale
	port  serial.Port
	proto scaleproto.Protocol
	ident os.FileInfo
	poll  time.Duration

	sc       *scaleproto.Scanner
	awaiting bool      // a weigh request is out
	lastRx   time.Time // last decoded frame (streaming)
	lastByte time.Time // last byte of any kind
	waited   bool      // the previous tick let a half-received answer finish
	missed   int
	naks     int
	served   bool
	pending  *cmdReq // a command waiting for the scale's ack
	pendCmd  string
	pendWait time.Time
}

type chunk struct {
	b   []byte
	err error
}

func (ss *session) run(ctx context.Context) (bool, error) {
	sc, err := scaleproto.NewScanner(ss.proto)
	if err != nil {
		ss.port.Close()
		return false, err
	}
	ss.sc = sc
	done := make(chan struct{})
	rx := make(chan chunk)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 512)
		for {
			n, err := ss.port.Read(buf)
			var c chunk
			if n > 0 {
				c.b = append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				c.err = err
			}
			if c.b == nil && c.err == nil {
				continue
			}
			select {
			case rx <- c:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// Never leak the handle: close it on every way out, after telling the
	// reader to stop (serial's Close waits for a blocked Read to return).
	defer func() {
		close(done)
		ss.port.Close()
		<-readerDone
		if ss.pending != nil {
			ss.pending.done <- errors.New("port closed")
		}
	}()

	tick := time.NewTicker(ss.poll)
	defer tick.Stop()
	ss.lastRx = time.Now()
	if scaleproto.Polled(ss.proto) {
		if err := ss.request(); err != nil {
			return false, err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ss.served, nil
		case c := <-rx:
			if len(c.b) > 0 {
				ss.lastByte = time.Now()
				ss.sc.Write(c.b)
				if err := ss.drain(); err != nil {
					return ss.served, err
				}
			}
			if c.err != nil {
				return ss.served, fmt.Errorf("read %s: %w", ss.s.cfg.Port, c.err)
			}
		case req := <-ss.s.cmds:
			if err := ss.command(req); err != nil {
				return ss.served, err
			}
		case now := <-tick.C:
			if ss.pending != nil && now.After(ss.pendWait) {
				ss.pending.done <- errors.New("no acknowledgement from the scale")
				ss.pending = nil
			}
			if err := ss.onTick(now); err != nil {
				return ss.served, err
			}
		}
	}
}

// onTick counts a missed answer and sends the next request.
func (ss *session) onTick(now time.Time) error {
	// An answer still arriving (slow line, loaded host) gets one more
	// period instead of being cut off and asked for again.
	if ss.sc.Pending() > 0 && now.Sub(ss.lastByte) < ss.poll && !ss.waited {
		ss.waited = true
		return nil
	}
	ss.waited = false
	missed := false
	if scaleproto.Polled(ss.proto) {
		// Adam prints nothing when the weight has not changed, so its
		// silence is no miss once it has answered.
		missed = ss.awaiting && !(ss.proto == scaleproto.AdamAZ && ss.served)
	} else {
		missed = now.Sub(ss.lastRx) >= ss.poll
		if missed {
			ss.lastRx = now
		}
	}
	if missed {
		ss.missed++
		ss.s.count(func(c *Counters) { c.Missed++ })
		if n := ss.sc.Reset(); n > 0 && scaleproto.Polled(ss.proto) {
			// The answer stopped mid-frame.
			ss.s.count(func(c *Counters) { c.Partial++ })
		}
		if ss.missed >= StaleAfter {
			ss.s.setState(Stale, nil)
			if !samePort(ss.s.cfg.Port, ss.ident) {
				return fmt.Errorf("port %s now points to another device", ss.s.cfg.Port)
			}
		}
	}
	if scaleproto.Polled(ss.proto) {
		return ss.request()
	}
	return nil
}

func (ss *session) request() error {
	b, err := scaleproto.Request(ss.proto, scaleproto.CmdWeigh)
	if err != nil {
		return err
	}
	ss.awaiting = true
	ss.naks = 0
	return ss.write(b)
}

func (ss *session) write(b []byte) error {
	if _, err := ss.port.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", ss.s.cfg.Port, err)
	}
	return nil
}

// drain decodes every complete message in the scanner.
func (ss *session) drain() error {
	for {
		m, ok, err := ss.sc.Next()
		if !ok {
			return nil
		}
		if err != nil {
			ss.s.count(func(c *Counters) {
				switch {
				case errors.Is(err, scaleproto.ErrChecksum):
					c.Checksum++
				case errors.Is(err, scaleproto.ErrPartial):
					c.Partial++
				default:
					c.Garbage++
				}
			})
			ss.s.log.Debug("scale frame dropped", "err", err)
			continue
		}
		ss.s.count(func(c *Counters) { c.Frames++ })
		if err := ss.handle(m); err != nil {
			return err
		}
	}
}

func (ss *session) handle(m scaleproto.Msg) error {
	switch m.Kind {
	case scaleproto.KindWeight:
		ss.awaiting = false
		ss.missed = 0
		ss.served = true
		ss.lastRx = time.Now()
		s := ss.s
		s.mu.Lock()
		s.last, s.have = m.Reading, true
		if s.state != Connected {
			s.log.Info("scale state", "from", s.state, "to", Connected)
			s.state = Connected
		}
		s.publishLocked()
		s.mu.Unlock()
		return nil
	case scaleproto.KindAck:
		if ss.proto == scaleproto.CASENQ && m.Cmd == "ENQ" {
			return ss.write([]byte{scaleproto.DC1})
		}
		ss.ack(m.Cmd, nil)
	case scaleproto.KindNak:
		if ss.proto == scaleproto.CASENQ && m.Cmd == "ENQ" {
			// The scale was not ready: ask again, a few times per poll.
			if ss.naks++; ss.naks <= 3 {
				return ss.write([]byte{scaleproto.ENQ})
			}
			return nil
		}
		if m.Cmd == "S" {
			return nil // busy; the next poll asks again
		}
		ss.ack(m.Cmd, fmt.Errorf("refused: %s", m.Text))
	case scaleproto.KindError:
		ss.ack("", fmt.Errorf("scale error %s", m.Text))
	}
	return nil
}

func (ss *session) ack(cmd string, err error) {
	if ss.pending == nil || (cmd != "" && cmd != ss.pendCmd) {
		return
	}
	ss.pending.done <- err
	ss.pending = nil
}

// command writes a zero/tare request. Protocols that acknowledge (MT-SICS)
// complete it on the answer; the others once it is written.
func (ss *session) command(req cmdReq) error {
	b, err := scaleproto.Request(ss.proto, req.cmd)
	if err != nil {
		req.done <- err
		return nil
	}
	if ss.pending != nil {
		req.done <- errors.New("another command is in progress")
		return nil
	}
	if err := ss.write(b); err != nil {
		req.done <- err
		return err
	}
	if ss.proto == scaleproto.MTSICS {
		ss.pending = &req
		ss.pendCmd = map[scaleproto.Command]string{scaleproto.CmdZero: "Z", scaleproto.CmdTare: "T", scaleproto.CmdClearTare: "TAC"}[req.cmd]
		ss.pendWait = time.Now().Add(2 * time.Second)
		return nil
	}
	req.done <- nil
	return nil
}
