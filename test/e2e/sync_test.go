package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// A receipt taken while the cloud is unreachable reaches it, once, after it
// comes back, in seq order without gaps; `storebox sync now` and
// `sync status` work against the running daemon.
func TestEventsReachCloudAfterOutage(t *testing.T) {
	cloud := harness.StartCloud(t, "--secret", "s3", "--down-for", "3s")
	d := harness.New(t, fmt.Sprintf("[upstream]\nurl = %q\nsecret = \"s3\"\ncatalog_interval = \"2s\"\ntimeout = \"2s\"\n", cloud.URL))
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	d.Start()
	dev, _ := d.Dial("T-1")
	dev.Login(t, nil)
	for i := 0; i < 5; i++ {
		r, err := dev.Call("stockGoods", map[string]any{"whid": "main", "ref": fmt.Sprintf("R-%d", i), "lines": []any{map[string]any{"gid": "10001", "qty": 1}}})
		if err != nil || r.Exception() != "" {
			t.Fatalf("stockGoods: %s %v", r.Raw, err)
		}
	}
	var st map[string]any
	testenv.EventuallyWithin(t, time.Minute, "5 stock.received events at the cloud", func() bool {
		st = cloud.Stats(t)
		byType, _ := st["by_type"].(map[string]any)
		n, _ := byType["stock.received"].(float64)
		return n == 5
	})
	if gaps, _ := st["gaps"].(float64); gaps != 0 {
		t.Fatalf("gaps in seq: %v", st)
	}
	out, err := d.Run("sync", "now")
	if err != nil {
		t.Fatalf("sync now: %v %s", err, out)
	}
	out, err = d.Run("sync", "status")
	if err != nil || !strings.Contains(strings.ToLower(out), "online") {
		t.Fatalf("sync status: %v %s", err, out)
	}
}
