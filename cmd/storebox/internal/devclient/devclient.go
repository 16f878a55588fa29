// Package devclient speaks the device protocol (PROTOCOL.md §2) as one device
// would, for `storebox client`: request bodies from arguments, login, and
// one request at a time matched to its reply.
package devclient

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/storebox/storebox/protocol/charset"
	"github.com/storebox/storebox/protocol/frame"
)

// Body builds a request body from httpie-style arguments: key=value sends a
// string and key:=json sends raw JSON.
func Body(args []string) (map[string]any, error) {
	body := map[string]any{}
	for _, kv := range args {
		if k, v, ok := strings.Cut(kv, ":="); ok && !strings.Contains(k, "=") {
			var j any
			if err := json.Unmarshal([]byte(v), &j); err != nil {
				return nil, fmt.Errorf("%s: %q is not JSON: %v", k, v, err)
			}
			body[k] = j
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is neither key=value nor key:=json", kv)
		}
		body[k] = v
	}
	return body, nil
}

// Session is one connection, as device equip.
type Session struct {
	conn    net.Conn
	fr      *frame.Reader
	mode    frame.Mode
	equip   string
	timeout time.Duration
	gbk     bool
	seq     int64
}

// Dial connects to the device listener at addr; length selects 4-byte
// length framing instead of lines.
func Dial(addr, equip string, length bool, timeout time.Duration) (*Session, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w (is storebox running? it prints \"storebox ready\" once it accepts devices)", err)
	}
	mode := frame.ModeLine
	if length {
		mode = frame.ModeLength
	}
	return &Session{conn: conn, fr: frame.NewReader(conn, 0), mode: mode, equip: equip, timeout: timeout}, nil
}

// Close closes the connection.
func (s *Session) Close() error { return s.conn.Close() }

// Send sends action with body b and returns the matching reply.
func (s *Session) Send(action string, b map[string]any) (json.RawMessage, error) {
	s.seq++
	msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": s.equip, "seq": s.seq}, "body": b})
	if s.gbk {
		msg = charset.EncodeJSONToGBK(msg)
	}
	s.conn.SetDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(frame.Append(nil, s.mode, msg)); err != nil {
		return nil, err
	}
	for {
		p, err := s.fr.Next()
		if err != nil {
			return nil, err
		}
		if s.gbk {
			if p, err = charset.DecodeGBK(p); err != nil {
				return nil, err
			}
		}
		var head struct {
			Head struct {
				Action string `json:"action"`
				Seq    int64  `json:"seq"`
			} `json:"head"`
		}
		json.Unmarshal(p, &head)
		if head.Head.Action == action+"Return" && head.Head.Seq == s.seq {
			return p, nil
		}
	}
}

// Login logs in as kind with charset cs ("" for the default); a refused
// login returns the reply and its exception as the error. After a gbk
// login the session speaks GBK.
func (s *Session) Login(kind, cs string) (json.RawMessage, error) {
	lb := map[string]any{"kind": kind}
	if cs != "" {
		lb["charset"] = cs
	}
	r, err := s.Send("login", lb)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if e := Exception(r); e != "" {
		return r, fmt.Errorf("login refused: %s", e)
	}
	s.gbk = strings.EqualFold(cs, "gbk")
	return r, nil
}

// Exception is a reply's body.exception, "" when it has none.
func Exception(r json.RawMessage) string {
	var rr struct {
		Body struct {
			Exception string `json:"exception"`
		} `json:"body"`
	}
	json.Unmarshal(r, &rr)
	return rr.Body.Exception
}
