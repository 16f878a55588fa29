package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storebox/storebox/test/harness"
)

// exitCode runs the binary and returns its combined output and exit status.
func exitCode(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%v: %v", args, err)
	return "", 0
}

// Issue 16 item 5: every mistake in a file at once, each with file:line and
// key, and every configuration error (a missing file too) exits 78.
func TestConfigErrorsAllAtOnceExit78(t *testing.T) {
	bin := harness.Binary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("store_id = \"s\"\n[devices]\nheartbeat = 15\nadmission = \"maybe\"\n[log]\nlevel = \"loud\"\n"), 0o644)
	for _, args := range [][]string{{"config", "check", bad}, {"run", "--config", bad}} {
		out, code := exitCode(t, bin, args...)
		if code != 78 {
			t.Errorf("%v: exit %d, want 78\n%s", args, code, out)
		}
		for _, want := range []string{
			bad + `:3: devices.heartbeat: not a duration (use e.g. "500ms", "60s", "15m")`,
			bad + `:4: devices.admission: "maybe" is not one of open, pairing`,
			bad + `:6: log.level: "loud" is not one of debug, info, warn, error`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: want %q in:\n%s", args, want, out)
			}
		}
	}
	missing := filepath.Join(dir, "absent.toml")
	for _, args := range [][]string{{"config", "check", missing}, {"run", "--config", missing}, {"status", "--config", missing}} {
		out, code := exitCode(t, bin, args...)
		if code != 78 || !strings.Contains(out, missing+": cannot read the file: no such file or directory") {
			t.Errorf("%v: exit %d, want 78 and the file named:\n%s", args, code, out)
		}
	}
}
