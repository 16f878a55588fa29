package servicectl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/sys/windows/svc/eventlog"
)

// Event ids storebox writes (the source registered by `service install`
// and the MSI uses EventCreate's message file, which shows the text as is).
const (
	eventFatal   = 1
	eventError   = 2
	eventWarning = 3
)

// openEventLog opens the Application log with source storebox, or returns
// nil (the file log still works).
func openEventLog() eventWriter {
	l, err := eventlog.Open(Name)
	if err != nil {
		return nil
	}
	return l
}

// eventTee passes every record to next and copies warnings and errors to
// the Event Log, where a Windows technician looks first.
type eventTee struct {
	next  slog.Handler
	ev    eventWriter
	attrs []slog.Attr
}

func (h *eventTee) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *eventTee) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(r.Message)
		add := func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true }
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		if r.Level >= slog.LevelError {
			_ = h.ev.Error(eventError, b.String())
		} else {
			_ = h.ev.Warning(eventWarning, b.String())
		}
	}
	return err
}

func (h *eventTee) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventTee{next: h.next.WithAttrs(as), ev: h.ev, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

func (h *eventTee) WithGroup(name string) slog.Handler {
	return &eventTee{next: h.next.WithGroup(name), ev: h.ev, attrs: h.attrs}
}

// serviceHandler adds the Event Log to the service's file log.
func serviceHandler(h slog.Handler) slog.Handler {
	if ev := openEventLog(); ev != nil {
		return &eventTee{next: h, ev: ev}
	}
	return h
}
