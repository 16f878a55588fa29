package servicectl

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNewLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("door stuck", "door", "front")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if rec["msg"] != "door stuck" || rec["door"] != "front" || rec["level"] != "WARN" {
		t.Errorf("record %v", rec)
	}

	// Durations read as in the text format, also inside groups.
	buf.Reset()
	l.Warn("slow", "took", 11*time.Millisecond, slog.Group("sync", "lag", 90*time.Second))
	if !strings.Contains(buf.String(), `"took":"11ms"`) || !strings.Contains(buf.String(), `"sync":{"lag":"1m30s"}`) {
		t.Errorf("durations in JSON: %s", buf.String())
	}

	buf.Reset()
	l, _ = NewLogger(&buf, "text", "debug")
	l.Debug("hello", "k", "v")
	if !strings.Contains(buf.String(), "level=DEBUG msg=hello k=v") {
		t.Errorf("text output %q", buf.String())
	}

	if _, err := NewLogger(&buf, "xml", "info"); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := NewLogger(&buf, "text", "loud"); err == nil {
		t.Error("level loud accepted")
	}
}

// Issue 19 item 7: the text log (what a technician tails on a terminal)
// shows a device's control characters escaped, in the message, values,
// errors and keys alike (slog's text handler quotes them; this keeps the
// daemon on a handler that does).
func TestTextLogEscapesDeviceText(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	evil := "T-\x1b[2J\x1b]0;pwned\x07\u009b31m\u202e\n"
	l.Info("device "+evil, "equipId", evil, "err", errors.New(evil), evil, 1)
	out := strings.TrimSuffix(buf.String(), "\n")
	for _, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e {
			t.Fatalf("text log holds %U raw: %q", r, out)
		}
	}
}
