package doctor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	wire "github.com/storebox/storebox/protocol/discovery"

	"github.com/storebox/storebox/daemon/discovery"
)

func TestMDNSNotSeenIsAWarning(t *testing.T) {
	r := browseMDNS(context.Background(), "no-such-store-"+time.Now().Format("150405.000000"), 300*time.Millisecond)
	if r.Level != Warn || r.Fix == "" {
		t.Fatalf("%s", r)
	}
}

// The doctor reads the advertised name as devices do: a store name
// outside ASCII comes back whole (DNS escapes \ddd undone).
func TestMDNSSeenNamesTheStoreWhole(t *testing.T) {
	suffix := time.Now().Format("150405.000000")
	svc, err := discovery.New(discovery.Config{Listen: "127.0.0.1:0", StoreID: "S-doc-" + suffix, StoreName: "Дэлгүүр 超市 " + suffix,
		Version: "1.2.3", DevicePort: 18687, MDNS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	var r Result
	for range 10 { // the advertisement takes a moment to be announced
		if r = browseMDNS(context.Background(), "S-doc-"+suffix, 1500*time.Millisecond); r.Level == OK {
			break
		}
	}
	if r.Level == Warn && strings.HasPrefix(r.Detail, "cannot browse") {
		t.Skipf("no mDNS here: %s", r)
	}
	if want := fmt.Sprintf("advertised as %q port 18687", wire.InstanceName("Дэлгүүр 超市 "+suffix)); r.Level != OK || r.Detail != want {
		t.Fatalf("%s; want detail %s", r, want)
	}
}
