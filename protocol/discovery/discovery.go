// Package discovery is the wire format of storebox's LAN discovery (PROTOCOL.md §3):
// the UDP probe a device broadcasts, the answer the daemon sends back, and
// the names and TXT keys of the mDNS advertisement. It does no I/O.
//
// Decisions PROTOCOL.md §3 leaves open:
//   - A probe is one JSON object of at most 1024 bytes with "action":
//     "discover"; surrounding whitespace is allowed, trailing data is not.
//     Member names match exactly (not case-insensitively); unknown members
//     are ignored; equipId and kind are optional strings (a wrong type makes
//     the datagram junk).
//   - Answer ports are JSON integers; 0 means "not listening".
//   - The mDNS instance name is the store name cut to 63 bytes (one DNS
//     label) at a character boundary, "storebox" when empty.
//   - The rate limit is exact: at most 10 answers in any one-second window
//     per source IP (not IP:port), enforced by the daemon.
package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Wire constants from PROTOCOL.md §3.
const (
	ActionDiscover = "discover"
	ActionReturn   = "discoverReturn"

	// DefaultPort is the UDP port probes go to.
	DefaultPort = 8686

	// MaxProbeSize is the largest datagram that can be a probe; longer
	// datagrams are ignored without being decoded.
	MaxProbeSize = 1024

	// MaxAnswerSize bounds what a client decodes as an answer. Answers carry
	// a store name, so they may be longer than probes, but never anywhere
	// near a UDP datagram's limit.
	MaxAnswerSize = 16 * 1024
)

// Probe is the datagram a device sends to find the daemon.
type Probe struct {
	Action  string `json:"action"`
	EquipID string `json:"equipId"`
	Kind    string `json:"kind"`
}

// Answer is the daemon's reply to a probe, sent unicast to the probe's source.
type Answer struct {
	Action   string `json:"action"`
	StoreID  string `json:"storeId"`
	Name     string `json:"name"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	MQTTPort int    `json:"mqttPort"`
	HTTPPort int    `json:"httpPort"`
	Version  string `json:"version"`
}

// Errors returned by the parsers; callers ignore such datagrams (PROTOCOL.md §3:
// "anything else is ignored"), but tests and logs want to know why.
var (
	ErrTooLarge     = errors.New("datagram too large")
	ErrNotJSON      = errors.New("not a JSON object")
	ErrWrongAction  = errors.New("wrong action")
	ErrInvalidField = errors.New("invalid field")
)

// ParseProbe decodes a probe datagram. It rejects anything over
// MaxProbeSize, anything that is not exactly one JSON object (surrounding
// whitespace aside), a known field of the wrong JSON type, and an action
// other than "discover". Field names match exactly; unknown fields are
// ignored. equipId and kind are optional: they only label the asker.
func ParseProbe(b []byte) (Probe, error) {
	var p Probe
	if len(b) > MaxProbeSize {
		return p, fmt.Errorf("parse probe: %d bytes: %w", len(b), ErrTooLarge)
	}
	err := decodeObject(b, map[string]any{
		"action":  &p.Action,
		"equipId": &p.EquipID,
		"kind":    &p.Kind,
	})
	if err != nil {
		return Probe{}, fmt.Errorf("parse probe: %w", err)
	}
	if p.Action != ActionDiscover {
		return Probe{}, fmt.Errorf("parse probe: action %q: %w", p.Action, ErrWrongAction)
	}
	return p, nil
}

// Encode returns the probe's datagram, with Action set to "discover".
func (p Probe) Encode() ([]byte, error) {
	p.Action = ActionDiscover
	b, err := marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode probe: %w", err)
	}
	if len(b) > MaxProbeSize {
		return nil, fmt.Errorf("encode probe: %d bytes: %w", len(b), ErrTooLarge)
	}
	return b, nil
}

// ParseAnswer decodes an answer datagram: one JSON object with action
// "discoverReturn" and ports in 0..65535. Like ParseProbe, names match
// exactly and unknown fields are ignored.
func ParseAnswer(b []byte) (Answer, error) {
	var a Answer
	if len(b) > MaxAnswerSize {
		return a, fmt.Errorf("parse answer: %d bytes: %w", len(b), ErrTooLarge)
	}
	err := decodeObject(b, map[string]any{
		"action":   &a.Action,
		"storeId":  &a.StoreID,
		"name":     &a.Name,
		"host":     &a.Host,
		"port":     &a.Port,
		"mqttPort": &a.MQTTPort,
		"httpPort": &a.HTTPPort,
		"version":  &a.Version,
	})
	if err != nil {
		return Answer{}, fmt.Errorf("parse answer: %w", err)
	}
	if a.Action != ActionReturn {
		return Answer{}, fmt.Errorf("parse answer: action %q: %w", a.Action, ErrWrongAction)
	}
	if err := a.checkPorts(); err != nil {
		return Answer{}, fmt.Errorf("parse answer: %w", err)
	}
	return a, nil
}

// Encode returns the answer's datagram, with Action set to "discoverReturn".
func (a Answer) Encode() ([]byte, error) {
	a.Action = ActionReturn
	if err := a.checkPorts(); err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	b, err := marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	if len(b) > MaxAnswerSize {
		return nil, fmt.Errorf("encode answer: %d bytes: %w", len(b), ErrTooLarge)
	}
	return b, nil
}

func (a Answer) checkPorts() error {
	for _, p := range []struct {
		name string
		v    int
	}{{"port", a.Port}, {"mqttPort", a.MQTTPort}, {"httpPort", a.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("%s %d out of range: %w", p.name, p.v, ErrInvalidField)
		}
	}
	return nil
}

// decodeObject decodes exactly one JSON object and stores the members named
// in fields (exact, case-sensitive names) through the given pointers. A JSON
// null leaves the field empty; any other type mismatch is an error rather
// than a silently zeroed field, and so is trailing data.
func decodeObject(b []byte, fields map[string]any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return ErrNotJSON
	}
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&members); err != nil {
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", ErrNotJSON)
	}
	for name, dst := range fields {
		raw, ok := members[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%s: %w", name, ErrInvalidField)
		}
	}
	return nil
}

// marshal is json.Marshal without HTML escaping: store names such as
// "Tom & Jerry" go out as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
