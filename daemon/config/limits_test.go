package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 19 items 5 and 9: what `run` refused (or ran into) while `config
// check` passed is refused by the one validation, naming the line and key.
func TestValidateRefusesWhatRunCannotUse(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	cost := func(n int) string { return fmt.Sprintf("$2a$%02d$", n) + strings.Repeat("a", 53) }
	for _, c := range []struct{ name, doc, want string }{
		{"bcrypt cost 31", "[[doors]]\nid = \"D1\"\npolicy = \"entry\"\nsecret = \"" + cost(31) + "\"\n", "c.toml:4: doors[0].secret: bcrypt cost 31 is outside 4..14"},
		{"invalid bcrypt", "[[doors]]\nid = \"D1\"\npolicy = \"entry\"\nsecret = \"$2b$10$tooshort\"\n", "c.toml:4: doors[0].secret: looks like a bcrypt hash but is not valid"},
		{"reserved door id", "[[doors]]\nid = \"inline\"\npolicy = \"entry\"\nsecret = \"s\"\n", "c.toml:2: doors[0].id: \"inline\" is reserved"},
		{"mqtt on http", "[mqtt]\nlisten = \":8680\"\n", "c.toml:2: mqtt.listen: \":8680\" is also http.listen"},
		{"http on devices", "[http]\nlisten = \"127.0.0.1:8686\"\n", "c.toml:2: http.listen: \"127.0.0.1:8686\" is also devices.listen"},
		{"tls on mqtt", "[mqtt]\nlisten = \"localhost:1884\"\ntls_listen = \"127.0.0.1:1884\"\ntls_cert = '" + notPEM + "'\ntls_key = '" + notPEM + "'\n", "c.toml:3: mqtt.tls_listen: \"127.0.0.1:1884\" is also mqtt.listen"},
		{"cert not PEM", "[mqtt]\ntls_listen = \":8883\"\ntls_cert = '" + notPEM + "'\ntls_key = '" + notPEM + "'\n", "c.toml:3: mqtt.tls_cert: with mqtt.tls_key " + notPEM + ": tls: failed to find any PEM data"},
		{"client CA not PEM", "[mqtt]\ntls_listen = \":8883\"\ntls_cert = '" + notPEM + "'\ntls_key = '" + notPEM + "'\ntls_client_ca = '" + notPEM + "'\n", "c.toml:5: mqtt.tls_client_ca: " + notPEM + " holds no PEM certificate"},
		{"heartbeat overflow", "[devices]\nheartbeat = \"1000000h\"\n", "c.toml:2: devices.heartbeat: must be at most 1h"},
		{"timeout too long", "[upstream]\ntimeout = \"11m\"\n", "c.toml:2: upstream.timeout: must be at most 10m"},
		{"alarm age", "[fleet]\nqueue_alarm_age = \"800h\"\n", "c.toml:2: fleet.queue_alarm_age: must be at most 720h"},
		{"admin token blank", "[http]\nadmin_token = \"   \"\n", "c.toml:2: http.admin_token: is only whitespace"},
		{"approve id too long", "[devices]\napprove = [\"" + strings.Repeat("x", 129) + "\"]\n", "c.toml:2: devices.approve[0]: equipId is 129 bytes; at most 128"},
		{"reject id escape", "[devices]\nreject = [\"T-\\u001b[2J\"]\n", "c.toml:2: devices.reject[0]: equipId holds the control character U+001B"},
		{"data bits", "[[scales]]\nid = \"s\"\nport = \"/dev/null\"\ndata_bits = 9\n", "c.toml:4: scales[0].data_bits: must be 5 to 8"},
		{"qpay key", "[payments]\nprovider = \"qpay\"\n[payments.qpay]\nbase_url = \"https://x\"\nshop_no = \"N1\"\na1 = \"zz\"\na2 = \"zz\"\nb1 = \"zz\"\nb2 = \"zz\"\n", "payments.qpay.a1: "},
	} {
		_, err := Parse("c.toml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %q", c.name, err, c.want)
		}
	}
	// At the bounds, and port 0 twice, are fine.
	for _, doc := range []string{
		"[devices]\nheartbeat = \"1h\"\n",
		"[[doors]]\nid = \"D1\"\npolicy = \"entry\"\nsecret = \"" + cost(14) + "\"\n",
		"[mqtt]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
		"[mqtt]\nlisten = \"127.0.0.1:8680\"\n[http]\nlisten = \"127.0.0.2:8680\"\n",
	} {
		if _, err := Parse("c.toml", []byte(doc)); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}
