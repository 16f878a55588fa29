package main

import (
	"bytes"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
)

func TestServiceCommandTree(t *testing.T) {
	c := serviceCommand(&globals{})
	var names []string
	for _, sub := range c.Commands() {
		if !sub.Hidden { // windows-setup, windows-remove: the MSI's
			names = append(names, sub.Name())
		}
	}
	sort.Strings(names)
	if got, want := strings.Join(names, " "), "install restart start status stop uninstall"; got != want {
		t.Fatalf("subcommands %q, want %q", got, want)
	}
}

// Without systemd (a container, CI) every action says why it cannot work.
func TestServiceWithoutSystemd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is running here")
	}
	c := serviceCommand(&globals{})
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs([]string{"status"})
	err := c.Execute()
	if err == nil || !strings.Contains(err.Error(), "systemd is not running") {
		t.Fatalf("status without systemd: %v", err)
	}
}

// install refuses a config the daemon would reject, before touching anything.
func TestServiceInstallChecksConfig(t *testing.T) {
	p := t.TempDir() + "/storebox.toml"
	if err := os.WriteFile(p, []byte("[devices]\nlisten = \"nope\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := serviceCommand(&globals{configPath: p})
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs([]string{"install"})
	err := c.Execute()
	if err == nil || !strings.Contains(err.Error(), "devices.listen") || !strings.Contains(err.Error(), ":2") {
		t.Fatalf("install with a bad config: %v", err)
	}
}
