package servicectl

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"golang.org/x/term"
)

// Interactive reports whether a person is likely reading the logs: false
// under systemd (stderr is the journal stream, or INVOCATION_ID is set and
// stderr is no terminal) and under the Windows service manager.
func Interactive() bool {
	if runtime.GOOS == "windows" {
		return !isWindowsService()
	}
	if stderrIsJournal() {
		return false
	}
	if os.Getenv("INVOCATION_ID") != "" && !term.IsTerminal(int(os.Stderr.Fd())) {
		return false
	}
	return true
}

// NewLogger builds a logger for config's log.level and log.format
// (auto|text|json; auto asks Interactive). Given os.Stderr under the
// Windows service manager, it writes to the service's log file instead,
// and copies warnings and errors to the Event Log.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	service := false
	if f, ok := w.(*os.File); ok && f == os.Stderr && !Interactive() {
		w, service = serviceLogWriter(), true
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: durationText}
	var h slog.Handler
	switch format {
	case "auto", "":
		if Interactive() {
			h = slog.NewTextHandler(w, opts)
		} else {
			h = slog.NewJSONHandler(w, opts)
		}
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: use auto, text or json", format)
	}
	if service && runtime.GOOS == "windows" {
		h = serviceHandler(h)
	}
	return slog.New(h), nil
}

// durationText writes a duration as "11ms" rather than nanoseconds (JSON's
// default): the journal and a log shipper show what the text format shows.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
