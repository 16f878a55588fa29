package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runScaleCmd runs a cobra command tree with args and returns stdout.
func runScaleCmd(t *testing.T, ctx context.Context, c interface {
	SetArgs([]string)
	SetOut(io.Writer)
	SetErr(io.Writer)
	ExecuteContext(context.Context) error
}, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	err := c.ExecuteContext(ctx)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), err
}

// TestSimScaleCLI runs `sim scale`, then probes and reads the pty it prints
// with `scale probe` and `scale read` (by path and by configured id).
func TestSimScaleCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	sim := simCommand(&globals{})
	sim.SetArgs([]string{"scale", "--protocol", "toledo", "--weight", "1234"})
	sim.SetOut(pw)
	sim.SetErr(io.Discard)
	sim.SetIn(strings.NewReader(""))
	done := make(chan error, 1)
	go func() { done <- sim.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("sim scale printed no path: %v", err)
	}
	go io.Copy(io.Discard, pr)
	path := strings.TrimSpace(line)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("sim path %q: %v", path, err)
	}

	out, err := runScaleCmd(t, ctx, scaleCommand(&globals{}), "probe", path, "--baud", "9600", "--timeout", "300ms")
	if err != nil || !strings.HasPrefix(out, "toledo8217\t9600 7E1") || !strings.Contains(out, "1234 g stable") {
		t.Fatalf("probe: %q %v", out, err)
	}
	out, err = runScaleCmd(t, ctx, scaleCommand(&globals{}), "read", path, "--protocol", "toledo")
	if err != nil || !strings.Contains(out, "1234 g stable") {
		t.Fatalf("read by path: %q %v", out, err)
	}

	cfg := filepath.Join(t.TempDir(), "storebox.toml")
	doc := "[[scales]]\nid = \"scale-1\"\nport = \"" + path + "\"\nprotocol = \"toledo8217\"\npoll_ms = 50\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runScaleCmd(t, ctx, scaleCommand(&globals{configPath: cfg}), "read", "scale-1")
	if err != nil || !strings.HasPrefix(out, "scale-1\ttoledo8217\tconnected\t1234 g stable") {
		t.Fatalf("read by id: %q %v", out, err)
	}
	if _, err := runScaleCmd(t, ctx, scaleCommand(&globals{configPath: cfg}), "read", "scale-9"); err == nil || !strings.Contains(err.Error(), "scale-1") {
		t.Fatalf("unknown id: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim scale: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim scale did not stop")
	}
}

// TestScaleReadNoScale fails clearly, and at once, on a port that is not there.
func TestScaleReadNoScale(t *testing.T) {
	_, err := runScaleCmd(t, context.Background(), scaleCommand(&globals{}), "read", filepath.Join(t.TempDir(), "ttyUSB9"), "--protocol", "cas", "--timeout", "300ms")
	if err == nil || !strings.Contains(err.Error(), "ttyUSB9 does not exist") {
		t.Fatalf("err %v", err)
	}
}
