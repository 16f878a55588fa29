package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/doors/doorsim"
	"github.com/storebox/storebox/protocol/doormsg"
	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// The exit door of the shipped daemon: a scan by a customer with an unpaid
// order is denied; after paying (cash at a terminal) the same scan opens the
// door; `storebox door open` opens it for staff.
func TestExitDoorAgainstOrders(t *testing.T) {
	d := harness.New(t, `
[[doors]]
id = "exit-1"
secret = "door-secret"
policy = "exit"
`)
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	d.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmds := make(chan string, 10)
	door, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: "exit-1", Secret: "door-secret",
		OnCmd: func(c doormsg.Cmd) { b, _ := json.Marshal(c); cmds <- string(b) }})
	if err != nil {
		t.Fatalf("door: %v\n%s", err, d.Log())
	}
	defer door.Close()

	term, _ := d.Dial("T-EXIT")
	term.Login(t, nil)
	r, err := term.Call("getPayInfo", map[string]any{"order_id": "o-1", "lines": []any{map[string]any{"gid": "10001", "qty": 1}}, "pay_method": "cash", "openId": "cust-9"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %s %v", r.Raw, err)
	}
	oid, _ := r.Body["oid"].(string)
	amount := r.Body["amount_total"].(float64)

	door.Scan(ctx, "cust-9", "")
	waitDoor(t, d, "exit-1", "denied")
	if r, _ := term.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": amount}); r.Exception() != "" {
		t.Fatalf("makePayment: %s", r.Raw)
	}
	door.Scan(ctx, "cust-9", "")
	waitDoor(t, d, "exit-1", "opened")
	select {
	case c := <-cmds:
		if !strings.Contains(c, `"open"`) || !strings.Contains(c, "cust-9") {
			t.Fatalf("cmd %s", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("door got no cmd")
	}
	if out, err := d.Run("door", "open", "exit-1", "--reason", "delivery"); err != nil || !strings.Contains(out, "opened") {
		t.Fatalf("staff open: %v %s", err, out)
	}
}

func waitDoor(t *testing.T, d *harness.Daemon, id, outcome string) {
	t.Helper()
	testenv.Eventually(t, "door "+id+" to reach "+outcome, func() bool {
		resp, err := d.Get("/api/v1/status")
		if err == nil {
			var st struct {
				Doors []struct {
					ID       string `json:"id"`
					LastOpen struct {
						Outcome string `json:"outcome"`
						OpenID  string `json:"openId"`
					} `json:"lastOpen"`
				} `json:"doors"`
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			for _, ds := range st.Doors {
				if ds.ID == id && ds.LastOpen.Outcome == outcome {
					return true
				}
			}
		}
		return false
	})
}

// SIGHUP (systemctl reload) re-reads the configuration file: a door added
// to it can connect at once, a removed one cannot, a broken file changes
// nothing and the daemon keeps running, and a section that needs a restart
// is named in the log.
func TestReloadDoorsOnSIGHUP(t *testing.T) {
	door := func(id, secret string) string {
		return "\n[[doors]]\nid = \"" + id + "\"\nsecret = \"" + secret + "\"\npolicy = \"entry\"\n"
	}
	d := harness.New(t, door("front", "s-front"))
	d.Start()
	base, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(id, secret string) error {
		c, err := doorsim.Start(ctx, doorsim.Config{Broker: d.MQTTAddr, StoreID: "test", DoorID: id, Secret: secret})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := connect("back", "s-back"); err == nil {
		t.Fatal("an unconfigured door connected")
	}
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(d.Config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	// A broken file: logged, nothing changes, the daemon stays up.
	reload(string(base) + "\n[[doors]]\nid = \"back\"\n")
	waitLog(t, d, "reload: configuration not applied")
	if err := connect("front", "s-front"); err != nil {
		t.Fatalf("front after a failed reload: %v", err)
	}

	// "front" replaced by "back"; the store name changed too.
	cfg := strings.Replace(strings.Replace(string(base), door("front", "s-front"), "", 1), `store_name = "test store"`, `store_name = "renamed"`, 1)
	reload(cfg + door("back", "s-back"))
	waitLog(t, d, "doors reloaded")
	if err := connect("back", "s-back"); err != nil {
		t.Fatalf("added door: %v\n%s", err, d.Log())
	}
	if err := connect("front", "s-front"); err == nil {
		t.Fatal("a removed door connected")
	}
	waitLog(t, d, "restart to apply")
	if !strings.Contains(d.Log(), "store_name") {
		t.Fatalf("the log does not name store_name:\n%s", d.Log())
	}
	if _, ok := d.Wait(0); ok {
		t.Fatalf("daemon exited\n%s", d.Log())
	}
}

func waitLog(t *testing.T, d *harness.Daemon, s string) {
	t.Helper()
	testenv.Eventually(t, "the log to say "+s, func() bool { return strings.Contains(d.Log(), s) })
}

// Issue 22 item 7: a door retrying with a wrong secret (a door would every
// second) is logged once, not at every retry; repeats are summed up per
// minute.
func TestRefusedDoorRetriesAreLoggedOnce(t *testing.T) {
	d := harness.New(t, "[[doors]]\nid = \"front\"\nsecret = \"s-front\"\npolicy = \"entry\"\n")
	d.Start()
	for range 5 {
		if err := doorConnects(d, "front", "wrong"); err == nil {
			t.Fatal("a wrong secret connected")
		}
	}
	if err := doorConnects(d, "front", "s-front"); err != nil { // after every refusal was handled
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, "mqtt connection") && strings.Contains(l, "refused") && strings.Contains(l, "door=front") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d log lines for 5 refused connections of door front, want 1 (repeats summed up per minute):\n%s", n, d.Log())
	}
	if !strings.Contains(d.Log(), "repeats are summed up every 1m0s") {
		t.Fatalf("the first refusal does not say repeats are summed up:\n%s", d.Log())
	}
}
