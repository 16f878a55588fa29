package e2e

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/test/harness"
)

// A terminal beside an entry door sells to whom the door let in last: the
// doors, built before the orders, answer the orders' question.
func TestTerminalBesideADoorSellsToWhomItAdmitted(t *testing.T) {
	d := harness.New(t, `
[[doors]]
id = "in-1"
secret = "door-secret"
policy = "entry"
terminal = "T-IN"
`)
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	d.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	door, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: "in-1", Secret: "door-secret"})
	if err != nil {
		t.Fatalf("door: %v\n%s", err, d.Log())
	}
	defer door.Close()
	door.Scan(ctx, "cust-7", "")
	waitDoor(t, d, "in-1", "opened")

	term, _ := d.Dial("T-IN")
	term.Login(t, nil)
	r, err := term.Call("getPayInfo", map[string]any{"order_id": "o-7", "lines": []any{map[string]any{"gid": "10001", "qty": 1}}, "pay_method": "cash"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %s %v", r.Raw, err)
	}
	resp, err := d.Get("/api/v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var list struct {
		Orders []struct {
			OrderID string `json:"order_id"`
			OpenID  string `json:"openId"`
		} `json:"orders"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	for _, o := range list.Orders {
		if o.OrderID == "o-7" {
			if o.OpenID != "cust-7" {
				t.Fatalf("order o-7 sold to %q, want the door's cust-7: %s", o.OpenID, b)
			}
			return
		}
	}
	t.Fatalf("order o-7 not listed: %s", strings.TrimSpace(string(b)))
}
