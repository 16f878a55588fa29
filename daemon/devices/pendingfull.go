package devices

import (
	"log/slog"
	"sync"
	"time"

	"github.com/storebox/storebox/daemon/store/admission"
)

// pendingFullLogEvery is how often a refused new device is logged while the
// pending records are at their cap: a flood of invented equipIds must not
// become a flood of log lines.
const pendingFullLogEvery = time.Minute

// pendingFullLog logs refusals at the pending cap, one line per
// pendingFullLogEvery with the number refused since the last line.
type pendingFullLog struct {
	mu      sync.Mutex
	last    time.Time
	dropped int
}

func (p *pendingFullLog) refused(log *slog.Logger, id, addr string) {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() && now.Sub(p.last) < pendingFullLogEvery {
		p.dropped++
		p.mu.Unlock()
		return
	}
	n := p.dropped
	p.last, p.dropped = now, 0
	p.mu.Unlock()
	log.Warn("new device refused: too many devices wait for approval; approve or reject them, or clear them all (storebox devices forget-pending)",
		"equipId", id, "addr", addr, "max_pending", admission.MaxPending, "refused_since_last_line", n)
}
