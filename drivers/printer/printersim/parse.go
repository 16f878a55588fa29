// Package printersim is an ESC/POS receipt printer in software: it parses
// what a driver sends (text in a code page, QR codes, cuts, drawer kicks),
// answers DLE EOT status queries, and can run out of paper, go silent or
// stall. `storebox sim printer` and the printing tests use it.
package printersim

import (
	"fmt"
	"strings"

	"golang.org/x/text/encoding"
)

// Receipt is what came out of the printer between two cuts.
type Receipt struct {
	Lines  []string
	QR     []string
	Drawer bool
	Cut    bool // ended with a cut; false for what was on paper when the link closed
}

// Text is the receipt as a technician would read it off the paper.
func (r Receipt) Text() string {
	var b strings.Builder
	for _, l := range r.Lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for _, q := range r.QR {
		fmt.Fprintf(&b, "[QR %s]\n", q)
	}
	if r.Drawer {
		b.WriteString("[drawer kicked]\n")
	}
	if r.Cut {
		b.WriteString("--- cut ---\n")
	} else {
		b.WriteString("--- link closed before a cut ---\n")
	}
	return b.String()
}

// Event is one thing the parser read.
type Event struct {
	Receipt *Receipt // a cut (or a drawer kick after one) finished a receipt
	Query   byte     // DLE EOT n: answer with the status byte n (0: none)
	Drawer  bool     // a drawer kick between receipts (after a cut)
}

// Parser reads an ESC/POS byte stream. It keeps what it cannot parse yet
// (a command split across reads) for the next Feed.
type Parser struct {
	dec     *encoding.Decoder
	buf     []byte
	line    []byte
	cur     Receipt
	started bool
	// Unknown counts bytes of commands the parser does not know.
	Unknown int
	// Dropped counts text bytes received while Paper was false.
	Dropped int
	// Paper is false while the printer is out of paper: text is lost.
	Paper bool
}

// NewParser reads text in enc (nil: GB18030's ASCII subset is read as is).
func NewParser(enc encoding.Encoding) *Parser {
	p := &Parser{Paper: true}
	if enc != nil {
		p.dec = enc.NewDecoder()
	}
	return p
}

// Feed parses b and returns what it finished.
func (p *Parser) Feed(b []byte) []Event {
	p.buf = append(p.buf, b...)
	var out []Event
	for len(p.buf) > 0 {
		n, ev, ok := p.step(p.buf)
		if !ok {
			break // incomplete command: wait for more bytes
		}
		p.buf = p.buf[n:]
		if ev != nil {
			out = append(out, *ev)
		}
	}
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return out
}

// Close ends the stream: what was printed without a cut is returned.
func (p *Parser) Close() *Receipt {
	p.endLine(false)
	if !p.started {
		return nil
	}
	r := p.cur
	p.cur, p.started = Receipt{}, false
	return &r
}

func (p *Parser) endLine(force bool) {
	if len(p.line) == 0 && !force {
		return
	}
	s := string(p.line)
	if p.dec != nil {
		if d, err := p.dec.String(s); err == nil {
			s = d
		}
	}
	p.line = p.line[:0]
	if !p.Paper {
		p.Dropped += len(s)
		return
	}
	p.cur.Lines = append(p.cur.Lines, s)
	p.started = true
}

func (p *Parser) finish() *Event {
	p.endLine(false)
	if !p.Paper {
		p.cur, p.started = Receipt{}, false
		return nil
	}
	p.cur.Cut = true
	r := p.cur
	p.cur, p.started = Receipt{}, false
	return &Event{Receipt: &r}
}

// step parses one command or byte of text at the start of b: how many
// bytes it took, what it finished, and false if b holds only part of it.
func (p *Parser) step(b []byte) (int, *Event, bool) {
	need := func(n int) bool { return len(b) >= n }
	switch b[0] {
	case '\n':
		p.endLine(true)
		return 1, nil, true
	case '\r':
		return 1, nil, true
	case 0x10: // DLE
		if !need(3) {
			return 0, nil, false
		}
		if b[1] == 0x04 {
			return 3, &Event{Query: b[2]}, true
		}
		if b[1] == 0x14 && need(5) { // DLE DC4: real-time pulse and others
			return 5, nil, true
		}
		p.Unknown++
		return 1, nil, true
	case 0x1b: // ESC
		if !need(2) {
			return 0, nil, false
		}
		switch b[1] {
		case '@':
			p.endLine(false)
			return 2, nil, true
		case 't', 'a', 'E', '-', 'M', 'd', 'J', '!', 'G', '2', '3', 'R', 'V', '{':
			if b[1] == '2' {
				return 2, nil, true
			}
			if !need(3) {
				return 0, nil, false
			}
			if b[1] == 'd' || b[1] == 'J' {
				p.endLine(false)
			}
			return 3, nil, true
		case 'p':
			if !need(5) {
				return 0, nil, false
			}
			if p.started || len(p.line) > 0 {
				p.cur.Drawer = true
				return 5, nil, true
			}
			// a kick after the cut belongs to the receipt just cut
			return 5, &Event{Drawer: true}, true
		}
		p.Unknown++
		return 2, nil, true
	case 0x1c: // FS
		if !need(2) {
			return 0, nil, false
		}
		if b[1] == '&' || b[1] == '.' {
			return 2, nil, true
		}
		p.Unknown++
		return 2, nil, true
	case 0x1d: // GS
		if !need(2) {
			return 0, nil, false
		}
		switch b[1] {
		case 'V':
			if !need(3) {
				return 0, nil, false
			}
			if b[2] == 65 || b[2] == 66 || b[2] == 97 || b[2] == 98 {
				if !need(4) {
					return 0, nil, false
				}
				return 4, p.finish(), true
			}
			return 3, p.finish(), true
		case '!', 'B', 'H', 'f', 'h', 'w':
			if !need(3) {
				return 0, nil, false
			}
			return 3, nil, true
		case '(':
			if !need(5) {
				return 0, nil, false
			}
			n := int(b[3]) | int(b[4])<<8
			if !need(5 + n) {
				return 0, nil, false
			}
			if b[2] == 'k' && n >= 3 && b[5] == '1' && b[6] == 'P' && p.Paper {
				p.cur.QR = append(p.cur.QR, string(b[8:5+n]))
				p.started = true
			}
			return 5 + n, nil, true
		}
		p.Unknown++
		return 2, nil, true
	}
	if b[0] < 0x20 {
		p.Unknown++
		return 1, nil, true
	}
	// text: up to the next control byte
	i := 0
	for i < len(b) && b[i] >= 0x20 {
		i++
	}
	p.line = append(p.line, b[:i]...)
	return i, nil, true
}
