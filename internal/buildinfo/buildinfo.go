// Package buildinfo reads what the Go toolchain recorded about this
// binary's build, for the start-up clock check: a box whose clock is
// before the binary was made has the wrong time.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"time"
)

// Built is when the binary was made at the latest: stamp (RFC 3339, set
// with -ldflags "-X main.buildTime=…" by make and the .deb to the last
// commit's time) when set, else debug.BuildInfo's vcs.time (a plain `go
// build` in a git checkout without -buildvcs=false). ok is false when
// neither says.
func Built(stamp string) (t time.Time, ok bool) {
	if stamp != "" {
		t, err := time.Parse(time.RFC3339, stamp)
		return t, err == nil
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return time.Time{}, false
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" {
			t, err := time.Parse(time.RFC3339, s.Value)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// ClockBeforeBuild says what is wrong when now is before built (the
// binary's commit time), or "" when the clock can be right.
func ClockBeforeBuild(now, built time.Time) string {
	if built.IsZero() || !now.Before(built) {
		return ""
	}
	return fmt.Sprintf("this box's clock says %s, before this storebox was made (%s): the clock is wrong; "+
		"set it (timedatectl set-ntp true, or date -s); a box that loses the time at every power cut needs a new CMOS battery",
		now.UTC().Format(time.RFC3339), built.UTC().Format(time.RFC3339))
}
