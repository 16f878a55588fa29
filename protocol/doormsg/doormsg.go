// Package doormsg holds the MQTT door contract of PROTOCOL.md §4: topic names and
// the JSON bodies of cmd, ack, state and event messages, plus the data of
// the door ledger events. It encodes and decodes only.
package doormsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Topic kinds: the last level of a door topic.
const (
	KindCmd   = "cmd"   // daemon → door
	KindAck   = "ack"   // door → daemon
	KindState = "state" // door → daemon, retained
	KindEvent = "event" // door → daemon
)

// Commands.
const (
	CmdOpen = "open"
	CmdLock = "lock"
)

// Door states.
const (
	StateOpen   = "open"
	StateClosed = "closed"
	StateFault  = "fault"
)

// EventScan is the event a door sends when someone scans a code at it.
const EventScan = "scan"

// Topic returns storebox/<store>/door/<door>/<kind>.
func Topic(store, door, kind string) string {
	return "storebox/" + store + "/door/" + door + "/" + kind
}

// Filter returns the filter matching every door topic of a store.
func Filter(store string) string { return "storebox/" + store + "/door/+/+" }

// ParseTopic splits a door topic. ok is false for anything that is not
// exactly storebox/<store>/door/<door>/<kind> with a known kind and
// non-empty, wildcard-free levels.
func ParseTopic(topic string) (store, door, kind string, ok bool) {
	p := strings.Split(topic, "/")
	if len(p) != 5 || p[0] != "storebox" || p[2] != "door" {
		return "", "", "", false
	}
	for _, s := range p {
		if s == "" || strings.ContainsAny(s, "+#") {
			return "", "", "", false
		}
	}
	switch p[4] {
	case KindCmd, KindAck, KindState, KindEvent:
	default:
		return "", "", "", false
	}
	return p[1], p[3], p[4], true
}

// Cmd is the body of a cmd message.
type Cmd struct {
	Cmd        string `json:"cmd"`
	RequestID  string `json:"requestId"`
	OpenID     string `json:"openId,omitempty"`
	DurationMS int    `json:"duration_ms"`
}

// Ack is the body of an ack message.
type Ack struct {
	RequestID string `json:"requestId"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// State is the body of a (retained) state message.
type State struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// Event is the body of an event message. Only scan is interpreted; other
// events are accepted and ignored by the daemon.
type Event struct {
	Event  string `json:"event"`
	OpenID string `json:"openId,omitempty"`
	Code   string `json:"code,omitempty"`
}

// MaxBody is the largest message body decoded; doors send small JSON.
const MaxBody = 4096

// ErrTooLarge is returned for bodies over MaxBody.
var ErrTooLarge = errors.New("message larger than 4096 bytes")

func decode(what string, b []byte, v any) error {
	if len(b) > MaxBody {
		return fmt.Errorf("decode %s: %w", what, ErrTooLarge)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// DecodeCmd parses and checks a cmd body.
func DecodeCmd(b []byte) (Cmd, error) {
	var c Cmd
	if err := decode("cmd", b, &c); err != nil {
		return Cmd{}, err
	}
	if c.Cmd != CmdOpen && c.Cmd != CmdLock {
		return Cmd{}, fmt.Errorf("decode cmd: cmd %q is not open or lock", c.Cmd)
	}
	if c.RequestID == "" {
		return Cmd{}, errors.New("decode cmd: requestId is missing")
	}
	if c.DurationMS < 0 {
		return Cmd{}, errors.New("decode cmd: duration_ms is negative")
	}
	return c, nil
}

// DecodeAck parses and checks an ack body.
func DecodeAck(b []byte) (Ack, error) {
	var a Ack
	if err := decode("ack", b, &a); err != nil {
		return Ack{}, err
	}
	if a.RequestID == "" {
		return Ack{}, errors.New("decode ack: requestId is missing")
	}
	return a, nil
}

// DecodeState parses and checks a state body. A missing "at" is left zero
// (the receiver stamps its own time); a bad one is an error.
func DecodeState(b []byte) (State, error) {
	var s State
	if err := decode("state", b, &s); err != nil {
		return State{}, err
	}
	switch s.State {
	case StateOpen, StateClosed, StateFault:
	default:
		return State{}, fmt.Errorf("decode state: state %q is not open, closed or fault", s.State)
	}
	return s, nil
}

// DecodeEvent parses an event body. A scan must carry an openId.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	if err := decode("event", b, &e); err != nil {
		return Event{}, err
	}
	if e.Event == "" {
		return Event{}, errors.New("decode event: event is missing")
	}
	if e.Event == EventScan && e.OpenID == "" {
		return Event{}, errors.New("decode event: scan without openId")
	}
	return e, nil
}

// Encode marshals a message body. The types above cannot fail to marshal.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("doormsg: encode %T: %v", v, err))
	}
	return b
}

// LedgerData is the data of door.opened, door.denied and door.open_failed
// ledger events (UPSTREAM.md §3: door, openId, reason, plus the details).
type LedgerData struct {
	Door      string `json:"door"`
	OpenID    string `json:"openId"`
	Reason    string `json:"reason"`
	Policy    string `json:"policy,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	Error     string `json:"error,omitempty"`
}
