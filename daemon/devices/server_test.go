package devices

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/frame"
)

var modes = []frame.Mode{frame.ModeLine, frame.ModeLength}

func goodsIDs(r reply) []string {
	gs, _ := r.Body["goods"].([]any)
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.(map[string]any)["gid"].(string))
	}
	return ids
}

func TestActionsBothFramingsAndCharsets(t *testing.T) {
	h := newHarness(t, Config{})
	for _, mode := range modes {
		for _, cs := range []string{"", "gbk"} {
			t.Run(fmt.Sprintf("%s/%s", mode, cs), func(t *testing.T) {
				cl := h.dial(t, mode, "T-"+mode.String()+cs)
				lr := cl.login(map[string]any{"charset": cs})
				if lr.exception() != "" || lr.Body["uniqueId"] == "" || lr.Body["heartbeat_s"].(float64) != 15 {
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
					r := cl.call(c.action, c.body)
					if r.exception() != "" {
						t.Fatalf("%s %v: %s", c.action, c.body, r.Raw)
					}
					if got := goodsIDs(r); strings.Join(got, ",") != strings.Join(c.want, ",") {
						t.Fatalf("%s %v: got %v want %v", c.action, c.body, got, c.want)
					}
					if r.Head.UniqueID != lr.Body["uniqueId"] {
						t.Fatalf("reply uniqueId %q, session %v", r.Head.UniqueID, lr.Body["uniqueId"])
					}
				}
				// The Chinese name survives the charset round trip.
				r := cl.call("getGoods", map[string]any{"gid": "G1"})
				if name := r.Body["goods"].([]any)[0].(map[string]any)["gname"]; name != "农夫山泉 550ml" {
					t.Fatalf("name %q", name)
				}
				if st := r.Body["goods"].([]any)[0].(map[string]any)["stock"]; st != float64(10) {
					t.Fatalf("stock %v", st)
				}
				all := cl.call("getAllGoods", map[string]any{})
				if all.Body["total"] != float64(3) {
					t.Fatalf("total: %s", all.Raw)
				}
				hr := cl.call("health", nil)
				if hr.exception() != "" {
					t.Fatalf("health: %s", hr.Raw)
				}
			})
		}
	}
}

func TestGBKFramesAreGBKOnTheWire(t *testing.T) {
	h := newHarness(t, Config{})
	cl := h.dial(t, frame.ModeLine, "ESL_GBK")
	cl.mustLogin(map[string]any{"charset": "gbk", "kind": "terminal"})
	cl.send("getGoods", map[string]any{"gid": "G1"})
	cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := cl.fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	// 农 in GBK is C5 A9; in UTF-8 it is E5 86 9C.
	if !bytes.Contains(raw, []byte{0xC5, 0xA9}) || bytes.Contains(raw, []byte("农")) {
		t.Fatalf("frame not GBK: %q", raw)
	}
}

func TestErrorCodes(t *testing.T) {
	h := newHarness(t, Config{})
	cl := h.dial(t, frame.ModeLine, "T-ERR")
	if r := cl.call("getGoods", map[string]any{"gid": "G1"}); r.code() != "not_logged_in" {
		t.Fatalf("before login: %s", r.Raw)
	}
	cl.mustLogin(nil)
	cases := []struct {
		action string
		body   any
		code   string
	}{
		{"nope", nil, "unknown_action"},
		{"getGoods", map[string]any{}, "bad_request"},
		{"getGoods", map[string]any{"code": "1", "gid": "2"}, "bad_request"},
		{"getGoods", map[string]any{"code": 5}, "bad_request"},
		{"getGoods", map[string]any{"code": "0000"}, "not_found"},
		{"getAllGoods", map[string]any{"lmt": 1001}, "bad_request"},
		{"getAllGoods", map[string]any{"ost": -1}, "bad_request"},
		{"getWarehouseGoods", map[string]any{}, "bad_request"},
		{"stockGoods", map[string]any{"whid": "main", "lines": []any{map[string]any{"gid": "G1", "qty": 1}}}, "bad_request"},
		{"stockGoods", map[string]any{"whid": "main", "ref": "R1", "lines": []any{map[string]any{"gid": "NOPE", "qty": 1}}}, "not_found"},
	}
	for _, c := range cases {
		r := cl.call(c.action, c.body)
		if r.code() != c.code || r.exception() == "" {
			t.Errorf("%s %v: want %s, got %s", c.action, c.body, c.code, r.Raw)
		}
	}
	// stockGoods is idempotent by ref; a reused ref with other lines conflicts.
	body := map[string]any{"whid": "main", "ref": "R-9", "lines": []any{map[string]any{"gid": "G2", "qty": 5}}}
	r1 := cl.call("stockGoods", body)
	r2 := cl.call("stockGoods", body)
	if r1.exception() != "" || r1.Body["picking_id"] == nil || r1.Body["picking_id"] != r2.Body["picking_id"] {
		t.Fatalf("idempotent receipt: %s / %s", r1.Raw, r2.Raw)
	}
	body["lines"] = []any{map[string]any{"gid": "G2", "qty": 6}}
	if r := cl.call("stockGoods", body); r.code() != "conflict" {
		t.Fatalf("conflict: %s", r.Raw)
	}
	if l, _ := h.st.StockOf("main", "G2"); l.OnHand != 8 {
		t.Fatalf("stock after one receipt of 5 over 3: %+v", l)
	}
	// Labels may not receive stock.
	lbl := h.dial(t, frame.ModeLine, "ESL_0001")
	lbl.mustLogin(nil)
	if r := lbl.call("stockGoods", map[string]any{"whid": "main", "ref": "R-L", "lines": []any{map[string]any{"gid": "G2", "qty": 1}}}); r.code() != "forbidden" {
		t.Fatalf("label stock: %s", r.Raw)
	}
}

func TestBadInputKeepsConnectionOrClosesCleanly(t *testing.T) {
	h := newHarness(t, Config{})
	// Invalid JSON in a well-framed message: error reply, connection stays.
	cl := h.dial(t, frame.ModeLine, "T-BAD")
	cl.sendRaw([]byte("{not json}\n"))
	if r, err := cl.read(); err != nil || r.code() != "bad_request" {
		t.Fatalf("invalid json: %+v %v", r, err)
	}
	// A body string that is not JSON.
	cl.sendRaw([]byte(`{"head":{"action":"login","equipId":"T-BAD","seq":4},"body":"hello"}` + "\n"))
	if r, err := cl.read(); err != nil || r.code() != "bad_request" || *r.Head.Seq != 4 {
		t.Fatalf("string body: %+v %v", r, err)
	}
	// A body string holding an object is accepted.
	cl.sendRaw([]byte(`{"head":{"action":"login","equipId":"T-BAD","seq":5},"body":"{\"kind\":\"terminal\"}"}` + "\n"))
	if r, err := cl.read(); err != nil || r.exception() != "" {
		t.Fatalf("string-wrapped body: %s %v", r.Raw, err)
	}
	if r := cl.call("getGoods", map[string]any{"gid": "G1"}); r.exception() != "" {
		t.Fatalf("still serving: %s", r.Raw)
	}

	closes := map[string][]byte{
		"zero length":         {0, 0, 0, 0},
		"oversize":            binary.BigEndian.AppendUint32(nil, frame.MaxSize+1),
		"line mode violation": []byte("{\"head\":{\"action\":\"health\"}}\nxyz\n"),
	}
	for name, b := range closes {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", h.adr)
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
	c, _ := net.Dial("tcp", h.adr)
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
	g, _ := net.Dial("tcp", h.adr)
	defer g.Close()
	junk := make([]byte, 10000)
	rand.New(rand.NewSource(1)).Read(junk)
	g.Write(junk)
	half, _ := net.Dial("tcp", h.adr)
	defer half.Close()
	half.Write([]byte{0, 0, 0, 100, '{'})
	other := h.dial(t, frame.ModeLength, "T-OTHER")
	other.mustLogin(nil)
	if r := other.call("getGoods", map[string]any{"code": "6901234567892"}); r.exception() != "" {
		t.Fatalf("other session: %s", r.Raw)
	}
}

func TestPairingFlowAndTokens(t *testing.T) {
	h := newHarness(t, Config{Admission: "pairing", Tokens: map[string]string{"T-TOK": "s3cret"}})
	cl := h.dial(t, frame.ModeLine, "T-NEW")
	if r := cl.login(nil); r.code() != "pending_approval" {
		t.Fatalf("unknown device: %s", r.Raw)
	}
	d, ok, _ := h.st.Device("T-NEW")
	if !ok || d.Status != store.DevicePending {
		t.Fatalf("pending not recorded: %+v", d)
	}
	if r := cl.call("getGoods", map[string]any{"gid": "G1"}); r.code() != "not_logged_in" {
		t.Fatalf("pending device served: %s", r.Raw)
	}
	h.st.SetDeviceStatus("T-NEW", store.DeviceApproved)
	cl.mustLogin(nil)
	// Rejected devices are forbidden.
	h.st.SetDeviceStatus("T-BAD", store.DeviceRejected)
	if r := h.dial(t, frame.ModeLine, "T-BAD").login(nil); r.code() != "forbidden" {
		t.Fatalf("rejected: %s", r.Raw)
	}
	// A device with a configured token must present it, and is then admitted.
	if r := h.dial(t, frame.ModeLine, "T-TOK").login(map[string]any{"token": "wrong"}); r.code() != "forbidden" {
		t.Fatalf("wrong token: %s", r.Raw)
	}
	h.dial(t, frame.ModeLine, "T-TOK").mustLogin(map[string]any{"token": "s3cret"})
}

func TestSessionReplacement(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.dial(t, frame.ModeLine, "T-R")
	a.mustLogin(nil)
	b := h.dial(t, frame.ModeLength, "T-R")
	b.mustLogin(nil)
	a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(a.c); err != nil {
		t.Fatalf("old session not closed cleanly: %v", err)
	}
	if r := b.call("getGoods", map[string]any{"gid": "G2"}); r.exception() != "" {
		t.Fatalf("new session: %s", r.Raw)
	}
	if n := len(h.srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions", n)
	}
}

func TestHeartbeatBothWaysAndIdleClose(t *testing.T) {
	h := newHarness(t, Config{Heartbeat: time.Second})
	cl := h.dial(t, frame.ModeLine, "T-HB")
	cl.mustLogin(nil)
	r, err := cl.read()
	if err != nil || r.Head.Action != "health" {
		t.Fatalf("want server health push, got %+v %v", r, err)
	}
	cl.sendRaw([]byte(`{"head":{"action":"healthReturn"},"body":{}}` + "\n"))
	// Now go silent: closed after 3 heartbeats (pushes keep arriving meanwhile).
	start := time.Now()
	for {
		if _, err := cl.read(); err != nil {
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
	h := newHarness(t, Config{OutboundQueue: 4, WriteTimeout: time.Second})
	slow := h.dial(t, frame.ModeLine, "T-SLOW")
	slow.mustLogin(nil)
	fast := h.dial(t, frame.ModeLine, "T-FAST")
	fast.mustLogin(nil)
	// Push to a device that never reads: socket buffers fill, then the
	// queue, then the session is dropped. Push itself never blocks.
	big := map[string]string{"pad": strings.Repeat("x", 64<<10)}
	dropped := false
	for i := 0; i < 100000 && !dropped; i++ {
		dropped = !h.srv.Push("T-SLOW", "goodsUpdate", big)
		if i%100 == 0 {
			if r := fast.call("getGoods", map[string]any{"gid": "G1"}); r.exception() != "" {
				t.Fatalf("fast: %s", r.Raw)
			}
		}
	}
	if !dropped {
		t.Fatal("pushes to a device that never reads were never refused")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		gone := true
		for _, s := range h.srv.Sessions() {
			if s.EquipID == "T-SLOW" {
				gone = false
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slow session still listed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := fast.call("getGoods", map[string]any{"gid": "G1"}); r.exception() != "" {
		t.Fatalf("fast after drop: %s", r.Raw)
	}
}

func TestMaxConnectionsBusy(t *testing.T) {
	h := newHarness(t, Config{MaxConnections: 2})
	a := h.dial(t, frame.ModeLine, "T-A")
	a.mustLogin(nil)
	b := h.dial(t, frame.ModeLine, "T-B")
	b.mustLogin(nil)
	c := h.dial(t, frame.ModeLength, "T-C")
	if r := c.login(nil); r.code() != "busy" {
		t.Fatalf("third connection: %s", r.Raw)
	}
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.fr.Next(); err != io.EOF {
		t.Fatalf("busy connection not closed: %v", err)
	}
	a.c.Close()
	// The slot frees up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := h.dial(t, frame.ModeLine, "T-D")
		if r := d.login(nil); r.exception() == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThousandConcurrentSessions(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	h := newHarness(t, Config{Heartbeat: time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", h.adr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			cl := &client{t: t, c: c, fr: frame.NewReader(c, 0), mode: modes[i%2], id: fmt.Sprintf("T-%04d", i)}
			cl.seq++
			msg, _ := json.Marshal(map[string]any{"head": map[string]any{"action": "login", "equipId": cl.id, "seq": 1}, "body": map[string]any{}})
			c.Write(frame.Append(nil, cl.mode, msg))
			gotLogin, gotHealth := false, false
			for !gotLogin || !gotHealth {
				r, err := cl.read()
				if err != nil {
					errs <- fmt.Errorf("%s: %v", cl.id, err)
					return
				}
				switch r.Head.Action {
				case "loginReturn":
					if r.exception() != "" {
						errs <- fmt.Errorf("%s: %s", cl.id, r.Raw)
						return
					}
					gotLogin = true
				case "health":
					c.Write(frame.Append(nil, cl.mode, []byte(`{"head":{"action":"healthReturn"},"body":{}}`)))
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
	h := newHarness(t, Config{})
	cl := h.dial(t, frame.ModeLength, "T-PIPE")
	cl.mustLogin(nil)
	var batch []byte
	for i := 1; i <= 20; i++ {
		batch = frame.Append(batch, frame.ModeLength, []byte(fmt.Sprintf(`{"head":{"action":"getGoods","seq":%d},"body":{"gid":"G1"}}`, 100+i)))
	}
	cl.sendRaw(batch)
	for i := 1; i <= 20; i++ {
		r, err := cl.read()
		if err != nil || *r.Head.Seq != int64(100+i) || r.exception() != "" {
			t.Fatalf("reply %d: %s %v", i, r.Raw, err)
		}
	}
	// A whole request followed by half of the next: the first reply must
	// not wait for the rest of the second request.
	next := frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":2},"body":{"gid":"G2"}}`))
	cl.sendRaw(append(frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":1},"body":{"gid":"G1"}}`)), next[:10]...))
	cl.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	p, err := cl.fr.Next()
	if err != nil || !bytes.Contains(p, []byte(`"seq":1`)) {
		t.Fatalf("first reply held back: %q %v", p, err)
	}
	cl.sendRaw(next[10:])
	if r, err := cl.read(); err != nil || *r.Head.Seq != 2 {
		t.Fatalf("second reply: %+v %v", r, err)
	}
}

func TestRepliesBeforeABadFrameAreSent(t *testing.T) {
	h := newHarness(t, Config{})
	cl := h.dial(t, frame.ModeLength, "T-BADPIPE")
	cl.mustLogin(nil)
	b := frame.Append(nil, frame.ModeLength, []byte(`{"head":{"action":"getGoods","seq":7},"body":{"gid":"G1"}}`))
	cl.sendRaw(append(b, 0, 0, 0, 0)) // then a zero-length frame
	r, err := cl.read()
	if err != nil || *r.Head.Seq != 7 || r.exception() != "" {
		t.Fatalf("reply before the bad frame: %+v %v", r, err)
	}
	if r, err := cl.read(); err != nil || r.code() != "bad_request" {
		t.Fatalf("error frame: %+v %v", r, err)
	}
}
