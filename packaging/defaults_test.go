package packaging

import (
	"bufio"
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/storebox/storebox/daemon/config"
)

const examplesMarker = "# ---- examples"

// canonical renders a config for comparison (Path and line maps excluded).
func canonical(t *testing.T, c *config.Config) string {
	t.Helper()
	b, err := toml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func expectedDefaults() *config.Config {
	d := config.Default()
	d.DataDir = InstalledDataDir
	return d
}

func TestDefaultConfigLoads(t *testing.T) {
	c, err := config.Parse("storebox.toml", DefaultConfig)
	if err != nil {
		t.Fatalf("packaged config does not load:\n%v", err)
	}
	if got, want := canonical(t, c), canonical(t, expectedDefaults()); got != want {
		t.Errorf("packaged config differs from the defaults:\n got:\n%s\nwant:\n%s", got, want)
	}
}

var defaultLine = regexp.MustCompile(`^# ([a-z0-9_]+ = .*)$`)

// TestListedValuesAreTheDefaults uncomments every key line above the
// examples: the result must equal the built-in defaults, so the file never
// advertises a default the daemon does not use.
func TestListedValuesAreTheDefaults(t *testing.T) {
	head, _, ok := bytes.Cut(DefaultConfig, []byte(examplesMarker))
	if !ok {
		t.Fatalf("marker %q missing", examplesMarker)
	}
	var out strings.Builder
	n := 0
	for _, line := range strings.Split(string(head), "\n") {
		if m := defaultLine.FindStringSubmatch(line); m != nil {
			line = m[1]
			n++
		}
		out.WriteString(line + "\n")
	}
	if n < 30 {
		t.Fatalf("only %d default lines found", n)
	}
	c, err := config.Parse("uncommented.toml", []byte(out.String()))
	if err != nil {
		t.Fatalf("uncommented defaults do not load:\n%v\n%s", err, out.String())
	}
	if got, want := canonical(t, c), canonical(t, expectedDefaults()); got != want {
		t.Errorf("listed values are not the defaults:\n got:\n%s\nwant:\n%s", got, want)
	}
}

var anyKeyLine = regexp.MustCompile(`^# ((\[\[?[a-z._]+\]\]?)|(("[^"]+"|[a-z0-9_]+) = .*))$`)

// TestExamplesAreValid uncomments everything, examples included.
func TestExamplesAreValid(t *testing.T) {
	var out strings.Builder
	for _, line := range strings.Split(string(DefaultConfig), "\n") {
		if m := anyKeyLine.FindStringSubmatch(line); m != nil {
			line = m[1]
		}
		out.WriteString(line + "\n")
	}
	c, err := config.Parse("examples.toml", []byte(out.String()))
	if err != nil {
		t.Fatalf("uncommented examples do not load:\n%v\n%s", err, out.String())
	}
	if len(c.Doors) != 1 || len(c.Scales) != 1 || len(c.Devices.Tokens) != 1 {
		t.Errorf("examples: %d doors, %d scales, %d tokens; want 1 each", len(c.Doors), len(c.Scales), len(c.Devices.Tokens))
	}
}

// keys lists every dotted TOML key of t: arrays of tables as "doors.id",
// maps as the table name.
func keys(prefix string, t reflect.Type, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(config.Duration{}) {
			keys(key+".", ft, out)
			continue
		}
		out[key] = true
	}
}

var header = regexp.MustCompile(`^(?:# )?\[\[?([a-z._]+)\]\]?$`)
var keyLine = regexp.MustCompile(`^(?:# )?([a-z0-9_]+) = `)

func TestEveryKeyIsListed(t *testing.T) {
	want := map[string]bool{}
	keys("", reflect.TypeOf(config.Config{}), want)
	listed := map[string]bool{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(DefaultConfig))
	for sc.Scan() {
		line := sc.Text()
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1] + "."
			listed[m[1]] = true
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			listed[section+m[1]] = true
		}
	}
	for k := range want {
		if !listed[k] {
			t.Errorf("key %s is not listed in storebox.toml", k)
		}
	}
	if len(want) < 40 {
		t.Errorf("only %d keys found in config.Config; reflection walk broken?", len(want))
	}
}

// TestWindowsConfig: the Windows default config loads, names no Linux
// path or tool, and leaves data_dir to the Windows default (every edit
// still matches DefaultConfig's text).
func TestWindowsConfig(t *testing.T) {
	for _, e := range windowsEdits {
		if !strings.Contains(string(DefaultConfig), e.linux) {
			t.Errorf("storebox.toml no longer has %q: update windowsEdits", e.linux)
		}
	}
	w := string(WindowsConfig())
	if m := regexp.MustCompile(`/var/lib|/etc/storebox|systemctl|\./storebox-data|group storebox`).FindString(w); m != "" {
		t.Errorf("Windows config mentions %q", m)
	}
	if strings.Count(w, "\r\n") != strings.Count(w, "\n") {
		t.Error("not CRLF throughout")
	}
	c, err := config.Parse("storebox.toml", []byte(w))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != config.DefaultHandDataDir {
		t.Errorf("data_dir %q, want the default %q", c.DataDir, config.DefaultHandDataDir)
	}
}
