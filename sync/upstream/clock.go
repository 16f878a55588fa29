package upstream

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// SkewThreshold is how far this box's clock may be from the cloud's before
// the store signs with the cloud's time and reports clock_skew (docs/UPSTREAM.md §2).
const SkewThreshold = 2 * time.Minute

// ClockState is what the client knows about this box's clock against the
// cloud's, from the Date header of every reply.
type ClockState struct {
	// Offset is this box's clock minus the cloud's (positive: the box is
	// ahead), to about a second, as last measured.
	Offset time.Duration
	Known  bool // a reply carried a Date
	// Corrected: requests are signed with the cloud's time (this box's
	// minus Offset), because the offset is over SkewThreshold or the
	// cloud refused a signature as stale. Kept from then on, as the AWS
	// SDKs do after RequestTimeTooSkewed.
	Corrected  bool
	MeasuredAt time.Time // local time of the measurement
}

// cloudClock follows the cloud's clock from Date headers.
type cloudClock struct {
	mu     sync.Mutex
	st     ClockState
	forced bool // a stale-signature refusal: follow the cloud whatever the offset
}

// observe records a reply's Date for a request sent at sent and answered
// at recv (local clock).
func (c *cloudClock) observe(date string, sent, recv time.Time) {
	d, err := http.ParseTime(date)
	if err != nil {
		return
	}
	// Date has whole seconds: compare with the middle of the exchange,
	// truncated the same way.
	c.record(sent.Add(recv.Sub(sent)/2).Truncate(time.Second).Sub(d), recv)
}

// record takes in one measured offset.
func (c *cloudClock) record(off time.Duration, recv time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Each measurement is good to about a second: keep the offset until it
	// moves by more, so what is reported (clock_skew's subject) holds still.
	if d := off - c.st.Offset; !c.st.Known || d > 2*time.Second || d < -2*time.Second {
		c.st.Offset = off
	}
	c.st.Known, c.st.MeasuredAt = true, recv
	c.st.Corrected = c.forced || c.st.Offset > SkewThreshold || c.st.Offset < -SkewThreshold
}

// refusedStale follows the cloud's clock from now on, whatever the offset
// (once a Date was seen).
func (c *cloudClock) refusedStale() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forced = true
	c.st.Corrected = c.st.Known
}

// signingTime is local adjusted to the cloud's clock when correcting.
func (c *cloudClock) signingTime(local time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Corrected {
		return local.Add(-c.st.Offset)
	}
	return local
}

func (c *cloudClock) state() ClockState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// DescribeOffset words an offset (this box's clock minus the cloud's):
// "this box's clock is 1h0m0s behind the cloud's".
func DescribeOffset(offset time.Duration) string {
	way, d := "ahead of", offset
	if d < 0 {
		way, d = "behind", -d
	}
	return fmt.Sprintf("this box's clock is %s %s the cloud's", d.Round(time.Second), way)
}

// Follower follows a server's clock from the times it stamps on what it
// stores (a NATS server's message timestamps), by the same rule as the
// HTTP client follows the cloud's Date: over SkewThreshold off, the store
// signs with the server's time from then on.
type Follower struct{ c cloudClock }

// Observe records that the server stamped server on something sent at
// sent and acknowledged at recv (this box's clock).
func (f *Follower) Observe(server, sent, recv time.Time) {
	if server.IsZero() {
		return
	}
	f.c.record(sent.Add(recv.Sub(sent)/2).Round(0).Sub(server), recv)
}

// State is what the follower knows.
func (f *Follower) State() ClockState { return f.c.state() }

// SigningTime is local on the server's clock when correcting, else local.
func (f *Follower) SigningTime(local time.Time) time.Time { return f.c.signingTime(local) }
