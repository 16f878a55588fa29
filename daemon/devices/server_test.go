package devices_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/devices/devicetest"
	"github.com/storebox/storebox/daemon/store/admission"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/test/testenv"
)

var modes = []frame.Mode{frame.ModeLine, frame.ModeLength}

func TestActionsBothFramingsAndCharsets(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	for _, mode := range modes {
		for _, cs := range []string{"", "gbk"} {
			t.Run(fmt.Sprintf("%s/%s", mode, cs), func(t *testing.T) {
				cl := h.Dial(t, mode, "T-"+mode.String()+cs)
				lr := cl.Login(map[string]any{"charset": cs})
				if lr.Exception() != "" || lr.Body["uniqueId"] == "" || lr.Body["heartbeat_s"].(float64) != 15 {
					t.Fatalf("login: %s", lr.Raw)
				}
				if *lr.Head.Seq != 1 || lr.Head.Action != "loginReturn" {
					t.Fatalf("head: %s", lr.Raw)
				}
				cases := []struct {
					action string
					body   any
					want   []string
				}{
					{"getGoods", map[string]any{"code": "6901234567892"}, []string{"G1"}},
					{"getGoods", map[string]any{"mac_id": "a4c138000001"}, []string{"G1"}},
					{"getGoods", map[string]any{"gid": "G3"}, []string{"G3"}},
					{"getGoods", map[string]any{"gname": "山泉"}, []string{"G1"}},
					{"getGoods", map[string]any{"gname": "COCA"}, []string{"G2"}},
					{"getGoods", map[string]any{"rfids": []string{"e2801160600002084b3d9a11"}}, []string{"G2"}},
					{"getAllGoods", map[string]any{"ost": 1, "lmt": 2}, []string{"G2", "G3"}},
					{"getWarehouseGoods", map[string]any{"whid": "back"}, []string{"G1"}},
				}
				for _, c := range cases {
					r := cl.Call(c.action, c.body)
					if r.Exception() != "" {
						t.Fatalf("%s %v: %s", c.action, c.body, r.Raw)
					}
					if got := devicetest.GoodsIDs(r); strings.Join(got, ",") != strings.Join(c.want, ",") {
						t.Fatalf("%s %v: got %v want %v", c.action, c.body, got, c.want)
					}
					if r.Head.UniqueID != lr.Body["uniqueId"] {
						t.Fatalf("devicetest.Reply uniqueId %q, session %v", r.Head.UniqueID, lr.Body["uniqueId"])
					}
				}
				// The Chinese name survives the charset round trip.
				r := cl.Call("getGoods", map[string]any{"gid": "G1"})
				if name := r.Body["goods"].([]any)[0].(map[string]any)["gname"]; name != "农夫山泉 550ml" {
					t.Fatalf("name %q", name)
				}
				if st := r.Body["goods"].([]any)[0].(map[string]any)["stock"]; st != float64(10) {
					t.Fatalf("stock %v", st)
				}
				all := cl.Call("getAllGoods", map[string]any{})
				if all.Body["total"] != float64(3) {
					t.Fatalf("total: %s", all.Raw)
				}
				hr := cl.Call("health", nil)
				if hr.Exception() != "" {
					t.Fatalf("health: %s", hr.Raw)
				}
			})
		}
	}
}

func TestGBKFramesAreGBKOnTheWire(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	cl := h.Dial(t, frame.ModeLine, "ESL_GBK")
	cl.MustLogin(map[string]any{"charset": "gbk", "kind": "terminal"})
	cl.Send("getGoods", map[string]any{"gid": "G1"})
	cl.C.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := cl.FR.Next()
	if err != nil {
		t.Fatal(err)
	}
	// 农 in GBK is C5 A9; in UTF-8 it is E5 86 9C.
	if !bytes.Contains(raw, []byte{0xC5, 0xA9}) || bytes.Contains(raw, []byte("农")) {
		t.Fatalf("frame not GBK: %q", raw)
	}
}

func TestBadInputKeepsConnectionOrClosesCleanly(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	// Invalid JSON in a well-framed message: error devicetest.Reply, connection stays.
	cl := h.Dial(t, frame.ModeLine, "T-BAD")
	cl.SendRaw([]byte("{not json}\n"))
	if r, err := cl.Read(); err != nil || r.Code() != "bad_request" {
		t.Fatalf("invalid json: %+v %v", r, err)
	}
	// A body string that is not JSON.
	cl.SendRaw([]byte(`{"head":{"action":"login","equipId":"T-BAD","seq":4},"body":"hello"}` + "\n"))
	if r, err := cl.Read(); err != nil || r.Code() != "bad_request" || *r.Head.Seq != 4 {
		t.Fatalf("string body: %+v %v", r, err)
	}
	// A body string holding an object is accepted.
	cl.SendRaw([]byte(`{"head":{"action":"login","equipId":"T-BAD","seq":5},"body":"{\"kind\":\"terminal\"}"}` + "\n"))
	if r, err := cl.Read(); err != nil || r.Exception() != "" {
		t.Fatalf("string-wrapped body: %s %v", r.Raw, err)
	}
	if r := cl.Call("getGoods", map[string]any{"gid": "G1"}); r.Exception() != "" {
		t.Fatalf("still serving: %s", r.Raw)
	}

	closes := map[string][]byte{
		"zero length":         {0, 0, 0, 0},
		"oversize":            binary.BigEndian.AppendUint32(nil, frame.MaxSize+1),
		"line mode violation": []byte("{\"head\":{\"action\":\"health\"}}\nxyz\n"),
	}
	for name, b := range closes {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", h.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(b)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			all, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("want clean close, got %v", err)
			}
			if !bytes.Contains(all, []byte(`"code":"bad_request"`)) {
				t.Fatalf("want an error frame before close, got %q", all)
			}
		})
	}
	// An oversize line closes too.
	c, _ := net.Dial("tcp", h.Addr)
	defer c.Close()
	go func() {
		c.Write([]byte("{"))
		c.Write(bytes.Repeat([]byte("a"), frame.MaxSize+10))
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if all, _ := io.ReadAll(c); !bytes.Contains(all, []byte("larger than 1 MiB")) {
		t.Fatalf("oversize line: %q", all)
	}
	// Garbage and a half frame that stalls do not disturb another session.
	g, _ := net.Dial("tcp", h.Addr)
	defer g.Close()
	junk := make([]byte, 10000)
	rand.New(rand.NewSource(1)).Read(junk)
	g.Write(junk)
	half, _ := net.Dial("tcp", h.Addr)
	defer half.Close()
	half.Write([]byte{0, 0, 0, 100, '{'})
	other := h.Dial(t, frame.ModeLength, "T-OTHER")
	other.MustLogin(nil)
	if r := other.Call("getGoods", map[string]any{"code": "6901234567892"}); r.Exception() != "" {
		t.Fatalf("other session: %s", r.Raw)
	}
}

func TestPairingFlowAndTokens(t *testing.T) {
	h := devicetest.New(t, devices.Config{Admission: "pairing", Tokens: map[string]string{"T-TOK": "s3cret"}})
	cl := h.Dial(t, frame.ModeLine, "T-NEW")
	if r := cl.Login(nil); r.Code() != "pending_approval" {
		t.Fatalf("unknown device: %s", r.Raw)
	}
	d, ok, _ := admission.New(h.St).Device("T-NEW")
	if !ok || d.Status != admission.DevicePending {
		t.Fatalf("pending not recorded: %+v", d)
	}
	if r := cl.Call("getGoods", map[string]any{"gid": "G1"}); r.Code() != "not_logged_in" {
		t.Fatalf("pending device served: %s", r.Raw)
	}
	admission.New(h.St).SetDeviceStatus("T-NEW", admission.DeviceApproved)
	cl.MustLogin(nil)
	// Rejected devices are forbidden.
	admission.New(h.St).SetDeviceStatus("T-BAD", admission.DeviceRejected)
	if r := h.Dial(t, frame.ModeLine, "T-BAD").Login(nil); r.Code() != "forbidden" {
		t.Fatalf("rejected: %s", r.Raw)
	}
	// A device with a configured token must present it, and is then admitted.
	if r := h.Dial(t, frame.ModeLine, "T-TOK").Login(map[string]any{"token": "wrong"}); r.Code() != "forbidden" {
		t.Fatalf("wrong token: %s", r.Raw)
	}
	h.Dial(t, frame.ModeLine, "T-TOK").MustLogin(map[string]any{"token": "s3cret"})
}

func TestSessionReplacement(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	a := h.Dial(t, frame.ModeLine, "T-R")
	a.MustLogin(nil)
	b := h.Dial(t, frame.ModeLength, "T-R")
	b.MustLogin(nil)
	a.C.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(a.C); err != nil {
		t.Fatalf("old session not closed cleanly: %v", err)
	}
	if r := b.Call("getGoods", map[string]any{"gid": "G2"}); r.Exception() != "" {
		t.Fatalf("new session: %s", r.Raw)
	}
	if n := len(h.Srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions", n)
	}
}

func TestHeartbeatBothWaysAndIdleClose(t *testing.T) {
	h := devicetest.New(t, devices.Config{Heartbeat: time.Second})
	cl := h.Dial(t, frame.ModeLine, "T-HB")
	cl.MustLogin(nil)
	r, err := cl.Read()
	if err != nil || r.Head.Action != "health" {
		t.Fatalf("want server health push, got %+v %v", r, err)
	}
	cl.SendRaw([]byte(`{"head":{"action":"healthReturn"},"body":{}}` + "\n"))
	// Now go silent: closed after 3 heartbeats (pushes keep arriving meanwhile).
	start := time.Now()
	for {
		if _, err := cl.Read(); err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("want close, got %v", err)
			}
			break
		}
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("closed after %s, before 3 heartbeats", el)
	}
}

func TestSlowReaderIsDroppedOthersUnaffected(t *testing.T) {
	h := devicetest.New(t, devices.Config{OutboundQueue: 4, WriteTimeout: time.Second})
	slow := h.Dial(t, frame.ModeLine, "T-SLOW")
	slow.MustLogin(nil)
	fast := h.Dial(t, frame.ModeLine, "T-FAST")
	fast.MustLogin(nil)
	// Push to a device that never reads: socket buffers fill, then the
	// queue, then the session is dropped. Push itself never blocks.
	big := map[string]string{"pad": strings.Repeat("x", 64<<10)}
	dropped := false
	for i := 0; i < 100000 && !dropped; i++ {
		dropped = !h.Srv.Push("T-SLOW", "goodsUpdate", big)
		if i%100 == 0 {
			if r := fast.Call("getGoods", map[string]any{"gid": "G1"}); r.Exception() != "" {
				t.Fatalf("fast: %s", r.Raw)
			}
		}
	}
	if !dropped {
		t.Fatal("pushes to a device that never reads were never refused")
	}
	testenv.Eventually(t, "the slow session to be dropped", func() bool {
		for _, s := range h.Srv.Sessions() {
			if s.EquipID == "T-SLOW" {
				return false
			}
		}
		return true
	})
	if r := fast.Call("getGoods", map[string]any{"gid": "G1"}); r.Exception() != "" {
		t.Fatalf("fast after drop: %s", r.Raw)
	}
}

func TestMaxConnectionsBusy(t *testing.T) {
	h := devicetest.New(t, devices.Config{MaxConnections: 2})
	a := h.Dial(t, frame.ModeLine, "T-A")
	a.MustLogin(nil)
	b := h.Dial(t, frame.ModeLine, "T-B")
	b.MustLogin(nil)
	c := h.Dial(t, frame.ModeLength, "T-C")
	if r := c.Login(nil); r.Code() != "busy" {
		t.Fatalf("third connection: %s", r.Raw)
	}
	c.C.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.FR.Next(); err != io.EOF {
		t.Fatalf("busy connection not closed: %v", err)
	}
	a.C.Close()
	// The slot frees up.
	testenv.Eventually(t, "the slot to free up", func() bool {
		return h.Dial(t, frame.ModeLine, "T-D").Login(nil).Exception() == ""
	})
}

func TestThousandConcurrentSessions(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	h := devicetest.New(t, devices.Config{Heartbeat: time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", h.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			id, mode := fmt.Sprintf("T-%04d", i), modes[i%2]
			cl := devicetest.NewClient(t, c, mode, id)
			msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": "login", "equipId": id, "seq": 1}, "body": map[string]any{}})
			c.Write(frame.Append(nil, mode, msg))
			gotLogin, gotHealth := false, false
			for !gotLogin || !gotHealth {
				r, err := cl.Read()
				if err != nil {
					errs <- fmt.Errorf("%s: %v", id, err)
					return
				}
				switch r.Head.Action {
				case "loginReturn":
					if r.Exception() != "" {
						errs <- fmt.Errorf("%s: %s", id, r.Raw)
						return
					}
					gotLogin = true
				case "health":
					c.Write(frame.Append(nil, mode, []byte(`{"head":{"action":"healthReturn"},"body":{}}`)))
					gotHealth = true
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestPipelinedRequestsAndHalfFrames(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	cl := h.Dial(t, frame.ModeLength, "T-PIPE")
	cl.MustLogin(nil)
	var batch []byte
	for i := 1; i <= 20; i++ {
		batch = frame.Append(batch, frame.ModeLength, []byte(fmt.Sprintf(`{"head":{"action":"getGoods","seq":%d},"body":{"gid":"G1"}}`, 100+i)))
	}
	cl.SendRaw(batch)
	for i := 1; i <= 20; i++ {
		r, err := cl.Read()
		if err != nil || *r.Head.Seq != int64(100+i) || r.Exception() != "" {
			t.Fatalf("devicetest.Reply %d: %s %v", i, r.Raw, err)
		}
	}
	// A whole request followed by half of the next: the first devicetest.Reply must
	// not wait for the rest of the second request.
	next := frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":2},"body":{"gid":"G2"}}`))
	cl.SendRaw(append(frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":1},"body":{"gid":"G1"}}`)), next[:10]...))
	cl.C.SetReadDeadline(time.Now().Add(3 * time.Second))
	p, err := cl.FR.Next()
	if err != nil || !bytes.Contains(p, []byte(`"seq":1`)) {
		t.Fatalf("first devicetest.Reply held back: %q %v", p, err)
	}
	cl.SendRaw(next[10:])
	if r, err := cl.Read(); err != nil || *r.Head.Seq != 2 {
		t.Fatalf("second reply: %+v %v", r, err)
	}
}

func TestRepliesBeforeABadFrameAreSent(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	cl := h.Dial(t, frame.ModeLength, "T-BADPIPE")
	cl.MustLogin(nil)
	b := frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":7},"body":{"gid":"G1"}}`))
	cl.SendRaw(append(b, 0, 0, 0, 0)) // then a zero-length frame
	r, err := cl.Read()
	if err != nil || *r.Head.Seq != 7 || r.Exception() != "" {
		t.Fatalf("devicetest.Reply before the bad frame: %+v %v", r, err)
	}
	if r, err := cl.Read(); err != nil || r.Code() != "bad_request" {
		t.Fatalf("error frame: %+v %v", r, err)
	}
}

// TestLoginBoundsAndPendingCap: a device without credentials cannot make
// the store remember more than MaxPending devices, nor fields longer than
// PROTOCOL §2.4's bounds (issue 19: 300 logins with 1 MB names grew the
// store file to 425 MB).
func TestLoginBoundsAndPendingCap(t *testing.T) {
	h := devicetest.New(t, devices.Config{Admission: "pairing"})
	records := admission.New(h.St)
	for _, c := range []struct {
		name string
		body map[string]any
		id   string
	}{
		{"huge name", map[string]any{"name": strings.Repeat("n", 200_000)}, "T-HUGE-NAME"},
		{"long mac_id", map[string]any{"kind": "label", "mac_id": strings.Repeat("A", devmsg.MaxMacID+1)}, "ESL_LONGMAC"},
		{"long equipId", nil, strings.Repeat("E", devmsg.MaxEquipID+1)},
		{"escape in equipId", nil, "T-\x1b[2J"},
		{"C1 in equipId", nil, "T-\u009b31m"},
	} {
		r := h.Dial(t, frame.ModeLine, c.id).Login(c.body)
		if r.Code() != devmsg.CodeBadRequest {
			t.Errorf("%s: %s", c.name, r.Raw)
		}
	}
	if all, _ := records.Devices(); len(all) != 0 {
		t.Fatalf("refused logins were recorded: %d records", len(all))
	}
	// At the bound a name is kept.
	h.Dial(t, frame.ModeLine, "T-NAMED").Login(map[string]any{"name": strings.Repeat("n", devmsg.MaxName)})
	if d, ok, _ := records.Device("T-NAMED"); !ok || len(d.Name) != devmsg.MaxName {
		t.Fatalf("name at the bound: %+v", d)
	}
	admission.New(h.St).SetDeviceStatus("T-KNOWN", admission.DeviceApproved)

	// New equipIds over a few connections (a pending login does not log a
	// connection in, so one may try as many ids as it likes; several let
	// the store commit them in batches); at the cap new ones are refused.
	name := strings.Repeat("x", devmsg.MaxName)
	const conns, each = 20, 55
	flood := conns * each
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for n := range conns {
		c, err := net.Dial("tcp", h.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var buf []byte
		for i := range each {
			msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": "login", "equipId": fmt.Sprintf("FLOOD-%02d-%03d", n, i), "seq": i},
				"body": map[string]any{"name": name}})
			buf = frame.Append(buf, frame.ModeLine, msg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := devicetest.NewClient(t, c, frame.ModeLine, "")
			if _, err := c.Write(buf); err != nil {
				t.Error(err)
				return
			}
			for range each {
				r, err := cl.Read()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				codes[r.Code()]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	_, total, err := records.Pending(0)
	if err != nil {
		t.Fatal(err)
	}
	if total != admission.MaxPending {
		t.Fatalf("pending after the flood: %d, want %d (replies %v)", total, admission.MaxPending, codes)
	}
	// T-NAMED waits too, so the flood got MaxPending-1 places.
	if codes[devmsg.CodeBusy] != flood-(admission.MaxPending-1) || codes[devmsg.CodePendingApproval] != admission.MaxPending-1 {
		t.Fatalf("replies %v", codes)
	}
	// Known devices still log in; approving one pending device makes room.
	h.Dial(t, frame.ModeLine, "T-KNOWN").MustLogin(nil)
	if r := h.Dial(t, frame.ModeLine, "T-LATE").Login(nil); r.Code() != devmsg.CodeBusy {
		t.Fatalf("new device at the cap: %s", r.Raw)
	}
	if _, ok, _ := records.Device("T-LATE"); ok {
		t.Fatal("refused device recorded")
	}
	pending, _, _ := records.Pending(1)
	records.SetDeviceStatus(pending[0].EquipID, admission.DeviceApproved)
	if r := h.Dial(t, frame.ModeLine, "T-LATE").Login(nil); r.Code() != devmsg.CodePendingApproval {
		t.Fatalf("after an approval: %s", r.Raw)
	}
}

// One client (an address) holding its cap of idle connections has the
// next closed at once, without a reset; a device at another address logs in and is served.
func TestConnectionCapPerClient(t *testing.T) {
	h := devicetest.New(t, devices.Config{MaxConnsPerAddress: 4})
	var idle []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", h.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	over, err := net.Dial("tcp", h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	// Its login, sent at once, is unread when the server refuses it: the
	// client still reads the end of the connection, not a reset (Windows
	// resets a connection closed with input unread, Linux too when the
	// input came before the close).
	devicetest.NewClient(t, over, frame.ModeLine, "T-OVER").Send("login", map[string]any{})
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the 5th connection of one client: read %v, want the end of the connection (EOF)", err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	other := devicetest.NewClient(t, c, frame.ModeLine, "T-OTHER")
	defer c.Close()
	other.MustLogin(nil)
	if r := other.Call("getGoods", map[string]any{"code": "6901234567892"}); r.Exception() != "" {
		t.Fatalf("getGoods from another client: %s", r.Raw)
	}
	// A closed connection gives its slot back.
	idle[0].Close()
	testenv.Eventually(t, "the slot to free up", func() bool {
		c, err := net.Dial("tcp", h.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		cl := devicetest.NewClient(t, c, frame.ModeLine, "T-AGAIN")
		cl.Send("login", map[string]any{})
		r, err := cl.Read()
		return err == nil && r.Exception() == ""
	})
}

// One client (an address) logging in new equipIds past
// devices.new_devices_per_minute is refused with busy and nothing is
// recorded; its next connections are closed at accept, while its open
// connections still log in devices the store knows and another client
// still records new ones (issue 19: a flood of invented equipIds cost the
// daemon half the CPU).
func TestNewDevicesRatePerClient(t *testing.T) {
	h := devicetest.New(t, devices.Config{Admission: "pairing", NewDevicesPerMinute: 3})
	records := admission.New(h.St)
	records.SetDeviceStatus("T-KNOWN", admission.DeviceApproved)
	var open []*devicetest.Client
	for i := 1; i <= 3; i++ {
		cl := h.Dial(t, frame.ModeLine, fmt.Sprintf("NEW-%d", i))
		if r := cl.Login(nil); r.Code() != devmsg.CodePendingApproval {
			t.Fatalf("new device %d of 3: %s", i, r.Raw)
		}
		open = append(open, cl)
	}
	over := devicetest.NewClient(t, open[2].C, frame.ModeLine, "NEW-4")
	if r := over.Login(nil); r.Code() != devmsg.CodeBusy || !strings.Contains(r.Exception(), "devices.new_devices_per_minute") {
		t.Fatalf("a 4th new device within the minute: %s", r.Raw)
	}
	if _, ok, _ := records.Device("NEW-4"); ok {
		t.Fatal("the refused new device was recorded")
	}
	c, err := net.Dial("tcp", h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection of the client over its rate was kept: %d %v", n, err)
	}
	known := devicetest.NewClient(t, open[0].C, frame.ModeLine, "T-KNOWN")
	known.MustLogin(nil)
	if r := known.Call("getGoods", map[string]any{"code": "6901234567892"}); r.Exception() != "" {
		t.Fatalf("getGoods on the client's open connection: %s", r.Raw)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c2, err := d.Dial("tcp", h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if r := devicetest.NewClient(t, c2, frame.ModeLine, "NEW-5").Login(nil); r.Code() != devmsg.CodePendingApproval {
		t.Fatalf("a new device of another client: %s", r.Raw)
	}
}
