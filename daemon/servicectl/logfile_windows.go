package servicectl

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// maxLogBytes caps storebox.log; at start a larger file becomes storebox.log.1.
const maxLogBytes = 32 << 20

// LogDir is where the Windows service logs: %ProgramData%\storebox\logs.
func LogDir() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return filepath.Join(pd, Name, "logs")
	}
	return `C:\ProgramData\storebox\logs`
}

// serviceLogWriter opens the Windows service's log file, since a service has
// no console. It falls back to stderr if the file cannot be opened.
func serviceLogWriter() io.Writer {
	f, err := openLogFile(LogDir())
	if err != nil {
		return os.Stderr
	}
	return f
}

func openLogFile(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "storebox.log")
	if fi, err := os.Stat(p); err == nil && fi.Size() > maxLogBytes {
		_ = os.Rename(p, p+".1")
	}
	return os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// ReportFatal records why storebox is exiting with err where a service's
// operator looks: under the Windows service manager, which gives a service
// no console, the log file and the Event Log (source storebox, which the
// install registers). A config error or a failed start left no trace
// before (stderr goes nowhere). In a console it does nothing: main prints
// err to stderr.
func ReportFatal(err error) {
	if err == nil || Interactive() {
		return
	}
	reportFatal(err, LogDir(), openEventLog())
}

// eventWriter is the part of *eventlog.Log the reports use.
type eventWriter interface {
	Error(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Close() error
}

func reportFatal(err error, logDir string, ev eventWriter) error {
	msg := "storebox stopped: " + err.Error()
	var errs []string
	if f, ferr := openLogFile(logDir); ferr == nil {
		// The JSON the service's logger writes, so one reader reads both.
		slog.New(slog.NewJSONHandler(f, nil)).Error("storebox stopped", "err", err.Error())
		f.Close()
	} else {
		errs = append(errs, "log file: "+ferr.Error())
	}
	if ev != nil {
		if eerr := ev.Error(eventFatal, msg); eerr != nil {
			errs = append(errs, "event log: "+eerr.Error())
		}
		ev.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("report %q: %s", msg, strings.Join(errs, "; "))
	}
	return nil
}
