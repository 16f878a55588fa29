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
	spin := cfg.CPU >= 0
	if spin {
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

	cs := make([]*conn, len(conns))
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.f.Close()
			}
		}
	}()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return Result{}, fmt.Errorf("leangen: epoll: %w", err)
	}
	defer unix.Close(ep)
	for i, tc := range conns {
		// A duplicate descriptor, taken out of Go's netpoller by closing
		// the original, so only this loop wakes for it.
		f, err := tc.File()
		tc.Close()
		if err != nil {
			return Result{}, fmt.Errorf("leangen: conn %d: %w", i, err)
		}
		fd := int(f.Fd())
		if err := unix.SetNonblock(fd, true); err != nil {
			return Result{}, fmt.Errorf("leangen: conn %d: %w", i, err)
		}
		cs[i] = &conn{f: f, fd: fd, reqs: cfg.Requests[i], buf: make([]byte, 64<<10)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}); err != nil {
			return Result{}, fmt.Errorf("leangen: conn %d: epoll add: %w", i, err)
		}
	}
	timerID := int32(len(cs))
	tfd := -1
	if cfg.Rate > 0 && !spin {
		tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			return Result{}, fmt.Errorf("leangen: timerfd: %w", err)
		}
		defer unix.Close(tfd)
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: timerID}); err != nil {
			return Result{}, fmt.Errorf("leangen: timerfd: epoll add: %w", err)
		}
	}

	t0 := time.Now()
	now := func() int64 { return int64(time.Since(t0)) }
	end := int64(cfg.Duration)
	res := Result{Service: make([]time.Duration, 0, 1<<20)}
	send := func(c *conn, due int64) error {
		req := c.reqs[c.next%len(c.reqs)]
		c.next++
		c.busy, c.dueAt, c.sentAt = true, due, now()
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

	// Paced: slot s is due at s*slot and belongs to connection s mod n, so
	// each connection sends every n slots and they take turns evenly.
	var slot, nextSlot int64
	if cfg.Rate > 0 {
		slot = int64(time.Second) / int64(cfg.Rate)
	} else {
		for _, c := range cs {
			if err := send(c, 0); err != nil {
				return res, err
			}
		}
	}
	inFlight := func() bool {
		for _, c := range cs {
			if c.busy {
				return true
			}
		}
		return false
	}
	release := func(t int64) error { // sends what is due by t
		for ; nextSlot*slot <= t && nextSlot*slot < end; nextSlot++ {
			c := cs[nextSlot%int64(len(cs))]
			if c.busy {
				c.pending = append(c.pending, nextSlot*slot)
				continue
			}
			if err := send(c, nextSlot*slot); err != nil {
				return err
			}
		}
		return nil
	}
	arm := func(t int64) error {
		if spin || nextSlot*slot >= end {
			return nil
		}
		wait := max(nextSlot*slot-t, 1)
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(wait)}
		return unix.TimerfdSettime(tfd, 0, &spec, nil)
	}
	if cfg.Rate > 0 {
		if err := arm(now()); err != nil {
			return res, fmt.Errorf("leangen: arm timer: %w", err)
		}
	}

	events := make([]unix.EpollEvent, len(cs)+1)
	var tick [8]byte
	for {
		t := now()
		if cfg.Rate == 0 && t >= end {
			break
		}
		if cfg.Rate > 0 && nextSlot*slot >= end && !inFlight() {
			break
		}
		if t > end+int64(10*time.Second) {
			return res, errors.New("leangen: replies still missing 10 s after the run")
		}
		wait := 100
		if spin {
			wait = 0
		}
		n, err := unix.EpollWait(ep, events, wait)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("leangen: epoll wait: %w", err)
		}
		for _, ev := range events[:n] {
			if ev.Fd == timerID {
				unix.Read(tfd, tick[:])
				continue
			}
			c := cs[ev.Fd]
			m, err := unix.Read(c.fd, c.buf[c.have:])
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil {
				return res, fmt.Errorf("leangen: read: %w", err)
			}
			if m == 0 {
				return res, errors.New("leangen: the server closed a connection")
			}
			c.have += m
			if err := consume(c, cfg, &res, now, end, send); err != nil {
				return res, err
			}
		}
		if cfg.Rate > 0 {
			t := now()
			if err := release(t); err != nil {
				return res, err
			}
			if err := arm(t); err != nil {
				return res, fmt.Errorf("leangen: arm timer: %w", err)
			}
		}
	}
	res.Elapsed = time.Since(t0)
	if cfg.Rate > 0 {
		res.Elapsed = min(res.Elapsed, cfg.Duration+time.Duration(slot))
	}
	slices.Sort(res.Service)
	slices.Sort(res.Due)
	return res, nil
}

// consume handles every whole frame in c's buffer.
func consume(c *conn, cfg Config, res *Result, now func() int64, end int64, send func(*conn, int64) error) error {
	off := 0
	for c.have-off >= 4 {
		size := int(binary.BigEndian.Uint32(c.buf[off:]))
		if c.have-off-4 < size {
			break
		}
		frame := c.buf[off+4 : off+4+size]
		off += 4 + size
		if cfg.Skip != nil && cfg.Skip(frame) {
			continue
		}
		if !c.busy {
			return fmt.Errorf("leangen: a reply nobody asked for: %.80s", frame)
		}
		t := now()
		c.busy = false
		res.Replies++
		res.Service = append(res.Service, time.Duration(t-c.sentAt))
		if cfg.Rate > 0 {
			res.Due = append(res.Due, time.Duration(t-c.dueAt))
		}
		if cfg.Check != nil {
			if err := cfg.Check(frame); err != nil {
				return err
			}
		}
		switch {
		case len(c.pending) > 0:
			due := c.pending[0]
			c.pending = c.pending[1:]
			if err := send(c, due); err != nil {
				return err
			}
		case cfg.Rate == 0 && t < end:
			if err := send(c, 0); err != nil {
				return err
			}
		}
	}
	copy(c.buf, c.buf[off:c.have])
	c.have -= off
	if c.have == len(c.buf) { // a frame larger than the buffer
		c.buf = slices.Grow(c.buf, len(c.buf))[:2*len(c.buf)]
	}
	return nil
}
