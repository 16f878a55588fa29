package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/test/harness"
)

// simPrinter is `storebox sim printer` as a process: its stdout (the
// receipts as text) collected, its stdin the control.
type simPrinter struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	mu    sync.Mutex
	out   strings.Builder
}

func startSimPrinter(t *testing.T, args ...string) *simPrinter {
	t.Helper()
	if len(args) == 0 {
		args = []string{"--listen", "127.0.0.1:0"}
	}
	cmd := exec.Command(harness.Binary(t), append([]string{"sim", "printer"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("sim printer printed no address")
	}
	p := &simPrinter{cmd: cmd, addr: strings.TrimSpace(sc.Text()), stdin: stdin}
	go func() {
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *simPrinter) text() string { p.mu.Lock(); defer p.mu.Unlock(); return p.out.String() }

func (p *simPrinter) waitFor(t *testing.T, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond(p.text()) {
		if time.Now().After(deadline) {
			t.Fatalf("printer: timed out waiting for %s; it printed:\n%s", what, p.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type printerState struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Queued int    `json:"queued"`
	Fault  bool   `json:"fault"`
}

func printers(t *testing.T, d *harness.Daemon) []printerState {
	t.Helper()
	resp, err := d.Get("/api/v1/printers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Printers []printerState `json:"printers"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Printers
}

// The whole path with the real binary on both sides: a terminal pays, the
// terminal gets the receipt, the printer (storebox sim printer) prints it,
// runs out of paper and keeps the next one until paper is back; a copy and
// a test page from the CLI; the state in /api/v1/printers and /metrics.
func TestReceiptsOnASimulatedPrinter(t *testing.T) {
	prn := startSimPrinter(t)
	d := harness.New(t, fmt.Sprintf(`
[receipt]
width = 42
header = ["1 Long Street"]
footer = ["谢谢惠顾 Thank you"]
qr = true

[[printers]]
id = "front"
connect = "tcp://%s"
terminals = ["T-01"]
drawer = "cash"
`, prn.addr))
	cat := filepath.Join(t.TempDir(), "catalog.jsonl")
	os.WriteFile(cat, []byte(`{"gid":"G1","barcode":"","gname":"农夫山泉天然矿泉水 550ml","price":200,"unit":"pcs","stock":{"main":100}}`+"\n"), 0o644)
	if out, err := d.Run("catalog", "import", cat); err != nil {
		t.Fatalf("catalog import: %v\n%s", err, out)
	}
	d.Start()
	tm, err := d.Dial("T-01")
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tm.Login(t, map[string]any{"kind": "terminal"})
	pay := func(orderID string) string {
		t.Helper()
		r, err := tm.Call("getPayInfo", map[string]any{"order_id": orderID, "pay_method": "cash", "lines": []any{map[string]any{"gid": "G1", "qty": 2}}})
		if err != nil || r.Exception() != "" {
			t.Fatalf("getPayInfo: %v %s", err, r.Raw)
		}
		oid, _ := r.Body["oid"].(string)
		if r, err := tm.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 400}); err != nil || r.Exception() != "" {
			t.Fatalf("makePayment: %v %s", err, r.Raw)
		}
		return oid
	}
	oid := pay("R-1")
	r, err := tm.Call("getReceipt", map[string]any{"oid": oid})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getReceipt: %v %s", err, r.Raw)
	}
	list, _ := json.Marshal(r.Body["printList"])
	if !strings.Contains(string(list), "农夫山泉天然矿泉水 550ml") || !strings.Contains(string(list), "TOTAL") {
		t.Fatalf("printList %s", list)
	}
	prn.waitFor(t, "the first receipt", func(s string) bool {
		return strings.Contains(s, "=== receipt 1 ===") && strings.Contains(s, "Order") && strings.Contains(s, oid) &&
			strings.Contains(s, "[QR "+oid+"]") && strings.Contains(s, "[drawer kicked]") && strings.Contains(s, "谢谢惠顾 Thank you")
	})

	// Out of paper: the next receipt waits, the printer is in fault.
	io.WriteString(prn.stdin, "paper out\n")
	waitPrinters := func(what string, ok func(printerState) bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second) // the idle status check runs every 30 s
		for {
			ps := printers(t, d)
			if len(ps) == 1 && ok(ps[0]) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("printers: timed out waiting for %s: %+v", what, ps)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	oid2 := pay("R-2")
	waitPrinters("paper_end with one queued", func(p printerState) bool { return p.State == "paper_end" && p.Fault && p.Queued == 1 })
	resp, err := d.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `storebox_printer_queue{printer="front"} 1`) || !strings.Contains(string(m), `storebox_printer_fault{printer="front",state="paper_end"} 1`) {
		t.Fatalf("metrics lack the printer gauges:\n%s", m)
	}
	if strings.Contains(prn.text(), oid2) {
		t.Fatal("a receipt went to a printer without paper")
	}
	io.WriteString(prn.stdin, "paper in\n")
	prn.waitFor(t, "the held receipt", func(s string) bool { return strings.Contains(s, "=== receipt 2 ===") && strings.Contains(s, oid2) })
	waitPrinters("ok and empty", func(p printerState) bool { return p.State == "ok" && !p.Fault && p.Queued == 0 })

	if out, err := d.Run("print", "reprint", oid); err != nil || !strings.Contains(out, "front") {
		t.Fatalf("print reprint: %v\n%s", err, out)
	}
	prn.waitFor(t, "the copy", func(s string) bool {
		i := strings.Index(s, "=== receipt 3 ===")
		return i >= 0 && strings.Contains(s[i:], "*** COPY ***") && strings.Contains(s[i:], oid)
	})
	if out, err := d.Run("print", "test", "front"); err != nil {
		t.Fatalf("print test: %v\n%s", err, out)
	}
	prn.waitFor(t, "the test page", func(s string) bool {
		i := strings.Index(s, "=== receipt 4 ===")
		return i >= 0 && strings.Contains(s[i:], "TEST PAGE") && strings.Contains(s[i:], "123456789012345678901234567890123456789012")
	})
	if out, err := d.Run("print", "test", "nope"); err == nil || !strings.Contains(out, "no such printer") {
		t.Fatalf("print test on an unknown printer: %v\n%s", err, out)
	}
	if out, err := d.Run("print", "reprint", "no-such-oid"); err == nil || !strings.Contains(out, "no paid order") {
		t.Fatalf("reprint of an unknown order: %v\n%s", err, out)
	}
	// SIGUSR1 runs the simulator out of paper: the next test page waits.
	prn.cmd.Process.Signal(syscall.SIGUSR1)
	if out, err := d.Run("print", "test", "front"); err != nil {
		t.Fatalf("print test: %v\n%s", err, out)
	}
	waitPrinters("paper_end after SIGUSR1", func(p printerState) bool { return p.State == "paper_end" && p.Queued == 1 })
	prn.cmd.Process.Signal(syscall.SIGUSR1)
	prn.waitFor(t, "the second test page", func(s string) bool { return strings.Contains(s, "=== receipt 5 ===") })
	waitPrinters("ok and empty again", func(p printerState) bool { return p.State == "ok" && p.Queued == 0 })
	out, _ := d.Run("doctor")
	if !strings.Contains(out, "printer front: tcp://"+prn.addr+": ok (the running daemon's view), 0 receipts queued") {
		t.Fatalf("doctor does not report the printer:\n%s", out)
	}
	if n := strings.Count(prn.text(), "=== receipt "); n != 5 {
		t.Fatalf("%d receipts printed, want 5:\n%s", n, prn.text())
	}
}

// A serial receipt printer: `storebox sim printer --serial` on a pty, the
// daemon on serial:PATH@9600, status bytes and the receipt over the line.
func TestReceiptOnASerialPrinter(t *testing.T) {
	prn := startSimPrinter(t, "--serial")
	d := harness.New(t, fmt.Sprintf("[[printers]]\nid = \"counter\"\nconnect = \"serial:%s@9600\"\nterminals = [\"*\"]\n", prn.addr))
	cat := filepath.Join(t.TempDir(), "catalog.jsonl")
	os.WriteFile(cat, []byte(`{"gid":"G1","barcode":"","gname":"Tea 茶","price":150,"unit":"pcs","stock":{"main":10}}`+"\n"), 0o644)
	if out, err := d.Run("catalog", "import", cat); err != nil {
		t.Fatalf("catalog import: %v\n%s", err, out)
	}
	d.Start()
	tm, err := d.Dial("T-07")
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tm.Login(t, map[string]any{"kind": "terminal"})
	r, err := tm.Call("getPayInfo", map[string]any{"order_id": "S-1", "pay_method": "cash", "lines": []any{map[string]any{"gid": "G1", "qty": 1}}})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %v %s", err, r.Raw)
	}
	oid, _ := r.Body["oid"].(string)
	if r, err := tm.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": 150}); err != nil || r.Exception() != "" {
		t.Fatalf("makePayment: %v %s", err, r.Raw)
	}
	prn.waitFor(t, "the receipt on the serial line", func(s string) bool {
		return strings.Contains(s, "=== receipt 1 ===") && strings.Contains(s, oid) && strings.Contains(s, "Tea 茶") && strings.Contains(s, "--- cut ---")
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps := printers(t, d)
		if len(ps) == 1 && ps[0].State == "ok" && ps[0].Queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("printers %+v", ps)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
