package doormsg

import (
	"strings"
	"testing"
	"time"
)

func TestTopicRoundTrip(t *testing.T) {
	for _, k := range []string{KindCmd, KindAck, KindState, KindEvent} {
		topic := Topic("store-1", "D1", k)
		s, d, kind, ok := ParseTopic(topic)
		if !ok || s != "store-1" || d != "D1" || kind != k {
			t.Errorf("ParseTopic(%q) = %q %q %q %v", topic, s, d, kind, ok)
		}
	}
	if got := Topic("s", "d", "cmd"); got != "storebox/s/door/d/cmd" {
		t.Errorf("Topic = %q", got)
	}
}

func TestParseTopicRejects(t *testing.T) {
	for _, topic := range []string{
		"", "storebox", "storebox/s/door/d", "storebox/s/door/d/cmd/x",
		"storebox/s/doors/d/cmd", "other/s/door/d/cmd", "storebox//door/d/cmd",
		"storebox/s/door//cmd", "storebox/s/door/d/bogus", "storebox/s/door/+/cmd",
		"storebox/s/door/#/cmd", "storebox/+/door/d/ack", "$SYS/s/door/d/ack",
	} {
		if _, _, _, ok := ParseTopic(topic); ok {
			t.Errorf("ParseTopic(%q) accepted", topic)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		fn   func([]byte) error
		in   string
		err  string // "" = ok
	}{
		{"cmd ok", cmdErr, `{"cmd":"open","requestId":"r1","openId":"o","duration_ms":3000}`, ""},
		{"cmd lock", cmdErr, `{"cmd":"lock","requestId":"r1","duration_ms":0}`, ""},
		{"cmd bad", cmdErr, `{"cmd":"explode","requestId":"r1"}`, "not open or lock"},
		{"cmd no id", cmdErr, `{"cmd":"open"}`, "requestId is missing"},
		{"cmd neg", cmdErr, `{"cmd":"open","requestId":"r","duration_ms":-1}`, "negative"},
		{"ack ok", ackErr, `{"requestId":"r1","ok":true}`, ""},
		{"ack err", ackErr, `{"requestId":"r1","ok":false,"error":"jammed"}`, ""},
		{"ack no id", ackErr, `{"ok":true}`, "requestId is missing"},
		{"ack not json", ackErr, `ok`, "decode ack"},
		{"ack wrong type", ackErr, `{"requestId":5}`, "decode ack"},
		{"state ok", stateErr, `{"state":"closed","at":"2026-01-02T03:04:05Z"}`, ""},
		{"state no at", stateErr, `{"state":"fault"}`, ""},
		{"state bad", stateErr, `{"state":"ajar"}`, "not open, closed or fault"},
		{"state bad at", stateErr, `{"state":"open","at":"yesterday"}`, "decode state"},
		{"event scan", eventErr, `{"event":"scan","openId":"o1","code":"c"}`, ""},
		{"event other", eventErr, `{"event":"tamper"}`, ""},
		{"event scan no id", eventErr, `{"event":"scan"}`, "without openId"},
		{"event empty", eventErr, `{}`, "event is missing"},
		{"too large", eventErr, `{"event":"x","code":"` + strings.Repeat("a", MaxBody) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		err := tt.fn([]byte(tt.in))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.err)
		}
	}
}

func cmdErr(b []byte) error   { _, err := DecodeCmd(b); return err }
func ackErr(b []byte) error   { _, err := DecodeAck(b); return err }
func stateErr(b []byte) error { _, err := DecodeState(b); return err }
func eventErr(b []byte) error { _, err := DecodeEvent(b); return err }

func TestEncodeShapes(t *testing.T) {
	got := string(Encode(Cmd{Cmd: CmdOpen, RequestID: "r", OpenID: "o", DurationMS: 3000}))
	if got != `{"cmd":"open","requestId":"r","openId":"o","duration_ms":3000}` {
		t.Errorf("cmd = %s", got)
	}
	got = string(Encode(Ack{RequestID: "r", OK: true}))
	if got != `{"requestId":"r","ok":true}` {
		t.Errorf("ack = %s", got)
	}
	got = string(Encode(State{State: StateOpen, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}))
	if got != `{"state":"open","at":"2026-01-02T03:04:05Z"}` {
		t.Errorf("state = %s", got)
	}
	got = string(Encode(LedgerData{Door: "D1", OpenID: "o", Reason: "entry"}))
	if got != `{"door":"D1","openId":"o","reason":"entry"}` {
		t.Errorf("ledger data = %s", got)
	}
}

// FuzzDecode checks that no body makes a decoder panic and that whatever a
// decoder accepts survives an encode/decode round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"cmd":"open","requestId":"r","duration_ms":1}`, `{"requestId":"r","ok":true}`,
		`{"state":"open","at":"2026-01-02T03:04:05Z"}`, `{"event":"scan","openId":"o"}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeCmd(b); err == nil {
			if c2, err := DecodeCmd(Encode(c)); err != nil || c2 != c {
				t.Fatalf("cmd round trip: %v %+v %+v", err, c, c2)
			}
		}
		if a, err := DecodeAck(b); err == nil {
			if a2, err := DecodeAck(Encode(a)); err != nil || a2 != a {
				t.Fatalf("ack round trip: %v", err)
			}
		}
		if s, err := DecodeState(b); err == nil {
			if s2, err := DecodeState(Encode(s)); err != nil || s2.State != s.State || !s2.At.Equal(s.At) {
				t.Fatalf("state round trip: %v", err)
			}
		}
		if e, err := DecodeEvent(b); err == nil {
			if e2, err := DecodeEvent(Encode(e)); err != nil || e2 != e {
				t.Fatalf("event round trip: %v", err)
			}
		}
	})
}

// FuzzParseTopic checks that an accepted topic is rebuilt exactly by Topic.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"storebox/s/door/d/cmd", "storebox/s/door/d/event", "storebox/s/door/+/ack", "a/b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		s, d, k, ok := ParseTopic(topic)
		if ok && Topic(s, d, k) != topic {
			t.Fatalf("ParseTopic(%q) = %q %q %q, rebuilt %q", topic, s, d, k, Topic(s, d, k))
		}
	})
}
