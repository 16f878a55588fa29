//go:build linux

// Package wine runs the real storebox.exe under Wine 10 in a network
// namespace, end to end, as a technician would on a Windows store box:
// catalog import, run, a device's getGoods and a paid order that survives a
// hard kill, UDP discovery (after an oversize datagram), an mDNS query,
// `status` with no flags, the status page with the admin token.
//
// make test-windows runs it (packaging/windows/test-windows.sh) inside its
// namespace, with storebox.exe built with the Wine overlay
// (packaging/windows/wine-overlay.sh) and these variables set:
// STOREBOX_WINE_ROOT (the Debian 13 root with wine), STOREBOX_WINE_RUN (this
// run's directory in the root: src, tests/storebox.exe, prefix).
// Elsewhere it skips.
package wine

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/storebox/storebox/daemon/mdns"
	wire "github.com/storebox/storebox/protocol/discovery"
	"github.com/storebox/storebox/test/harness"
)

// env is one Wine run: the root, this run's directory in it, the prefix.
type env struct {
	root, run string
}

func setup(t *testing.T) env {
	e := env{root: os.Getenv("STOREBOX_WINE_ROOT"), run: os.Getenv("STOREBOX_WINE_RUN")}
	if e.root == "" || e.run == "" {
		t.Skip("runs under make test-windows (Wine in a cached Debian 13 root)")
	}
	return e
}

// programData is C:\ProgramData\storebox on the host's side.
func (e env) programData() string {
	return filepath.Join(e.root, e.run, "prefix", "drive_c", "ProgramData", "storebox")
}

// cmd is storebox.exe args under wine in the root.
func (e env) cmd(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{e.root, "env", "-i", "HOME=/root", "PATH=/usr/bin:/bin", "WINEPREFIX=" + e.run + "/prefix",
		"WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "LANG=C.UTF-8", "wine", e.run + "/tests/storebox.exe"}, args...)
	return exec.CommandContext(ctx, "chroot", full...)
}

// storebox runs one CLI command to its end.
func (e env) storebox(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := e.cmd(ctx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("storebox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// killAll ends every Wine process of the prefix at once: a power cut.
func (e env) killAll() {
	_ = exec.Command("chroot", e.root, "env", "WINEPREFIX="+e.run+"/prefix", "wineserver", "-k").Run()
}

const config = `store_id = "wine-1"
store_name = "Wine Corner Shop"
[devices]
listen = ":8686"
admission = "open"
[discovery]
listen = ":8686"
mdns = true
[mqtt]
listen = ":1883"
[http]
listen = ":8680"
`

// start runs the daemon and waits for /readyz; it returns how long that took.
func (e env) start(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	log, err := os.Create(filepath.Join(t.TempDir(), "storebox.log"))
	if err != nil {
		t.Fatal(err)
	}
	c := e.cmd(context.Background(), "run")
	c.Stdout, c.Stderr = log, log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go c.Wait()
	t.Cleanup(func() {
		e.killAll()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("storebox.exe output:\n%s", b)
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://127.0.0.1:8680/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(began)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(log.Name())
	t.Fatalf("storebox.exe not ready within 90s:\n%s", b)
	return 0
}

func TestStoreboxExeUnderWine(t *testing.T) {
	e := setup(t)
	// The MSI's layout: the config at %ProgramData%\storebox\storebox.toml,
	// the data in %ProgramData%\storebox\data; every command runs with no
	// flags, as a technician's would.
	if err := os.MkdirAll(e.programData(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.programData(), "storebox.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	catalog := `Z:` + strings.ReplaceAll(e.run+"/src/packaging/sample/catalog.csv", "/", `\`)
	if out := e.storebox(t, "catalog", "import", catalog); !strings.Contains(out, "imported") {
		t.Logf("import: %s", out)
	}
	ready := e.start(t)
	t.Logf("FIGURE storebox.exe start to ready under Wine: %s", ready.Round(time.Millisecond))

	d := &harness.Daemon{DevAddr: "127.0.0.1:8686", HTTPAddr: "127.0.0.1:8680", DataDir: filepath.Join(e.programData(), "data")}
	term, err := d.Dial("T-WINE")
	if err != nil {
		t.Fatal(err)
	}
	term.Login(t, nil)
	r, err := term.Call("getGoods", map[string]any{"gid": "10001"})
	if err != nil || r.Exception() != "" || !strings.Contains(string(r.Raw), "10001") {
		t.Fatalf("getGoods: %s %v", r.Raw, err)
	}
	r, err = term.Call("getPayInfo", map[string]any{"order_id": "o-wine", "lines": []any{map[string]any{"gid": "10001", "qty": 1}}, "pay_method": "cash"})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getPayInfo: %s %v", r.Raw, err)
	}
	oid, _ := r.Body["oid"].(string)
	if r, err := term.Call("makePayment", map[string]any{"oid": oid, "method": "cash", "amount": r.Body["amount_total"]}); err != nil || r.Exception() != "" {
		t.Fatalf("makePayment: %s %v", r.Raw, err)
	}
	term.Close()

	t.Run("discovery after an oversize datagram", func(t *testing.T) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8686}
		probe, _ := wire.Probe{EquipID: "T-WINE", Kind: "terminal"}.Encode()
		buf := make([]byte, 4096)
		for range 3 { // Windows fails that read with WSAEMSGSIZE: discovery must go on
			c.WriteToUDP(make([]byte, 3000), to)
		}
		c.WriteToUDP(probe, to)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no answer to a probe after oversize datagrams: %v", err)
		}
		a, err := wire.ParseAnswer(buf[:n])
		if err != nil || a.StoreID != "wine-1" || a.Port != 8686 {
			t.Fatalf("answer %+v %v", a, err)
		}
	})

	t.Run("mDNS query answered", func(t *testing.T) {
		mdnsQuery(t)
	})

	t.Run("status with no flags", func(t *testing.T) {
		if out := e.storebox(t, "status"); !strings.Contains(out, "Wine Corner Shop") && !strings.Contains(out, "wine-1") {
			t.Fatalf("status: %s", out)
		}
	})

	t.Run("status page with the token", func(t *testing.T) {
		// Without the token: the sign-in form, and no status.
		resp, err := http.Get("http://127.0.0.1:8680/api/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status without the token: %d, want 401", resp.StatusCode)
		}
		get := func(path string) (int, string) {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:8680"+path, nil)
			req.Header.Set("Authorization", "Bearer "+d.AdminToken())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		// The page, and the status it shows (its script reads it).
		if code, page := get("/"); code != 200 || !strings.Contains(page, "/api/v1/events") && !strings.Contains(page, "/api/v1/status") {
			t.Fatalf("status page with the token: %d %.300s", code, page)
		}
		code, body := get("/api/v1/status")
		var st struct {
			StoreName string `json:"store_name"`
			Ready     bool   `json:"ready"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.StoreName != "Wine Corner Shop" || !st.Ready {
			t.Fatalf("status with the token: %d %+v %.300s", code, st, body)
		}
	})

	// A hard kill (every Wine process of the prefix, mid-service), then a
	// new start: the paid order is still there.
	e.killAll()
	e.start(t)
	term, err = d.Dial("T-WINE")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	term.Login(t, nil)
	r, err = term.Call("getOrder", map[string]any{"oid": oid})
	if err != nil || r.Exception() != "" {
		t.Fatalf("getOrder after a kill: %s %v", r.Raw, err)
	}
	order, _ := r.Body["order"].(map[string]any)
	if order["status"] != "paid" {
		t.Fatalf("order after a kill: %s", r.Raw)
	}
}

// mdnsQuery sends a legacy unicast SRV query for the instance from the
// namespace's other veth end and waits for storebox.exe's answer, sending
// an oversize datagram to the group first.
func mdnsQuery(t *testing.T) {
	ifi, err := net.InterfaceByName("windows-peer")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 231, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastInterface(ifi); err != nil {
		t.Fatal(err)
	}
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	name := mdns.EscapeLabel(wire.InstanceName("Wine Corner Shop")) + "." + wire.MDNSService + "." + wire.MDNSDomain
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeSRV)
	q.RecursionDesired = false
	query, _ := q.Pack()
	buf := make([]byte, 9000)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c.WriteTo(make([]byte, 9500), group)
		c.WriteTo(query, group)
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			var resp dns.Msg
			if resp.Unpack(buf[:n]) != nil || resp.Id != q.Id {
				continue
			}
			for _, rr := range resp.Answer {
				if srv, ok := rr.(*dns.SRV); ok && srv.Port == 8686 {
					return
				}
			}
		}
	}
	t.Fatalf("no answer to an mDNS query for %s within 20s", name)
}
