package scale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.bug.st/serial"

	"github.com/storebox/storebox/protocol/scaleproto"
)

// ProbeOptions narrow what Probe tries; zero values try everything.
type ProbeOptions struct {
	Protocols []scaleproto.Protocol // default scaleproto.Protocols
	Bauds     []int                 // tried after each protocol's default; default 9600, 4800, 19200, 2400
	Timeout   time.Duration         // per attempt; default 400ms (1.5s listening to a streaming scale)
	All       bool                  // keep trying after the first protocol that answers
}

// ProbeResult is one protocol a port answered in its own way.
type ProbeResult struct {
	Protocol scaleproto.Protocol
	Line     Line
	Ident    string              // serial number (MT-SICS) or what identified it
	Reading  *scaleproto.Reading // a weight read during the probe, when there was one
}

// Probe tries protocols and baud rates on port and returns those that the
// device answered with that protocol's own identifying reply. A write that
// merely did not time out identifies nothing; an echoing port identifies
// nothing.
func Probe(ctx context.Context, port string, opts ProbeOptions) ([]ProbeResult, error) {
	protos := opts.Protocols
	if len(protos) == 0 {
		protos = scaleproto.Protocols
	}
	bauds := opts.Bauds
	if len(bauds) == 0 {
		bauds = []int{9600, 4800, 19200, 2400}
	}
	var out []ProbeResult
	opened := false
	var lastErr error
	for _, p := range protos {
		lines := []Line{DefaultLine(p)}
		for _, b := range bauds {
			if b != lines[0].Baud {
				l := lines[0]
				l.Baud = b
				lines = append(lines, l)
			}
		}
		for _, l := range lines {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			res, err := probeOne(ctx, port, p, l, opts.Timeout)
			if err != nil {
				lastErr = err
				continue
			}
			opened = true
			if res != nil {
				out = append(out, *res)
				break
			}
		}
		if len(out) > 0 && !opts.All {
			break
		}
	}
	if !opened && lastErr != nil {
		return nil, fmt.Errorf("probe: %w", lastErr)
	}
	return out, nil
}

// probeOne opens port with line and runs protocol p's identification. A nil
// result with a nil error means the device did not answer as p.
func probeOne(ctx context.Context, path string, p scaleproto.Protocol, l Line, timeout time.Duration) (*ProbeResult, error) {
	if timeout <= 0 {
		timeout = 400 * time.Millisecond
		if p == scaleproto.CASContinuous {
			timeout = 1500 * time.Millisecond
		}
	}
	port, _, err := openPort(path, l)
	if err != nil {
		return nil, err
	}
	defer port.Close()
	c := &probeConn{port: port, deadline: time.Now().Add(timeout), ctx: ctx}
	res := &ProbeResult{Protocol: p, Line: l}
	switch p {
	case scaleproto.Toledo8217:
		if err := c.write(scaleproto.ToledoProbeRequest); err != nil {
			return nil, err
		}
		// Late answers to earlier probes may come first; the echo reply
		// must appear whole (an echoing port sends "Ehello", never STX E CR).
		want := scaleproto.ToledoProbeReply
		var got []byte
		for !bytes.Contains(got, want) {
			b, err := c.read()
			if err != nil {
				break
			}
			got = append(got, b...)
		}
		_ = c.write(scaleproto.ToledoProbeEnd)
		if !bytes.Contains(got, want) {
			return nil, nil
		}
		res.Ident = "echo"
		// A weight is a bonus, not a condition: the echo identified it.
		time.Sleep(20 * time.Millisecond)
		_ = port.ResetInputBuffer()
		c.deadline = time.Now().Add(timeout)
		if c.write([]byte("W")) == nil {
			if m, ok := c.expect(p, scaleproto.KindWeight); ok {
				res.Reading = &m.Reading
			}
		}
		return res, nil
	case scaleproto.MTSICS:
		if err := c.write(scaleproto.MTSICSProbeRequest); err != nil {
			return nil, err
		}
		// Junk left in the scale's line buffer by earlier probes draws an
		// error line first; wait for the identification itself.
		for {
			m, ok := c.readMsg(p)
			if !ok {
				return nil, nil
			}
			if m.Kind == scaleproto.KindIdent {
				res.Ident = m.Text
				c.deadline = time.Now().Add(timeout)
				req, _ := scaleproto.Request(p, scaleproto.CmdWeigh)
				if c.write(req) == nil {
					if m, ok := c.expect(p, scaleproto.KindWeight); ok {
						res.Reading = &m.Reading
					}
				}
				return res, nil
			}
		}
	case scaleproto.CASContinuous:
		m, ok := c.expect(p, scaleproto.KindWeight)
		if !ok {
			return nil, nil
		}
		res.Reading = &m.Reading
		return res, nil
	case scaleproto.CASENQ:
		if err := c.write([]byte{scaleproto.ENQ}); err != nil {
			return nil, err
		}
		for acked := false; !acked; {
			m, ok := c.readMsg(p)
			if !ok {
				return nil, nil
			}
			switch m.Kind {
			case scaleproto.KindAck:
				acked = true
			case scaleproto.KindNak: // not ready (or a late answer to junk): ask again
				if err := c.write([]byte{scaleproto.ENQ}); err != nil {
					return nil, err
				}
			}
		}
		if err := c.write([]byte{scaleproto.DC1}); err != nil {
			return nil, err
		}
		m, ok := c.expect(p, scaleproto.KindWeight)
		if !ok {
			return nil, nil
		}
		res.Reading = &m.Reading
		return res, nil
	case scaleproto.CASPD2, scaleproto.AdamAZ:
		req, _ := scaleproto.Request(p, scaleproto.CmdWeigh)
		if err := c.write(req); err != nil {
			return nil, err
		}
		m, ok := c.expect(p, scaleproto.KindWeight)
		if !ok {
			return nil, nil
		}
		res.Reading = &m.Reading
		return res, nil
	}
	return nil, fmt.Errorf("probe: unknown protocol %q", p)
}

type probeConn struct {
	ctx      context.Context
	port     serial.Port
	deadline time.Time
	sc       *scaleproto.Scanner
}

func (c *probeConn) write(b []byte) error {
	if _, err := c.port.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// read reads what arrives before the deadline (nil at the deadline).
func (c *probeConn) read() ([]byte, error) {
	left := time.Until(c.deadline)
	if left <= 0 || c.ctx.Err() != nil {
		return nil, errors.New("timeout")
	}
	_ = c.port.SetReadTimeout(min(left, 100*time.Millisecond))
	buf := make([]byte, 256)
	n, err := c.port.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// expect returns the first message of kind k before the deadline,
// skipping others.
func (c *probeConn) expect(p scaleproto.Protocol, k scaleproto.Kind) (scaleproto.Msg, bool) {
	for {
		m, ok := c.readMsg(p)
		if !ok || m.Kind == k {
			return m, ok
		}
	}
}

// readMsg returns the first message of protocol p that decodes cleanly;
// garbage is skipped until the deadline.
func (c *probeConn) readMsg(p scaleproto.Protocol) (scaleproto.Msg, bool) {
	if c.sc == nil {
		c.sc, _ = scaleproto.NewScanner(p)
	}
	for {
		for {
			m, ok, err := c.sc.Next()
			if !ok {
				break
			}
			if err == nil {
				return m, true
			}
		}
		b, err := c.read()
		if err != nil {
			return scaleproto.Msg{}, false
		}
		c.sc.Write(b)
	}
}
