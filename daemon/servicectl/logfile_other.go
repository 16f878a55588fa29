//go:build !windows

package servicectl

import (
	"io"
	"log/slog"
	"os"
)

func serviceLogWriter() io.Writer { return os.Stderr }

// serviceHandler: systemd's journal already has what the daemon writes.
func serviceHandler(h slog.Handler) slog.Handler { return h }

// ReportFatal does nothing here: stderr is the journal or a console, and
// main prints the error there.
func ReportFatal(error) {}
