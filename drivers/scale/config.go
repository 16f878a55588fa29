package scale

import (
	"fmt"
	"strings"
	"time"

	"go.bug.st/serial"

	"github.com/storebox/storebox/protocol/scaleproto"
)

// Auto is the protocol name that makes the driver probe on every open.
const Auto = "auto"

// Config mirrors one [[scales]] entry of the daemon config. Zero line
// settings take the protocol's defaults.
type Config struct {
	ID       string
	Port     string // opened by this path on every (re)open, e.g. /dev/serial/by-id/...
	Protocol string // a scaleproto protocol name or alias, or "auto"
	Baud     int
	DataBits int
	Parity   string // none|even|odd
	StopBits int    // 1|2
	PollMS   int    // poll period; for streaming scales the longest expected gap between frames
}

// Line is a serial line setting.
type Line struct {
	Baud     int
	DataBits int
	Parity   string
	StopBits int
}

func (l Line) String() string {
	return fmt.Sprintf("%d %d%s%d", l.Baud, l.DataBits, strings.ToUpper(l.Parity[:1]), l.StopBits)
}

func (l Line) mode() (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: l.Baud, DataBits: l.DataBits}
	switch l.Parity {
	case "none":
		m.Parity = serial.NoParity
	case "even":
		m.Parity = serial.EvenParity
	case "odd":
		m.Parity = serial.OddParity
	default:
		return nil, fmt.Errorf("parity %q is not none, even or odd", l.Parity)
	}
	switch l.StopBits {
	case 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("stop bits %d is not 1 or 2", l.StopBits)
	}
	if l.DataBits < 5 || l.DataBits > 8 {
		return nil, fmt.Errorf("data bits %d is not 5..8", l.DataBits)
	}
	if l.Baud <= 0 {
		return nil, fmt.Errorf("baud %d is not positive", l.Baud)
	}
	return m, nil
}

// DefaultLine is the factory line setting of protocol p.
func DefaultLine(p scaleproto.Protocol) Line {
	switch p {
	case scaleproto.Toledo8217, scaleproto.CASPD2:
		return Line{9600, 7, "even", 1}
	case scaleproto.AdamAZ:
		return Line{4800, 8, "none", 1}
	}
	return Line{9600, 8, "none", 1}
}

// DefaultPoll is the poll period of protocol p when poll_ms is unset. The
// Adam beeps on every poll, so it is asked only every few seconds.
func DefaultPoll(p scaleproto.Protocol) time.Duration {
	switch p {
	case scaleproto.AdamAZ:
		return 3 * time.Second
	case scaleproto.CASContinuous:
		return 500 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// line is the configured line for p, defaults filled in.
func (c Config) line(p scaleproto.Protocol) Line {
	l := DefaultLine(p)
	if c.Baud > 0 {
		l.Baud = c.Baud
	}
	if c.DataBits > 0 {
		l.DataBits = c.DataBits
	}
	if c.Parity != "" {
		l.Parity = strings.ToLower(c.Parity)
	}
	if c.StopBits > 0 {
		l.StopBits = c.StopBits
	}
	return l
}

func (c Config) poll(p scaleproto.Protocol) time.Duration {
	if c.PollMS > 0 {
		return time.Duration(c.PollMS) * time.Millisecond
	}
	return DefaultPoll(p)
}

// Validate checks the config without touching the port.
func (c Config) Validate() error {
	if c.Port == "" {
		return fmt.Errorf("scale %s: port must not be empty", c.ID)
	}
	if c.PollMS < 0 {
		return fmt.Errorf("scale %s: poll_ms must not be negative", c.ID)
	}
	p := scaleproto.Toledo8217
	if !strings.EqualFold(c.Protocol, Auto) && c.Protocol != "" {
		var err error
		if p, err = scaleproto.ParseProtocol(c.Protocol); err != nil {
			return fmt.Errorf("scale %s: %w", c.ID, err)
		}
	}
	if _, err := c.line(p).mode(); err != nil {
		return fmt.Errorf("scale %s: %w", c.ID, err)
	}
	return nil
}
