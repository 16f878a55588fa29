// Package scales runs the configured serial scales and answers getWeight
// from their live readings.
package scales

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/drivers/scale"
	"github.com/storebox/storebox/protocol/devmsg"
)

// Service owns the scale drivers.
type Service struct {
	log        *slog.Logger
	scales     map[string]*scale.Scale
	order      []string
	byTerminal map[string]string // terminal equipId → scale id
}

// New creates a driver per [[scales]] entry (it does not open ports yet).
func New(cfgs []config.Scale, log *slog.Logger) (*Service, error) {
	s := &Service{log: log, scales: map[string]*scale.Scale{}, byTerminal: map[string]string{}}
	for _, c := range cfgs {
		sc, err := scale.New(scale.Config{ID: c.ID, Port: c.Port, Protocol: c.Protocol, Baud: c.Baud, DataBits: c.DataBits,
			Parity: c.Parity, StopBits: c.StopBits, PollMS: c.PollMS}, scale.Options{Log: log.With("scale", c.ID)})
		if err != nil {
			return nil, fmt.Errorf("scales %s: %w", c.ID, err)
		}
		s.scales[c.ID] = sc
		s.order = append(s.order, c.ID)
		if c.Terminal != "" {
			s.byTerminal[c.Terminal] = c.ID
		}
	}
	return s, nil
}

// Serve runs every driver until ctx ends. A missing port is not an error:
// the driver shows disconnected and keeps trying.
func (s *Service) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, id := range s.order {
		sc := s.scales[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := sc.Serve(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("scale driver stopped; restarting", "scale", id, "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// Connected counts the scales that answer now.
func (s *Service) Connected() int {
	n := 0
	for _, id := range s.order {
		if s.scales[id].Status().State == scale.Connected {
			n++
		}
	}
	return n
}

// Snapshot is the scales' state for the status page.
func (s *Service) Snapshot() []any {
	out := make([]any, 0, len(s.order))
	for _, id := range s.order {
		st := s.scales[id].Status()
		// Before the first reading its members are null, not missing.
		row := map[string]any{"id": st.ID, "port": st.Port, "protocol": st.Protocol, "state": st.State, "error": st.Error, "counters": st.Counters,
			"weight_g": nil, "stable": nil, "at": nil}
		if st.Last != nil {
			row["weight_g"], row["stable"], row["at"] = st.Last.Grams, st.Last.Stable, st.Last.At
		}
		out = append(out, row)
	}
	return out
}

// Statuses returns every scale's status in configuration order.
func (s *Service) Statuses() []scale.Status {
	out := make([]scale.Status, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.scales[id].Status())
	}
	return out
}

// ReadErrors sums the drivers' frame errors, for metrics.
func (s *Service) ReadErrors() map[string]uint64 {
	out := map[string]uint64{}
	for _, id := range s.order {
		c := s.scales[id].Counters()
		out[id] = c.Garbage + c.Partial + c.Checksum + c.Missed
	}
	return out
}

type weightBody struct {
	Scale string `json:"scale"`
}

type weightReply struct {
	WeightG  int64     `json:"weight_g"`
	Stable   bool      `json:"stable"`
	At       time.Time `json:"at"`
	Scale    string    `json:"scale"`
	Net      bool      `json:"net,omitempty"`
	Negative bool      `json:"negative,omitempty"`
}

// GetWeight is the getWeight device action: the terminal's configured scale
// or the one named. It never answers an old weight as current.
func (s *Service) GetWeight(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	var b weightBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	id := b.Scale
	if id == "" {
		id = s.byTerminal[sess.EquipID()]
		if id == "" && len(s.order) == 1 {
			id = s.order[0] // a store with one scale needs no association
		}
		if id == "" {
			return nil, devmsg.Errorf(devmsg.CodeNotFound, "no scale is configured for terminal %s (set terminal in its [[scales]] entry or send \"scale\")", sess.EquipID())
		}
	}
	sc, ok := s.scales[id]
	if !ok {
		return nil, devmsg.Errorf(devmsg.CodeNotFound, "no scale %q", id)
	}
	r, _, err := sc.Latest()
	switch {
	case err == nil:
		return weightReply{WeightG: r.Grams, Stable: r.Stable, At: r.At.UTC(), Scale: id, Net: r.Net, Negative: r.Negative}, nil
	case errors.Is(err, scale.ErrDisconnected), errors.Is(err, scale.ErrStale):
		return nil, devmsg.Errorf(devmsg.CodeOffline, "scale %s: %v", id, err)
	case errors.Is(err, scale.ErrNoWeight), errors.Is(err, scale.ErrNoReading):
		return nil, devmsg.Errorf(devmsg.CodeBusy, "scale %s: %v; try again", id, err)
	}
	return nil, fmt.Errorf("scale %s: %w", id, err)
}
