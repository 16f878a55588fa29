package servicectl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/storebox/storebox/packaging"
	"github.com/storebox/storebox/systemd"
	"github.com/storebox/storebox/test/testenv"
)

// fakeSystemd is a Systemd whose paths live in a temp dir and whose
// systemctl records calls instead of touching the machine's init system.
type fakeSystemd struct {
	*Systemd
	root  string
	calls [][]string
	show  string // output for `systemctl show`
	users int
}

func newFake(t *testing.T, exe string) *fakeSystemd {
	t.Helper()
	root := t.TempDir()
	f := &fakeSystemd{root: root}
	f.Systemd = &Systemd{
		Opts:            Options{Executable: exe, ConfigPath: filepath.Join(root, "etc/storebox/storebox.toml")},
		UnitDir:         filepath.Join(root, "etc/systemd/system"),
		PackageUnitDirs: []string{filepath.Join(root, "lib/systemd/system")},
		Group:           "storebox-test-group-that-does-not-exist",
		Systemctl: func(_ context.Context, args ...string) (string, error) {
			f.calls = append(f.calls, args)
			if args[0] == "show" {
				return f.show, nil
			}
			return "", nil
		},
		EnsureUser: func(context.Context) error { f.users++; return nil },
	}
	return f
}

// fakeExe writes an executable file at dir/name.
func fakeExe(t *testing.T, dir, name string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallStartUninstall(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the systemd controller is Linux's (unit paths, file modes); Windows has TestUninstallStopsTheRunningService")
	}
	ctx := context.Background()
	exe := fakeExe(t, t.TempDir(), "storebox")
	f := newFake(t, exe)

	if err := f.Start(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start before install: %v, want ErrNotInstalled", err)
	}
	if err := f.Install(ctx); err != nil {
		t.Fatalf("Install: %v", err)
	}
	unit, err := os.ReadFile(filepath.Join(f.UnitDir, "storebox.service"))
	if err != nil {
		t.Fatal(err)
	}
	wantExec := "\nExecStart=" + exe + " run --config " + f.Opts.ConfigPath + "\n"
	if !bytes.Contains(unit, []byte(wantExec)) {
		t.Errorf("unit lacks %q", wantExec)
	}
	if len(unit) < len(systemd.Unit)-40 || !bytes.Contains(unit, []byte("Type=notify")) {
		t.Errorf("unit is not the project's unit")
	}
	cfg, err := os.ReadFile(f.Opts.ConfigPath)
	if err != nil {
		t.Fatalf("default config not written: %v", err)
	}
	if !bytes.Equal(cfg, packaging.DefaultConfig) {
		t.Errorf("config written is not the packaged default")
	}
	if fi, _ := os.Stat(f.Opts.ConfigPath); fi.Mode().Perm() != 0o640 {
		t.Errorf("config mode %v, want 0640", fi.Mode().Perm())
	}
	if f.users != 1 {
		t.Errorf("EnsureUser called %d times", f.users)
	}
	want := [][]string{{"daemon-reload"}, {"enable", "storebox.service"}}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("systemctl calls %v, want %v", f.calls, want)
	}

	if err := f.Install(ctx); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Errorf("second Install: %v", err)
	}

	f.calls = nil
	for _, c := range []struct {
		fn   func(context.Context) error
		verb string
	}{{f.Start, "start"}, {f.Stop, "stop"}, {f.Restart, "restart"}} {
		if err := c.fn(ctx); err != nil {
			t.Errorf("%s: %v", c.verb, err)
		}
	}
	want = [][]string{{"start", "storebox.service"}, {"stop", "storebox.service"}, {"restart", "storebox.service"}}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("systemctl calls %v, want %v", f.calls, want)
	}

	f.calls = nil
	if err := f.Uninstall(ctx); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	want = [][]string{{"disable", "--now", "storebox.service"}, {"daemon-reload"}}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("systemctl calls %v, want %v", f.calls, want)
	}
	if _, err := os.Stat(filepath.Join(f.UnitDir, "storebox.service")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still present after uninstall: %v", err)
	}
	if _, err := os.Stat(f.Opts.ConfigPath); err != nil {
		t.Errorf("uninstall removed the config: %v", err)
	}
	if err := f.Uninstall(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Uninstall: %v, want ErrNotInstalled", err)
	}
}

func TestInstallKeepsExistingConfig(t *testing.T) {
	f := newFake(t, fakeExe(t, t.TempDir(), "storebox"))
	os.MkdirAll(filepath.Dir(f.Opts.ConfigPath), 0o755)
	mine := []byte("store_id = \"shop-42\"\n")
	if err := os.WriteFile(f.Opts.ConfigPath, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.Opts.ConfigPath); !bytes.Equal(got, mine) {
		t.Errorf("install overwrote the config: %q", got)
	}
}

func TestPackagedUnit(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, fakeExe(t, t.TempDir(), "storebox"))
	pkg := filepath.Join(f.PackageUnitDirs[0], "storebox.service")
	os.MkdirAll(filepath.Dir(pkg), 0o755)
	if err := os.WriteFile(pkg, systemd.Unit, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Install(ctx); err == nil || !strings.Contains(err.Error(), "package") {
		t.Errorf("Install over the package: %v", err)
	}
	if err := f.Uninstall(ctx); err == nil || !strings.Contains(err.Error(), "apt remove") {
		t.Errorf("Uninstall of the package's unit: %v", err)
	}
	if err := f.Restart(ctx); err != nil {
		t.Errorf("Restart of the package's unit: %v", err)
	}
	if len(f.calls) != 1 || f.calls[0][0] != "restart" {
		t.Errorf("calls %v", f.calls)
	}
}

func TestInstallRefusesHiddenPaths(t *testing.T) {
	f := newFake(t, "/home/tech/storebox")
	err := f.Install(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ProtectHome") {
		t.Fatalf("Install from /home: %v", err)
	}
	if len(f.calls) != 0 || f.users != 0 {
		t.Errorf("acted before refusing: calls %v users %d", f.calls, f.users)
	}
}

func TestExecArg(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/storebox":      "/usr/bin/storebox",
		"/opt/store box/sb":      `"/opt/store box/sb"`,
		"/opt/100%/sb":           "/opt/100%%/sb",
		"/opt/$HOME/sb":          "/opt/$$HOME/sb",
		`/opt/a"b\c/sb`:          `"/opt/a\"b\\c/sb"`,
		"/etc/storebox/a;b.toml": `"/etc/storebox/a;b.toml"`,
	} {
		if got := execArg(in, true); got != want {
			t.Errorf("execArg(%q, arg) = %s, want %s", in, got, want)
		}
	}
	if got := execArg("/opt/$x/sb", false); got != "/opt/$x/sb" {
		t.Errorf("command path: $ escaped: %s", got)
	}
}

// TestRenderedUnitVerifies has systemd parse the rendered unit, with an
// executable whose path needs quoting and escaping: verify fails if
// ExecStart does not name the file that exists.
func TestRenderedUnitVerifies(t *testing.T) {
	analyze := testenv.RequireCommand(t, "systemd-analyze")
	exe := fakeExe(t, filepath.Join(t.TempDir(), "my bin", "100%", "$x"), "storebox")
	f := newFake(t, exe)
	unit, err := f.Unit()
	if err != nil {
		t.Fatal(err)
	}
	// Every command line (ExecStart, the ExecReload check) names this
	// binary, even where /usr/bin/storebox exists and verify would pass.
	if bytes.Contains(unit, []byte(systemd.DefaultExecutable)) {
		t.Errorf("rendered unit still names %s:\n%s", systemd.DefaultExecutable, unit)
	}
	p := filepath.Join(t.TempDir(), "storebox.service")
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\nExecStart line: %s", err, out, execLine(unit))
	}
	// And a wrong path is caught, so the check above means something.
	bad := bytes.Replace(unit, []byte("my bin"), []byte("my_bin"), 1)
	os.WriteFile(p, bad, 0o644)
	if out, _ := exec.Command(analyze, "verify", p).CombinedOutput(); len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("verify accepted a missing executable")
	}
}

func execLine(unit []byte) string {
	for _, l := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(l, "ExecStart=") {
			return l
		}
	}
	return ""
}

func TestStatus(t *testing.T) {
	f := newFake(t, "/usr/bin/storebox")
	for _, c := range []struct {
		show string
		want Status
	}{
		{"LoadState=not-found\nActiveState=inactive\n", Status{State: StateNotInstalled, Unit: "storebox.service"}},
		{"LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nFragmentPath=/lib/systemd/system/storebox.service\nMainPID=4242\nNRestarts=3\nStatusText=serving 12 devices\n",
			Status{State: StateRunning, Unit: "/lib/systemd/system/storebox.service", Enabled: "enabled", PID: 4242, Restarts: 3, Text: "serving 12 devices"}},
		{"LoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nFragmentPath=/etc/systemd/system/storebox.service\nMainPID=0\nNRestarts=0\n",
			Status{State: StateStopped, Unit: "/etc/systemd/system/storebox.service", Enabled: "disabled"}},
		{"LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nMainPID=0\nNRestarts=7\n",
			Status{State: StateFailed, Unit: "storebox.service", Restarts: 7}},
		{"LoadState=loaded\nActiveState=failed\nSubState=failed\n", Status{State: StateFailed, Unit: "storebox.service"}},
	} {
		f.show = c.show
		got, err := f.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c.want.Platform = "linux-systemd"
		if got != c.want {
			t.Errorf("show %q:\n got %+v\nwant %+v", c.show, got, c.want)
		}
	}
}
