//go:build windows

package winespool

import (
	"golang.org/x/sys/windows/registry"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	printersKey = `System\CurrentControlSet\Control\Print\Printers\`
	spoolerKey  = `Software\Wine\Printing\Spooler`
)

// Install adds printer name to Wine's spooler and returns the (Windows)
// path of the file its jobs are appended to, one after the other as the
// spooler sends them. The printer is removed when the test ends. It skips
// the test when not under Wine.
func Install(t testing.TB, name string) string {
	t.Helper()
	if os.Getenv("STOREBOX_UNDER_WINE") == "" {
		t.Skip("installs its printer through Wine's registry keys; runs under make test-windows (STOREBOX_UNDER_WINE)")
	}
	out, unix := outputFile(t)
	port := "STOREBOX-" + strings.ToUpper(name) + ":"
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, printersKey+name, registry.ALL_ACCESS)
	if err != nil {
		t.Fatalf("winespool: %v", err)
	}
	defer k.Close()
	for v, s := range map[string]string{"Name": name, "Port": port, "Printer Driver": "Generic / Text Only",
		"Datatype": "RAW", "Print Processor": "winprint"} {
		if err := k.SetStringValue(v, s); err != nil {
			t.Fatalf("winespool: %v", err)
		}
	}
	SetAttributes(t, name, 0)
	s, _, err := registry.CreateKey(registry.CURRENT_USER, spoolerKey, registry.ALL_ACCESS)
	if err != nil {
		t.Fatalf("winespool: %v", err)
	}
	defer s.Close()
	// Wine runs "|cmd" with /bin/sh -c, the job's bytes on its stdin.
	if err := s.SetStringValue(port, "|cat >> '"+unix+"'"); err != nil {
		t.Fatalf("winespool: %v", err)
	}
	t.Cleanup(func() {
		registry.DeleteKey(registry.LOCAL_MACHINE, printersKey+name)
		if s, err := registry.OpenKey(registry.CURRENT_USER, spoolerKey, registry.SET_VALUE); err == nil {
			s.DeleteValue(port)
			s.Close()
		}
	})
	return out
}

// SetAttributes sets the printer's Attributes as Wine's GetPrinter reports
// them (it reads them from the printer's registry key). Wine keeps no
// printer Status: GetPrinter's Status is always 0 under Wine.
func SetAttributes(t testing.TB, name string, attributes uint32) {
	t.Helper()
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, printersKey+name, registry.SET_VALUE)
	if err != nil {
		t.Fatalf("winespool: %v", err)
	}
	defer k.Close()
	if err := k.SetDWordValue("Attributes", attributes); err != nil {
		t.Fatalf("winespool: %v", err)
	}
}

// outputFile makes an empty file in Wine's view of the Unix /tmp (drive Z:
// is "/" in a Wine prefix) and returns its Windows and Unix names: the
// spooler's shell command writes the Unix one.
func outputFile(t testing.TB) (win, unix string) {
	t.Helper()
	dir, err := os.MkdirTemp(`Z:\tmp`, "storebox-winespool-")
	if err != nil {
		t.Fatalf("winespool: drive Z: is not Wine's Unix root: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	win = filepath.Join(dir, "printed.prn")
	if err := os.WriteFile(win, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return win, filepath.ToSlash(strings.TrimPrefix(win, "Z:"))
}
