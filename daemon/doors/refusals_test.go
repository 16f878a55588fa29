package doors

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A door retrying with a wrong secret is logged once, then summed up per
// summary period; a door quiet for a period starts over; made-up names
// beyond the bound share one entry.
func TestRefusalsAreSummedUpPerDoor(t *testing.T) {
	var buf bytes.Buffer
	r := newRefusals(slog.New(slog.NewTextHandler(&buf, nil)), 0)
	lines := func() []string {
		s := strings.TrimSpace(buf.String())
		buf.Reset()
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	for range 3 {
		r.refused("D1", "10.0.0.5:4000", "wrong password")
	}
	r.refused("D2", "10.0.0.6:4000", "unknown door")
	if l := lines(); len(l) != 2 || !strings.Contains(l[0], "door=D1") || !strings.Contains(l[1], "door=D2") {
		t.Fatalf("first refusals: %q", l)
	}
	r.summarise()
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "mqtt connections refused again") || !strings.Contains(l[0], "door=D1 count=2") {
		t.Fatalf("summary: %q", l)
	}
	r.summarise() // a quiet period: nothing to say, both forgotten
	if l := lines(); l != nil {
		t.Fatalf("summary of a quiet period: %q", l)
	}
	r.refused("D1", "10.0.0.5:4001", "wrong password")
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "mqtt connection refused (repeats") {
		t.Fatalf("after a quiet period: %q", l)
	}

	for i := range maxRefusalDoors + 10 {
		r.refused(fmt.Sprintf("spray-%d", i), "10.0.0.9:1", "unknown door")
	}
	if n := len(r.doors); n != maxRefusalDoors+1 {
		t.Fatalf("%d names remembered, want at most %d and the shared one", n, maxRefusalDoors)
	}
}
