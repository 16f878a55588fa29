package devices

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// newLimitLogEvery is how often refusals under devices.new_devices_per_minute
// are logged: a flood of invented equipIds must not become a flood of log
// lines.
const newLimitLogEvery = 10 * time.Second

// newLimitLog logs refusals of clients over their rate of new devices, one
// line per newLimitLogEvery with what was refused since the last line.
type newLimitLog struct {
	mu     sync.Mutex
	last   time.Time
	logins int // logins refused since the last line
	conns  int // connections closed at accept since the last line
}

// refused notes a login of a new device refused; closed a connection of
// an over-rate client closed as it was accepted.
func (l *newLimitLog) refused(log *slog.Logger, client netip.Prefix, id string) {
	l.note(log, client, id, 1, 0)
}

func (l *newLimitLog) closed(log *slog.Logger, client netip.Prefix) { l.note(log, client, "", 0, 1) }

func (l *newLimitLog) note(log *slog.Logger, client netip.Prefix, id string, logins, conns int) {
	l.mu.Lock()
	l.logins += logins
	l.conns += conns
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < newLimitLogEvery {
		l.mu.Unlock()
		return
	}
	nl, nc := l.logins, l.conns
	l.last, l.logins, l.conns = now, 0, 0
	l.mu.Unlock()
	args := []any{"client", client, "logins_refused", nl, "connections_closed", nc}
	if id != "" {
		args = append(args, "equipId", id)
	}
	log.Warn("new devices refused: a client logs in unknown equipIds faster than devices.new_devices_per_minute; its connections are closed as they are accepted until it is under the rate", args...)
}
