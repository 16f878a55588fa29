package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// Issue 19 items 5 and 9: `config check` and `run` over the same mutated
// copies of the shipped file. Each mistake `run` used to refuse only at
// start (exit 1, restarted every 2 s by the unit) or to run into later is
// refused by both, with the file's line and key, exit 78.
func TestConfigCheckAndRunAgree(t *testing.T) {
	bin := harness.Binary(t)
	shipped, err := os.ReadFile(filepath.Join(harness.ModuleRoot(), "packaging", "storebox.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	base := strings.Replace(string(shipped), `data_dir = "/var/lib/storebox"`, `data_dir = "`+filepath.Join(dir, "data")+`"`, 1)
	door := "# [[doors]]\n# id = \"front\"\n# Plain text or a bcrypt hash ($2a$/$2b$/$2y$) of cost 4 to 14.\n# secret = \"change-me\"\n# entry | exit | staff\n# policy = \"entry\""
	for _, c := range []struct{ name, old, new, want string }{
		{"bcrypt cost 31", door, "[[doors]]\nid = \"front\"\nsecret = \"$2a$31$" + strings.Repeat("a", 53) + "\"\npolicy = \"entry\"", "doors[0].secret: bcrypt cost 31 is outside 4..14"},
		{"invalid bcrypt", door, "[[doors]]\nid = \"front\"\nsecret = \"$2y$10$nothash\"\npolicy = \"entry\"", "doors[0].secret: looks like a bcrypt hash but is not valid"},
		{"mqtt on http", `# listen = ":1883"`, `listen = ":8680"`, `mqtt.listen: ":8680" is also http.listen`},
		{"cert not PEM", "# tls_listen = \"\"\n# tls_cert = \"\"\n# tls_key = \"\"", "tls_listen = \":8883\"\ntls_cert = \"" + notPEM + "\"\ntls_key = \"" + notPEM + "\"", "mqtt.tls_cert: with mqtt.tls_key " + notPEM},
		{"heartbeat overflow", `# heartbeat = "15s"`, `heartbeat = "1000000h"`, "devices.heartbeat: must be at most 1h"},
		{"admin token blank", `# admin_token = ""`, `admin_token = "   "`, "http.admin_token: is only whitespace"},
		{"approve id with escape", `# approve = []`, `approve = ["T-\u001b[2J"]`, "devices.approve[0]: equipId holds the control character U+001B"},
	} {
		if !strings.Contains(base, c.old) {
			t.Fatalf("%s: the shipped file no longer has %q", c.name, c.old)
		}
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".toml")
		os.WriteFile(path, []byte(strings.Replace(base, c.old, c.new, 1)), 0o644)
		for _, args := range [][]string{{"config", "check", path}, {"run", "--config", path}} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			cancel()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			located := regexp.MustCompile(regexp.QuoteMeta(path) + `:\d+: ` + regexp.QuoteMeta(c.want))
			if code != 78 || !located.Match(out) {
				t.Errorf("%s: %s %s: exit %d, want 78 and file:line: %q:\n%s", c.name, args[0], args[1], code, c.want, out)
			}
		}
	}
	path := filepath.Join(dir, "shipped.toml")
	os.WriteFile(path, []byte(base), 0o644)
	if out, code := exitCode(t, bin, "config", "check", path); code != 0 {
		t.Fatalf("the shipped file: exit %d\n%s", code, out)
	}
}
