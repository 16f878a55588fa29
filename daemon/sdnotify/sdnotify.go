// Package sdnotify tells systemd about the daemon's state over
// $NOTIFY_SOCKET (sd_notify(3)): READY=1 once listeners are up, STOPPING=1
// on shutdown, and WATCHDOG=1 pings while the daemon is healthy. Without
// NOTIFY_SOCKET (run by hand, tests, Windows) every call is a no-op.
//
// The daemon calls, in order:
//
//	n := sdnotify.FromEnv()
//	go n.RunWatchdog(ctx, healthy) // pings at half WatchdogSec while healthy() is true
//	... open store, bind listeners ...
//	n.Ready()
//	<-ctx.Done()
//	n.Stopping()
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends state to the service manager. The zero value is disabled.
type Notifier struct {
	// Socket is $NOTIFY_SOCKET: a path, or "@name" for an abstract socket.
	Socket string
	// WatchdogUSec is $WATCHDOG_USEC, 0 when the watchdog is off.
	WatchdogUSec int64
	// WatchdogPID is $WATCHDOG_PID, 0 when unset (the watchdog is then ours).
	WatchdogPID int
}

// FromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Malformed
// watchdog variables leave the watchdog disabled rather than failing start.
func FromEnv() Notifier {
	n := Notifier{Socket: os.Getenv("NOTIFY_SOCKET")}
	if v, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && v > 0 {
		n.WatchdogUSec = v
	}
	if v, err := strconv.Atoi(os.Getenv("WATCHDOG_PID")); err == nil && v > 0 {
		n.WatchdogPID = v
	}
	return n
}

// Notify sends one raw sd_notify message such as "READY=1\nSTATUS=up".
// It is a no-op when no service manager listens (Socket is empty).
func (n Notifier) Notify(state string) error {
	if n.Socket == "" {
		return nil
	}
	// Go maps a leading '@' to the abstract namespace, as systemd means it.
	addr := &net.UnixAddr{Name: n.Socket, Net: "unixgram"}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.Socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.Socket, err)
	}
	return nil
}

// Ready tells systemd the daemon has started (Type=notify units wait for it).
func (n Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells systemd a clean shutdown has begun.
func (n Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog sends one keep-alive ping.
func (n Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// WatchdogInterval returns WatchdogSec when systemd expects pings from this
// process, and false otherwise.
func (n Notifier) WatchdogInterval() (time.Duration, bool) {
	if n.Socket == "" || n.WatchdogUSec <= 0 {
		return 0, false
	}
	if n.WatchdogPID != 0 && n.WatchdogPID != os.Getpid() {
		return 0, false
	}
	return time.Duration(n.WatchdogUSec) * time.Microsecond, true
}

// RunWatchdog pings at half the watchdog interval, but only while healthy()
// returns true: a daemon that stops being healthy stops pinging and systemd
// restarts it after WatchdogSec. It blocks until ctx is done and returns nil
// (also when there is no watchdog), so it can run as a component. healthy
// must be quick; it is called once per tick.
func (n Notifier) RunWatchdog(ctx context.Context, healthy func() bool) error {
	interval, ok := n.WatchdogInterval()
	if !ok {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		if healthy() {
			// A lost ping is retried on the next tick; the next tick is
			// well inside the interval.
			_ = n.Watchdog()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Ready, Stopping and RunWatchdog below read the environment on each call, for
// callers that do not keep a Notifier.

// Ready sends READY=1 to $NOTIFY_SOCKET, if set.
func Ready() error { return FromEnv().Ready() }

// Stopping sends STOPPING=1 to $NOTIFY_SOCKET, if set.
func Stopping() error { return FromEnv().Stopping() }

// RunWatchdog runs Notifier.RunWatchdog with the environment's settings.
func RunWatchdog(ctx context.Context, healthy func() bool) error {
	return FromEnv().RunWatchdog(ctx, healthy)
}
