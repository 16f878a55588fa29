package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runDoctor(cfgFile string, args ...string) (string, error) {
	c := doctorCommand(&globals{configPath: cfgFile})
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestDoctorCommandGood(t *testing.T) {
	cfgFile, _ := startStatusDaemon(t, "")
	out, err := runDoctor(cfgFile)
	if err != nil {
		t.Fatalf("doctor on a running good setup: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    config: ", "ok    daemon: running", "held by storebox", "none failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorCommandBroken(t *testing.T) {
	dir := t.TempDir()
	squat, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	cfgFile := filepath.Join(dir, "storebox.toml")
	os.WriteFile(cfgFile, []byte(`data_dir = "`+filepath.Join(cfgFile, "data")+`"
[devices]
listen = "`+squat.Addr().String()+`"
[discovery]
listen = ""
[mqtt]
listen = ""
[http]
listen = ""
[[scales]]
id = "S1"
port = "/dev/nonexistent-scale"
`), 0o600)
	out, err := runDoctor(cfgFile)
	if err == nil || !strings.Contains(err.Error(), "3 check(s) failed") {
		t.Fatalf("want 3 failures, got %v\n%s", err, out)
	}
	for _, want := range []string{"fail  data directory:", "fail  devices.listen " + squat.Addr().String(), "fail  scale S1 port:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	os.WriteFile(cfgFile, []byte("[devices]\nlisten = \"nope\"\n"), 0o600)
	out, err = runDoctor(cfgFile)
	if err == nil || !strings.Contains(out, "fail  config: ") || !strings.Contains(out, ":2: devices.listen") {
		t.Fatalf("bad config: %v\n%s", err, out)
	}
}
