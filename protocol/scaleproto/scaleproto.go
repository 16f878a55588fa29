// Package scaleproto decodes and encodes the wire formats of serial retail
// scales (each protocol's frame layout is described beside its decoder): Mettler-Toledo 8217,
// MT-SICS, CAS continuous (22- and 18-byte), CAS ENQ/DC1, CAS PD-II and
// Adam AZExtra. It does no I/O: a Scanner cuts a byte stream into messages,
// and request encoders build what a host sends.
package scaleproto

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Protocol names a scale wire protocol as written in config (scales[].protocol).
type Protocol string

// The protocols this package speaks.
const (
	Toledo8217    Protocol = "toledo8217"
	MTSICS        Protocol = "mt-sics"
	CASContinuous Protocol = "cas"
	CASENQ        Protocol = "cas-enq"
	CASPD2        Protocol = "cas-pd2"
	AdamAZ        Protocol = "adam"
)

// Protocols lists every protocol in the order an automatic probe tries them:
// those with an identifying answer first, the beeping Adam last.
var Protocols = []Protocol{Toledo8217, MTSICS, CASENQ, CASContinuous, CASPD2, AdamAZ}

var aliases = map[string]Protocol{
	"toledo": Toledo8217, "toledo8217": Toledo8217, "8217": Toledo8217,
	"mt-sics": MTSICS, "mtsics": MTSICS, "sics": MTSICS,
	"cas": CASContinuous, "cas-continuous": CASContinuous, "cas22": CASContinuous, "ci200": CASContinuous,
	"cas-enq": CASENQ, "casenq": CASENQ, "cas-dc1": CASENQ,
	"cas-pd2": CASPD2, "pd2": CASPD2, "pd-ii": CASPD2, "cas-pdii": CASPD2,
	"adam": AdamAZ, "adam-az": AdamAZ, "azextra": AdamAZ,
}

// ParseProtocol accepts a protocol name or a common alias (case-insensitive).
func ParseProtocol(s string) (Protocol, error) {
	if p, ok := aliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	names := make([]string, len(Protocols))
	for i, p := range Protocols {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown scale protocol %q (one of %s, or auto)", s, strings.Join(names, ", "))
}

// Reading is one weight report.
type Reading struct {
	Grams     int64     // signed weight in grams (negative when Negative)
	Stable    bool      // the scale reported a settled weight
	Overload  bool      // over capacity
	Underload bool      // under zero / below range
	Negative  bool      // the weight is below zero
	Net       bool      // the weight is net (a tare is active)
	NoValue   bool      // the scale reported status only: Grams carries no weight
	At        time.Time // when the frame was decoded
	Raw       []byte    // the frame as received
}

// Valid reports whether Grams is a usable weight.
func (r Reading) Valid() bool { return !r.NoValue && !r.Overload && !r.Underload }

func (r Reading) String() string {
	var b strings.Builder
	if r.NoValue {
		b.WriteString("no weight")
	} else {
		fmt.Fprintf(&b, "%d g", r.Grams)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{r.Stable, "stable"}, {!r.Stable, "motion"}, {r.Overload, "overload"}, {r.Underload, "underload"}, {r.Negative, "negative"}, {r.Net, "net"}} {
		if f.on {
			b.WriteString(" ")
			b.WriteString(f.name)
		}
	}
	return b.String()
}

// Errors a Scanner reports; each is counted separately by the driver.
var (
	ErrGarbage  = errors.New("garbage")        // bytes that are no message of the protocol
	ErrPartial  = errors.New("partial frame")  // a frame cut off by the start of another
	ErrChecksum = errors.New("checksum error") // a whole frame whose check byte is wrong
)

// Kind says what a decoded message is.
type Kind uint8

const (
	KindWeight Kind = iota + 1 // Reading is set
	KindAck                    // the command in Cmd was accepted
	KindNak                    // the command in Cmd was refused or not possible now (Text says why)
	KindIdent                  // Text is the scale's identity (serial number)
	KindError                  // the scale reports a command/transmission error (Text)
)

func (k Kind) String() string {
	switch k {
	case KindWeight:
		return "weight"
	case KindAck:
		return "ack"
	case KindNak:
		return "nak"
	case KindIdent:
		return "ident"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Msg is one decoded message from a scale.
type Msg struct {
	Kind    Kind
	Cmd     string // for KindAck/KindNak: the command answered ("Z", "T", ...)
	Text    string
	Reading Reading // for KindWeight (and a tare weight for MT-SICS "T S")
	Raw     []byte
}

// Command is something a host asks a scale.
type Command uint8

const (
	CmdWeigh Command = iota + 1
	CmdZero
	CmdTare
	CmdClearTare
	CmdIdent
)

func (c Command) String() string {
	switch c {
	case CmdWeigh:
		return "weigh"
	case CmdZero:
		return "zero"
	case CmdTare:
		return "tare"
	case CmdClearTare:
		return "clear tare"
	case CmdIdent:
		return "ident"
	}
	return fmt.Sprintf("command(%d)", uint8(c))
}

// ErrUnsupported is returned for a command a protocol does not have.
var ErrUnsupported = errors.New("not supported by this protocol")

// Control bytes.
const (
	SOH = 0x01
	STX = 0x02
	ETX = 0x03
	EOT = 0x04
	ENQ = 0x05
	ACK = 0x06
	DC1 = 0x11
	NAK = 0x15
)

// Request encodes command c for protocol p. CAS ENQ/DC1 weighs in two steps:
// Request gives ENQ; after the scale's ACK the host sends DC1.
func Request(p Protocol, c Command) ([]byte, error) {
	var s string
	switch p {
	case Toledo8217:
		s = map[Command]string{CmdWeigh: "W", CmdZero: "Z", CmdTare: "T", CmdClearTare: "C"}[c]
	case MTSICS:
		s = map[Command]string{CmdWeigh: "SI\r\n", CmdZero: "Z\r\n", CmdTare: "T\r\n", CmdClearTare: "TAC\r\n", CmdIdent: "I4\r\n"}[c]
	case CASENQ:
		if c == CmdWeigh {
			return []byte{ENQ}, nil
		}
	case CASPD2:
		if c == CmdWeigh {
			s = "W"
		}
	case AdamAZ:
		s = map[Command]string{CmdWeigh: "P\r\n", CmdZero: "Z\r\n", CmdTare: "T\r\n"}[c]
	case CASContinuous:
	default:
		return nil, fmt.Errorf("request %s: unknown protocol %q", c, p)
	}
	if s == "" {
		return nil, fmt.Errorf("%s: %s: %w", p, c, ErrUnsupported)
	}
	return []byte(s), nil
}

// Polled reports whether the host must ask for each weight (false: the
// scale streams frames on its own).
func Polled(p Protocol) bool { return p != CASContinuous }
