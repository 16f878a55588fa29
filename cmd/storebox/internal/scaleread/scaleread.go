// Package scaleread reads a serial scale from the command line: the
// scale's config, the protocols asked for, and the weights as lines.
package scaleread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/protocol/scaleproto"
)

// FromConfig maps a [[scales]] entry onto the driver's config.
func FromConfig(c config.Scale) scale.Config {
	return scale.Config{
		ID: c.ID, Port: c.Port, Protocol: c.Protocol,
		Baud: c.Baud, DataBits: c.DataBits, Parity: c.Parity, StopBits: c.StopBits, PollMS: c.PollMS,
	}
}

// Target resolves ID|PORT: a configured scale id (from load's config) wins;
// otherwise the argument is a port path read with the flags. A port that
// is not there fails now: it will not appear by waiting.
func Target(load func() (*config.Config, error), arg string, flags scale.Config, protocolSet bool) (scale.Config, error) {
	c, err := target(load, arg, flags, protocolSet)
	if err != nil {
		return c, err
	}
	if _, err := os.Stat(c.Port); errors.Is(err, fs.ErrNotExist) {
		where := c.Port
		if c.ID != c.Port {
			where = "scale " + c.ID + ": port " + c.Port
		}
		return scale.Config{}, fmt.Errorf("%s does not exist (plugged in? ls /dev/serial/by-id/)", where)
	}
	return c, nil
}

func target(load func() (*config.Config, error), arg string, flags scale.Config, protocolSet bool) (scale.Config, error) {
	if !strings.ContainsRune(arg, os.PathSeparator) && !strings.HasPrefix(strings.ToUpper(arg), "COM") {
		cfg, err := load()
		if err != nil {
			return scale.Config{}, err
		}
		for _, sc := range cfg.Scales {
			if sc.ID == arg {
				c := FromConfig(sc)
				if protocolSet {
					c.Protocol = flags.Protocol
				}
				return c, nil
			}
		}
		ids := make([]string, 0, len(cfg.Scales))
		for _, sc := range cfg.Scales {
			ids = append(ids, sc.ID)
		}
		if len(ids) == 0 {
			return scale.Config{}, fmt.Errorf("no scale %q: the config has no [[scales]]; give a port path such as /dev/ttyUSB0", arg)
		}
		return scale.Config{}, fmt.Errorf("no scale %q in the config (configured: %s); or give a port path", arg, strings.Join(ids, ", "))
	}
	c := flags
	c.ID, c.Port = arg, arg
	return c, nil
}

// ParseProtocols reads --protocol values (comma lists too); auto means all.
func ParseProtocols(names []string) ([]scaleproto.Protocol, error) {
	var out []scaleproto.Protocol
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if part == "" || strings.EqualFold(part, scale.Auto) {
				continue
			}
			p, err := scaleproto.ParseProtocol(part)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// ProtocolNames lists the protocols for flag help.
func ProtocolNames() string {
	names := make([]string, len(scaleproto.Protocols))
	for i, p := range scaleproto.Protocols {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// Read runs the driver until the first weight (or, with watch, until
// ctx ends), printing each reading.
func Read(ctx context.Context, out io.Writer, s *scale.Scale, watch bool, timeout time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, unsub := s.Subscribe()
	defer unsub()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var last string
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			if watch && last != "" {
				deadline = nil
				continue
			}
			_, st, err := s.Latest()
			if lastErr != nil {
				err = lastErr
			}
			return fmt.Errorf("no weight from %s within %s (state %s: %v)", s.ID(), timeout, st, err)
		case u := <-sub:
			line := formatUpdate(u, s.Protocol())
			if u.Err != nil && !errors.Is(u.Err, scale.ErrNoWeight) {
				lastErr = u.Err
				if !watch {
					continue // keep trying until the timeout
				}
			}
			// A poll that reads the same weight is not a change: compare
			// without the time of reading.
			if key := formatUpdate(scale.Update{ID: u.ID, State: u.State, Err: u.Err, Reading: readingWithoutTime(u.Reading)}, s.Protocol()); key != last {
				fmt.Fprintln(out, line)
				last = key
			}
			if !watch && u.Err == nil {
				return nil
			}
		}
	}
}

func readingWithoutTime(r scaleproto.Reading) scaleproto.Reading {
	r.At = time.Time{}
	return r
}

func formatUpdate(u scale.Update, p scaleproto.Protocol) string {
	at := u.Reading.At.Format(time.RFC3339Nano)
	if u.Err != nil {
		return fmt.Sprintf("%s\t%s\t%s\t%v", u.ID, p, u.State, u.Err)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", u.ID, p, u.State, u.Reading, at)
}
