package nulltime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	b, _ := json.Marshal(map[string]*time.Time{"unset": Of(time.Time{}), "set": Of(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))})
	if string(b) != `{"set":"2026-12-06T10:00:00Z","unset":null}` {
		t.Fatalf("%s", b)
	}
}
