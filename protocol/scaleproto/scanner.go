package scaleproto

import (
	"bytes"
	"fmt"
	"time"
)

// maxPending bounds how much a Scanner holds while waiting for a frame end;
// beyond it the buffer is dropped as garbage (a console port chattering).
const maxPending = 512

// splitFunc finds the next message in buf. It returns:
//   - advance > 0, msg != nil: a message to decode (advance includes it)
//   - advance > 0, err ErrGarbage or ErrPartial: bytes to drop
//   - advance == 0: more bytes are needed
type splitFunc func(buf []byte) (advance int, msg []byte, err error)

type parseFunc func(msg []byte) (Msg, error)

type codec struct {
	split splitFunc
	parse parseFunc
}

var codecs = map[Protocol]codec{
	Toledo8217:    {splitSTXCR, parseToledo},
	MTSICS:        {splitLine, parseSICS},
	CASContinuous: {splitCAS, parseCAS},
	CASENQ:        {splitENQ, parseENQ},
	CASPD2:        {splitSTXCR, parsePD2},
	AdamAZ:        {splitLine, parseAdam},
}

// Parse decodes exactly one whole message of protocol p (frame delimiters
// included, as the Scanner hands them out).
func Parse(p Protocol, msg []byte) (Msg, error) {
	c, ok := codecs[p]
	if !ok {
		return Msg{}, fmt.Errorf("parse: unknown protocol %q", p)
	}
	m, err := c.parse(msg)
	if err != nil {
		return Msg{}, fmt.Errorf("%s: %w", p, err)
	}
	m.Raw = append([]byte(nil), msg...)
	m.Reading.Raw = m.Raw
	return m, nil
}

// Scanner cuts a byte stream from a scale into messages. It is not safe for
// concurrent use.
type Scanner struct {
	p   Protocol
	c   codec
	buf []byte
	Now func() time.Time // stamps Reading.At; time.Now when nil
}

// NewScanner returns a Scanner for protocol p.
func NewScanner(p Protocol) (*Scanner, error) {
	c, ok := codecs[p]
	if !ok {
		return nil, fmt.Errorf("new scanner: unknown protocol %q", p)
	}
	return &Scanner{p: p, c: c}, nil
}

// Protocol returns the scanner's protocol.
func (s *Scanner) Protocol() Protocol { return s.p }

// Write appends bytes read from the port.
func (s *Scanner) Write(b []byte) (int, error) {
	s.buf = append(s.buf, b...)
	return len(b), nil
}

// Pending is the number of bytes held waiting for the rest of a frame.
func (s *Scanner) Pending() int { return len(s.buf) }

// Reset drops pending bytes (after a poll timeout or a reopen) and returns
// how many there were.
func (s *Scanner) Reset() int {
	n := len(s.buf)
	s.buf = s.buf[:0]
	return n
}

// Next returns the next message. ok is false when more bytes are needed. A
// non-nil error (ErrGarbage, ErrPartial, ErrChecksum, wrapped) means bytes
// were dropped; call Next again.
func (s *Scanner) Next() (m Msg, ok bool, err error) {
	if len(s.buf) == 0 {
		return Msg{}, false, nil
	}
	adv, msg, err := s.c.split(s.buf)
	if adv == 0 {
		if len(s.buf) > maxPending {
			n := len(s.buf)
			s.buf = s.buf[:0]
			return Msg{}, true, fmt.Errorf("%s: %w: %d bytes without a frame", s.p, ErrGarbage, n)
		}
		return Msg{}, false, nil
	}
	if adv > len(s.buf) {
		adv = len(s.buf)
	}
	defer func() {
		s.buf = s.buf[:copy(s.buf, s.buf[adv:])]
	}()
	if err != nil {
		return Msg{}, true, fmt.Errorf("%s: %w (%q)", s.p, err, s.buf[:adv])
	}
	m, err = Parse(s.p, msg)
	if err != nil {
		return Msg{}, true, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	m.Reading.At = now().UTC()
	return m, true, nil
}

// splitDelimited finds a frame that starts with one of starts and ends with
// end, at most maxLen bytes long. Bytes before a start are garbage; a start
// seen again before the end cuts the first frame off as partial.
func splitDelimited(buf []byte, starts [][]byte, end []byte, maxLen int) (int, []byte, error) {
	i := indexAny(buf, starts)
	if i < 0 {
		// Keep a tail that may be the beginning of a start marker.
		keep := 0
		for _, st := range starts {
			for k := len(st) - 1; k > keep; k-- {
				if k <= len(buf) && bytes.HasSuffix(buf, st[:k]) {
					keep = k
				}
			}
		}
		if len(buf) > keep {
			return len(buf) - keep, nil, ErrGarbage
		}
		return 0, nil, nil
	}
	if i > 0 {
		return i, nil, ErrGarbage
	}
	minStart := 1
	for _, st := range starts {
		if bytes.HasPrefix(buf, st) {
			minStart = len(st)
		}
	}
	rest := buf[minStart:]
	e := bytes.Index(rest, end)
	next := indexAny(rest, starts)
	if next >= 0 && (e < 0 || next < e) {
		return minStart + next, nil, ErrPartial
	}
	if e < 0 {
		if len(buf) > maxLen {
			return minStart, nil, ErrPartial
		}
		return 0, nil, nil
	}
	n := minStart + e + len(end)
	if n > maxLen {
		return n, nil, ErrGarbage
	}
	return n, buf[:n], nil
}

func indexAny(buf []byte, seps [][]byte) int {
	best := -1
	for _, s := range seps {
		if i := bytes.Index(buf, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// splitLine cuts LF-terminated lines (CR LF or bare LF); blank lines are
// skipped as garbage.
func splitLine(buf []byte) (int, []byte, error) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if len(buf) > 128 {
			return len(buf), nil, ErrGarbage
		}
		return 0, nil, nil
	}
	if len(bytes.TrimSpace(buf[:i])) == 0 {
		return i + 1, nil, ErrGarbage
	}
	if i > 128 {
		return i + 1, nil, ErrGarbage
	}
	return i + 1, buf[:i+1], nil
}

var stx = [][]byte{{STX}}

func splitSTXCR(buf []byte) (int, []byte, error) {
	return splitDelimited(buf, stx, []byte{'\r'}, 16)
}
