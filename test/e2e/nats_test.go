package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// With upstream.kind = "nats" the daemon publishes its ledger to a real
// nats-server's JetStream, one message per event with Nats-Msg-Id = id.
func TestLedgerToNATS(t *testing.T) {
	url := startNATS(t)
	d := harness.New(t, fmt.Sprintf("[upstream]\nkind = \"nats\"\nnats_url = %q\n", url))
	d.Run("catalog", "import", sample())
	d.Start()
	dev, _ := d.Dial("T-N")
	dev.Login(t, nil)
	for i := 0; i < 3; i++ {
		if r, _ := dev.Call("stockGoods", map[string]any{"whid": "main", "ref": fmt.Sprintf("N-%d", i), "lines": []any{map[string]any{"gid": "10001", "qty": 2}}}); r.Exception() != "" {
			t.Fatalf("stockGoods: %s", r.Raw)
		}
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	testenv.Eventually(t, "4 events in JetStream", func() bool {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "STOREBOX")
		if err != nil {
			return false
		}
		info, _ := st.Info(ctx)
		return info != nil && info.State.Msgs >= 4 // catalog.imported + 3 × stock.received
	})
}
