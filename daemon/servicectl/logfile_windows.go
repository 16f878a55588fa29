package servicectl

import (
	"io"
	"os"
	"path/filepath"
)

// maxLogBytes caps storebox.log; at start a larger file becomes storebox.log.1.
const maxLogBytes = 32 << 20

// serviceLogWriter opens the Windows service's log file, since a service has
// no console. It falls back to stderr if the file cannot be opened.
func serviceLogWriter() io.Writer {
	dir := filepath.Join(os.Getenv("ProgramData"), Name, "logs")
	if os.Getenv("ProgramData") == "" {
		dir = `C:\ProgramData\storebox\logs`
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return os.Stderr
	}
	p := filepath.Join(dir, "storebox.log")
	if fi, err := os.Stat(p); err == nil && fi.Size() > maxLogBytes {
		_ = os.Rename(p, p+".1")
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return os.Stderr
	}
	return f
}
