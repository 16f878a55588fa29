package doctor

import (
	"context"
	"testing"
	"time"
)

func TestMDNSNotSeenIsAWarning(t *testing.T) {
	r := browseMDNS(context.Background(), "no-such-store-"+time.Now().Format("150405.000000"), 300*time.Millisecond)
	if r.Level != Warn || r.Fix == "" {
		t.Fatalf("%s", r)
	}
}

func TestUnescapeDNS(t *testing.T) {
	for in, want := range map[string]string{`Corner\ Shop`: "Corner Shop", `a\\b`: `a\b`, `plain`: "plain", `x\.y`: "x.y"} {
		if got := unescapeDNS(in); got != want {
			t.Errorf("unescapeDNS(%q) = %q, want %q", in, got, want)
		}
	}
}
