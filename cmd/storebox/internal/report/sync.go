package report

import (
	"fmt"
	"io"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/internal/termtext"
	"github.com/storebox/storebox/sync/upstream"
)

// SyncReport is GET /api/v1/sync (the same members with or without an
// upstream; unset times are null). Configured is nil from an uploader
// alone (sync now without a daemon), which has an upstream.
type SyncReport struct {
	Configured  *bool     `json:"upstream_configured"`
	Online      bool      `json:"online"`
	Depth       int       `json:"depth"`
	OldestAgeS  float64   `json:"oldest_age_s"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
	SigRejected bool      `json:"signature_rejected"`
	DeadLetters int       `json:"dead_letters"`
	Sent        uint64    `json:"sent"`
	LastSeq     uint64    `json:"last_seq"`
	NextRetry   time.Time `json:"next_retry"`
	// ClockOffsetS is this box's clock minus the cloud's (nil: unknown).
	ClockOffsetS   *int64 `json:"clock_offset_s"`
	ClockCorrected bool   `json:"clock_corrected"`
}

// Sync writes the upstream queue report; running says whether the figures
// came from the daemon or, with it stopped, from the data directory.
func Sync(w io.Writer, cfg *config.Config, r SyncReport, running bool) {
	upstreamDesc := "not configured (set upstream.url and upstream.secret)"
	switch {
	case cfg.Upstream.Kind == "nats" && cfg.Upstream.NATSURL != "":
		upstreamDesc = "nats " + cfg.Upstream.NATSURL
	case cfg.Upstream.URL != "":
		upstreamDesc = cfg.Upstream.URL
	}
	fmt.Fprintf(w, "upstream:      %s\n", upstreamDesc)
	switch {
	case !running:
		fmt.Fprintln(w, "daemon:        not running (figures read from the data directory)")
	case r.Configured != nil && !*r.Configured:
		fmt.Fprintln(w, "daemon:        running, upstream off")
	case r.Online:
		fmt.Fprintln(w, "connection:    online")
	case r.SigRejected:
		fmt.Fprintln(w, "connection:    REFUSED: the cloud rejected the signature; check upstream.secret and the clock")
	default:
		fmt.Fprintln(w, "connection:    OFFLINE")
	}
	fmt.Fprintf(w, "queue:         %s", Plural(r.Depth, "event"))
	if r.Depth > 0 {
		fmt.Fprintf(w, ", oldest %s ago", (time.Duration(r.OldestAgeS) * time.Second).Round(time.Second))
	}
	fmt.Fprintf(w, " (last seq %d)\n", r.LastSeq)
	if running && (r.Configured == nil || *r.Configured) {
		fmt.Fprintf(w, "sent:          %s since start\n", Plural(int(r.Sent), "event"))
		fmt.Fprintf(w, "last success:  %s\n", ago(r.LastSuccess))
		if r.LastError != "" {
			fmt.Fprintf(w, "last error:    %s (%s)\n", termtext.Safe(r.LastError), ago(r.LastErrorAt))
		}
		if !r.NextRetry.IsZero() && time.Until(r.NextRetry) > 0 {
			fmt.Fprintf(w, "next retry:    in %s\n", time.Until(r.NextRetry).Round(time.Second))
		}
		if r.ClockOffsetS != nil {
			off := time.Duration(*r.ClockOffsetS) * time.Second
			switch {
			case r.ClockCorrected:
				fmt.Fprintf(w, "clock:         %s: signing with the cloud's time; set the clock (timedatectl set-ntp true)\n", upstream.DescribeOffset(off))
			case off != 0:
				fmt.Fprintf(w, "clock:         within %s of the cloud's\n", max(off, -off))
			default:
				fmt.Fprintln(w, "clock:         agrees with the cloud's")
			}
		}
	}
	fmt.Fprintf(w, "dead letters:  %d", r.DeadLetters)
	if r.DeadLetters > 0 {
		fmt.Fprint(w, " (refused by the cloud; see the status page)")
	}
	fmt.Fprintln(w)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime) + ", " + time.Since(t).Round(time.Second).String() + " ago"
}

// Plural writes "1 event", "2 events".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
