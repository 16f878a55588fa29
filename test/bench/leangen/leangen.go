//go:build linux

// Package leangen is a load generator for length-framed device requests
// that costs the machine as little as it can: one OS thread, one epoll set
// over every connection, a read and a write per request, and a timerfd for
// pacing. The bench runs on the same two cores as the daemon it measures;
// a goroutine-per-connection client spends about as much CPU on its own
// sockets and wake-ups as the daemon spends answering, so the figure would
// measure the two processes fighting for the cores. wrk is written this way
// for the same reason.
package leangen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Config says what to send and how fast.
type Config struct {
	// Requests holds, for each connection, the framed requests it cycles
	// through.
	Requests [][][]byte
	Duration time.Duration
	// Rate is the total requests per second, spread evenly over the
	// connections with at most one in flight on each; 0 sends the next
	// request as soon as the reply arrives (closed loop).
	Rate int
	// Skip says a frame is not a reply (a server push such as a heartbeat).
	Skip func(frame []byte) bool
	// Check vets each reply; an error stops the run.
	Check func(reply []byte) error
	// CPU, when ≥ 0, pins the generator's thread to that CPU and makes it
	// poll instead of sleeping: it then never waits to be woken, and
	// never takes the daemon's CPU.
	CPU int
}

// Result is what a run measured. Service latencies run from a request's
// write to its reply; Due latencies from when it was due (paced runs only;
// coordinated omission corrected, as wrk2 does).
type Result struct {
	Replies int
	Elapsed time.Duration
	Service []time.Duration // sorted
	Due     []time.Duration // sorted; empty for closed-loop runs
}

// Rate is replies per second.
func (r Result) Rate() float64 { return float64(r.Replies) / r.Elapsed.Seconds() }

// Quantile is the q-quantile (0 ≤ q < 1) of sorted latencies.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted))*q)]
}

type conn struct {
	f       *os.File
	fd      int
	reqs    [][]byte
	next    int
	busy    bool
	sentAt  int64
	dueAt   int64
	pending []int64 // dues that came while a request was in flight
	buf     []byte
	have    int
}

// Run takes over conns (already connected and logged in; they are closed
// when Run returns) and drives them as cfg says.
func Run(conns []*net.TCPConn, cfg Config) (Result, error) {
	if len(cfg.Requests) != len(conns) {
		for _, c := range conns {
			c.Close()
		}
		return Result{}, fmt.Errorf("leangen: %d request lists for %d connections", len(cfg.Requests), len(conns))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := &run{cfg: cfg, spin: cfg.CPU >= 0, ep: -1, tfd: -1, end: int64(cfg.Duration)}
	if r.spin {
		var set unix.CPUSet
		set.Set(cfg.CPU)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return Result{}, fmt.Errorf("leangen: pin to CPU %d: %w", cfg.CPU, err)
		}
		// The thread goes back to Go's pool when Run returns.
		defer func() {
			var all unix.CPUSet
			for i := range runtime.NumCPU() {
				all.Set(i)
			}
			unix.SchedSetaffinity(0, &all)
		}()
	}
	defer r.close()
	if err := r.open(conns); err != nil {
		return Result{}, err
	}
	if err := r.loop(); err != nil {
		return r.res, err
	}
	slices.Sort(r.res.Service)
	slices.Sort(r.res.Due)
	return r.res, nil
}

// run is one Run's state. Paced, slot s is due at s*slot and belongs to
// connection s mod n, so each connection sends every n slots and they
// take turns evenly.
type run struct {
	cfg      Config
	spin     bool
	cs       []*conn
	ep, tfd  int // the epoll set; the pacing timer (-1 when polling or closed loop)
	t0       time.Time
	end      int64 // ns after t0
	slot     int64 // ns between paced requests
	nextSlot int64
	res      Result
}

func (r *run) now() int64 { return int64(time.Since(r.t0)) }

// timerID marks the pacing timer's events in the epoll set.
func (r *run) timerID() int32 { return int32(len(r.cs)) }

func (r *run) open(conns []*net.TCPConn) error {
	var err error
	if r.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("leangen: epoll: %w", err)
	}
	r.cs = make([]*conn, len(conns))
	for i, tc := range conns {
		// A duplicate descriptor, taken out of Go's netpoller by closing
		// the original, so only this loop wakes for it.
		f, err := tc.File()
		tc.Close()
		if err != nil {
			return fmt.Errorf("leangen: conn %d: %w", i, err)
		}
		r.cs[i] = &conn{f: f, fd: int(f.Fd()), reqs: r.cfg.Requests[i], buf: make([]byte, 64<<10)}
		if err := unix.SetNonblock(r.cs[i].fd, true); err != nil {
			return fmt.Errorf("leangen: conn %d: %w", i, err)
		}
		if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, r.cs[i].fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}); err != nil {
			return fmt.Errorf("leangen: conn %d: epoll add: %w", i, err)
		}
	}
	if r.cfg.Rate > 0 && !r.spin {
		if r.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
			return fmt.Errorf("leangen: timerfd: %w", err)
		}
		if err := unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, r.tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: r.timerID()}); err != nil {
			return fmt.Errorf("leangen: timerfd: epoll add: %w", err)
		}
	}
	return nil
}

func (r *run) close() {
	for _, c := range r.cs {
		if c != nil {
			c.f.Close()
		}
	}
	for _, fd := range []int{r.ep, r.tfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (r *run) loop() error {
	r.res.Service = make([]time.Duration, 0, 1<<20)
	r.t0 = time.Now()
	if r.cfg.Rate > 0 {
		r.slot = int64(time.Second) / int64(r.cfg.Rate)
		if err := r.arm(r.now()); err != nil {
			return err
		}
	} else {
		for _, c := range r.cs {
			if err := r.send(c, 0); err != nil {
				return err
			}
		}
	}
	events := make([]unix.EpollEvent, len(r.cs)+1)
	wait := 100
	if r.spin {
		wait = 0
	}
	var tick [8]byte
	for {
		t := r.now()
		if r.cfg.Rate == 0 && t >= r.end {
			break
		}
		if r.cfg.Rate > 0 && r.nextSlot*r.slot >= r.end && !r.inFlight() {
			break
		}
		if t > r.end+int64(10*time.Second) {
			return errors.New("leangen: replies still missing 10 s after the run")
		}
		n, err := unix.EpollWait(r.ep, events, wait)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("leangen: epoll wait: %w", err)
		}
		for _, ev := range events[:n] {
			if ev.Fd == r.timerID() {
				unix.Read(r.tfd, tick[:])
				continue
			}
			if err := r.read(r.cs[ev.Fd]); err != nil {
				return err
			}
		}
		if r.cfg.Rate > 0 {
			t := r.now()
			if err := r.release(t); err != nil {
				return err
			}
			if err := r.arm(t); err != nil {
				return err
			}
		}
	}
	r.res.Elapsed = time.Since(r.t0)
	if r.cfg.Rate > 0 {
		r.res.Elapsed = min(r.res.Elapsed, r.cfg.Duration+time.Duration(r.slot))
	}
	return nil
}

func (r *run) send(c *conn, due int64) error {
	req := c.reqs[c.next%len(c.reqs)]
	c.next++
	c.busy, c.dueAt, c.sentAt = true, due, r.now()
	for {
		n, err := unix.Write(c.fd, req)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("leangen: write: %w", err)
		}
		if n != len(req) {
			// One small request in flight never fills a socket buffer.
			return fmt.Errorf("leangen: short write (%d of %d bytes)", n, len(req))
		}
		return nil
	}
}

func (r *run) inFlight() bool {
	for _, c := range r.cs {
		if c.busy {
			return true
		}
	}
	return false
}

// release sends what is due by t; a connection still waiting for a reply
// keeps its due times and sends as soon as the reply comes.
func (r *run) release(t int64) error {
	for ; r.nextSlot*r.slot <= t && r.nextSlot*r.slot < r.end; r.nextSlot++ {
		c := r.cs[r.nextSlot%int64(len(r.cs))]
		if c.busy {
			c.pending = append(c.pending, r.nextSlot*r.slot)
			continue
		}
		if err := r.send(c, r.nextSlot*r.slot); err != nil {
			return err
		}
	}
	return nil
}

// arm sets the pacing timer for the next slot.
func (r *run) arm(t int64) error {
	if r.tfd < 0 || r.nextSlot*r.slot >= r.end {
		return nil
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(r.nextSlot*r.slot-t, 1))}
	if err := unix.TimerfdSettime(r.tfd, 0, &spec, nil); err != nil {
		return fmt.Errorf("leangen: arm timer: %w", err)
	}
	return nil
}

// read takes what c's socket holds and handles every whole frame.
func (r *run) read(c *conn) error {
	m, err := unix.Read(c.fd, c.buf[c.have:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return nil
	}
	if err != nil {
		return fmt.Errorf("leangen: read: %w", err)
	}
	if m == 0 {
		return errors.New("leangen: the server closed a connection")
	}
	c.have += m
	off := 0
	for c.have-off >= 4 {
		size := int(binary.BigEndian.Uint32(c.buf[off:]))
		if c.have-off-4 < size {
			break
		}
		frame := c.buf[off+4 : off+4+size]
		off += 4 + size
		if err := r.reply(c, frame); err != nil {
			return err
		}
	}
	copy(c.buf, c.buf[off:c.have])
	c.have -= off
	if c.have == len(c.buf) { // a frame larger than the buffer
		c.buf = slices.Grow(c.buf, len(c.buf))[:2*len(c.buf)]
	}
	return nil
}

// reply records one frame from c and sends c's next request if one is due.
func (r *run) reply(c *conn, frame []byte) error {
	if r.cfg.Skip != nil && r.cfg.Skip(frame) {
		return nil
	}
	if !c.busy {
		return fmt.Errorf("leangen: a reply nobody asked for: %.80s", frame)
	}
	t := r.now()
	c.busy = false
	r.res.Replies++
	r.res.Service = append(r.res.Service, time.Duration(t-c.sentAt))
	if r.cfg.Rate > 0 {
		r.res.Due = append(r.res.Due, time.Duration(t-c.dueAt))
	}
	if r.cfg.Check != nil {
		if err := r.cfg.Check(frame); err != nil {
			return err
		}
	}
	switch {
	case len(c.pending) > 0:
		due := c.pending[0]
		c.pending = c.pending[1:]
		return r.send(c, due)
	case r.cfg.Rate == 0 && t < r.end:
		return r.send(c, 0)
	}
	return nil
}
