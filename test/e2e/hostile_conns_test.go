package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/storebox/storebox/daemon/devices/devicetest"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/harness"
)

// TestIdleConnectionFlood holds 300 idle connections from one address on
// the HTTP port and 300 on the device port of a daemon limited to 256
// descriptors (issue 19 item 2). Per-client caps keep the daemon's
// descriptors for everyone else: another address still gets /healthz and
// a device session; the flood's connections past the cap are refused; and
// a keep-alive connection left idle is closed after http.idle_timeout.
func TestIdleConnectionFlood(t *testing.T) {
	d := harness.New(t, `read_timeout = "5s"
idle_timeout = "1s"
`) // appended to [http]
	d.Start()
	if err := unix.Prlimit(d.Cmd.Process.Pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 256, Max: 256}, nil); err != nil {
		t.Fatalf("limit the daemon's descriptors: %v", err)
	}
	flood := func(addr string, n int) []net.Conn {
		var cs []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatalf("flood connection %d to %s: %v", i, addr, err)
			}
			t.Cleanup(func() { c.Close() })
			cs = append(cs, c)
		}
		return cs
	}
	httpFlood := flood(d.HTTPAddr, 300)
	flood(d.DevAddr, 300)
	time.Sleep(500 * time.Millisecond)

	from2 := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: from2.DialContext}}
	resp, err := hc.Get("http://" + d.HTTPAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz from another address during the flood: %v %v", err, resp)
	}
	resp.Body.Close()

	c, err := from2.Dial("tcp", d.DevAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	dev := devicetest.NewClient(t, c, frame.ModeLine, "T-CALM")
	if r := dev.Login(nil); r.Exception() != "" {
		t.Fatalf("device login from another address during the flood: %s", r.Raw)
	}
	if r := dev.Call("getGoods", map[string]any{"code": "6921168509256"}); r.Body == nil {
		t.Fatalf("getGoods during the flood: %s", r.Raw)
	}

	// The flood's connections past the cap are closed by the server; those
	// it had time to answer (64 at once) got a 429 with a reason.
	answered := 0
	for i, c := range httpFlood[64:] {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection %d of one address (cap 64) still open", 65+i)
		}
		if strings.Contains(string(b), "429 Too Many Requests") {
			answered++
		}
	}
	if answered == 0 {
		t.Error("no refused connection was told why (429)")
	}
	if !strings.Contains(d.Log(), "client at its cap") {
		t.Error("no log line for the refused connections")
	}

	// A keep-alive connection with no next request is closed after 1 s.
	ka, err := from2.Dial("tcp", d.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	fmt.Fprint(ka, "GET /healthz HTTP/1.1\r\nHost: box\r\n\r\n")
	ka.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(ka)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive healthz: %v %v", err, resp)
	}
	start := time.Now()
	_, err = io.Copy(io.Discard, br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("an idle keep-alive connection was still open %v after http.idle_timeout = 1s", time.Since(start).Round(time.Second))
	}
}
