package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/discovery"
)

func startDiscovery(t *testing.T) string {
	t.Helper()
	s, err := discovery.New(discovery.Config{
		Listen: "127.0.0.1:0", StoreID: "S-CLI", StoreName: "CLI Shop",
		Version: "9.9.9", DevicePort: 8686, MQTTPort: 1883, HTTPPort: 8680,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s.Addrs()[0].String()
}

func runDiscover(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := discoverCommand(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestDiscoverCommand(t *testing.T) {
	addr := startDiscovery(t)
	out, err := runDiscover(t, "--addr", addr, "--addr", addr, "--timeout", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (deduped), got:\n%s", out)
	}
	for _, want := range []string{"S-CLI", "CLI Shop", "127.0.0.1:8686", "mqtt=1883", "http=8680", "version=9.9.9", "via=udp"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}

	out, err = runDiscover(t, "--addr", addr, "--timeout", "500ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
		t.Fatalf("json line %q: %v", out, err)
	}
	if got["storeId"] != "S-CLI" || got["host"] != "127.0.0.1" || got["port"] != 8686.0 || got["httpPort"] != 8680.0 {
		t.Fatalf("json %v", got)
	}
}

func TestDiscoverNothing(t *testing.T) {
	start := time.Now()
	_, err := runDiscover(t, "--addr", "127.0.0.1:1", "--timeout", "300ms")
	if err == nil || !strings.Contains(err.Error(), "no storebox answered") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("did not stop at the timeout")
	}
	if _, err := runDiscover(t, "--timeout", "0s"); err == nil {
		t.Fatal("zero timeout accepted")
	}
}
