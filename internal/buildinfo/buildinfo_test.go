package buildinfo

import (
	"strings"
	"testing"
	"time"
)

func TestClockBeforeBuild(t *testing.T) {
	built := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if msg := ClockBeforeBuild(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), built); !strings.Contains(msg, "2000-01-01T00:00:00Z, before this storebox was made (2026-12-01") {
		t.Fatalf("dead CMOS battery: %q", msg)
	}
	if msg := ClockBeforeBuild(built.Add(time.Hour), built); msg != "" {
		t.Fatalf("a clock after the build: %q", msg)
	}
	if msg := ClockBeforeBuild(time.Now(), time.Time{}); msg != "" {
		t.Fatalf("no build time: %q", msg)
	}
}

func TestBuiltFromStamp(t *testing.T) {
	if b, ok := Built("2026-12-07T03:55:00+00:00"); !ok || !b.Equal(time.Date(2026, 12, 7, 3, 55, 0, 0, time.UTC)) {
		t.Fatalf("%v %v", b, ok)
	}
	if _, ok := Built("yesterday"); ok {
		t.Fatal("a bad stamp accepted")
	}
}
