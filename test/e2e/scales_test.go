package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/test/harness"
	"github.com/storebox/storebox/test/testenv"
)

// A terminal reads the weight of a simulated serial scale through the real
// daemon; unplugging the scale turns getWeight into an error (never the
// old weight), and plugging it back in recovers without a restart.
func TestGetWeightFromSimulatedScale(t *testing.T) {
	d := harness.New(t, "")
	link := filepath.Join(t.TempDir(), "scale-by-id")
	sim := exec.Command(d.Bin, "sim", "scale", "--protocol", "cas", "--link", link, "--weight", "1234")
	stdin, _ := sim.StdinPipe()
	stdout, _ := sim.StdoutPipe()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sim.Process.Kill(); sim.Wait() }()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	t.Logf("simulator at %s", first)

	d = harness.New(t, fmt.Sprintf("[[scales]]\nid = \"S1\"\nport = %q\nprotocol = \"cas\"\nterminal = \"T-W\"\n", link))
	d.Start()
	term, _ := d.Dial("T-W")
	term.Login(t, nil)
	waitWeight := func(want float64) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("a stable %v g", want), func() bool {
			r, err := term.Call("getWeight", map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			return r.Exception() == "" && r.Body["weight_g"] == want && r.Body["stable"] == true
		})
	}
	waitWeight(1234)
	fmt.Fprintln(stdin, "1500")
	waitWeight(1500)

	fmt.Fprintln(stdin, "unplug")
	testenv.Eventually(t, "the unplugged scale to answer offline", func() bool {
		r, _ := term.Call("getWeight", map[string]any{})
		return r.Code() == "offline"
	})
	fmt.Fprintln(stdin, "2000")
	fmt.Fprintln(stdin, "plug")
	waitWeight(2000)

	if r, _ := term.Call("getWeight", map[string]any{"scale": "NOPE"}); r.Code() != "not_found" {
		t.Fatalf("unknown scale: %s", r.Raw)
	}
}

// A network scale (DZC_…) downloads its PLUs with getAllGoods and its
// orders are tagged as scale orders.
func TestNetworkScaleOrdersAreTagged(t *testing.T) {
	d := harness.New(t, "")
	d.Run("catalog", "import", sample())
	d.Start()
	sc, _ := d.Dial("DZC_0001")
	sc.Login(t, nil)
	r, err := sc.Call("getAllGoods", map[string]any{"ost": 0, "lmt": 1000})
	if err != nil || r.Exception() != "" || len(r.Body["goods"].([]any)) < 50 {
		t.Fatalf("PLU download: %v %.200s", err, r.Raw)
	}
	var kgGID string
	for _, g := range r.Body["goods"].([]any) {
		if m := g.(map[string]any); m["unit"] == "kg" && m["stock"].(float64) > 500 {
			kgGID = m["gid"].(string)
			break
		}
	}
	r, err = sc.Call("getPayInfo", map[string]any{"order_id": "dzc-1", "lines": []any{map[string]any{"gid": kgGID, "weight_g": 350}}, "pay_method": "cash"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %s %v", r.Raw, err)
	}
	resp, err := d.Get("/api/v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Orders []struct {
			OID    string `json:"oid"`
			Source string `json:"source"`
		} `json:"orders"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	if len(list.Orders) != 1 || list.Orders[0].Source != "scale" || list.Orders[0].OID != r.Body["oid"] {
		t.Fatalf("orders: %+v", list)
	}
}
