// Package devicetest runs a real device server, with the shelf's goods and
// label actions, on loopback over a small store, and dials it as devices
// do: the tests of daemon/devices and daemon/shelf share it.
package devicetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/shelf"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/charset"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/protocol/goods"
)

type Harness struct {
	St   *store.Store
	Srv  *devices.Server
	Addr string
}

// New starts a device server (admission open unless cfg says otherwise)
// with the shelf's actions over a store holding goods G1, G2 and G3,
// until the test ends.
func New(t testing.TB, cfg devices.Config) *Harness {
	t.Helper()
	st := storetest.Open(t, t.TempDir(), store.Options{})
	_, err := st.Import(func(y func(store.ImportRow) error) error {
		rows := []store.ImportRow{
			{Line: 2, Goods: goods.Goods{GID: "G1", Barcode: "6901234567892", Name: "农夫山泉 550ml", Price: 200, Unit: "pcs", MacIDs: []string{"A4:C1:38:00:00:01"}}, Stock: map[string]int64{"main": 10, "back": 4}, HasStock: true},
			{Line: 3, Goods: goods.Goods{GID: "G2", Barcode: "5449000000996", Name: "Coca-Cola 330ml", Price: 350, Unit: "pcs", RFIDs: []string{"E2801160600002084B3D9A11"}}, Stock: map[string]int64{"main": 3}, HasStock: true},
			{Line: 4, Goods: goods.Goods{GID: "G3", Name: "苹果 富士", Price: 1290, Unit: "kg"}, Stock: map[string]int64{"main": 20000}, HasStock: true},
		}
		for _, r := range rows {
			if err := y(r); err != nil {
				return err
			}
		}
		return nil
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Admission == "" {
		cfg.Admission = "open"
	}
	srv := devices.New(cfg, st, slog.New(slog.DiscardHandler))
	shelf.New(st, srv, nil)
	if err := srv.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return &Harness{St: st, Srv: srv, Addr: srv.Addr().String()}
}

// Client is a test device.
type Client struct {
	t    testing.TB
	C    net.Conn
	FR   *frame.Reader
	mode frame.Mode
	gbk  bool
	seq  int64
	id   string
}

// Dial connects a device that frames with mode and logs in as equipID.
func (h *Harness) Dial(t testing.TB, mode frame.Mode, equipID string) *Client {
	t.Helper()
	c, err := net.Dial("tcp", h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Client{t: t, C: c, FR: frame.NewReader(c, 0), mode: mode, id: equipID}
}

// NewClient is a device over a connection the test dialled itself (one it
// reads from another goroutine: Read returns errors, it never fails t).
func NewClient(t testing.TB, c net.Conn, mode frame.Mode, equipID string) *Client {
	return &Client{t: t, C: c, FR: frame.NewReader(c, 0), mode: mode, id: equipID}
}

// Reply is a frame the server sent: a reply or a push.
type Reply struct {
	Head struct {
		Action   string `json:"action"`
		Seq      *int64 `json:"seq"`
		UniqueID string `json:"uniqueId"`
	} `json:"head"`
	Body map[string]any  `json:"body"`
	Raw  json.RawMessage `json:"-"`
}

// Exception is the error message of an error reply ("" otherwise).
func (r Reply) Exception() string { s, _ := r.Body["exception"].(string); return s }

// Code is the error code of an error reply ("" otherwise).
func (r Reply) Code() string { s, _ := r.Body["code"].(string); return s }

// SendRaw writes bytes as they are.
func (cl *Client) SendRaw(b []byte) {
	cl.t.Helper()
	cl.C.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := cl.C.Write(b); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

// Send sends a request and returns its seq.
func (cl *Client) Send(action string, body any) int64 {
	cl.t.Helper()
	cl.seq++
	msg, err := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": cl.id, "seq": cl.seq}, "body": body})
	if err != nil {
		cl.t.Fatal(err)
	}
	if cl.gbk {
		msg = charset.EncodeJSONToGBK(msg)
	}
	cl.SendRaw(frame.Append(nil, cl.mode, msg))
	return cl.seq
}

// Read reads the next frame.
func (cl *Client) Read() (Reply, error) {
	cl.C.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := cl.FR.Next()
	if err != nil {
		return Reply{}, err
	}
	if cl.gbk {
		if p, err = charset.DecodeGBK(p); err != nil {
			return Reply{}, err
		}
	}
	var r Reply
	if err := json.Unmarshal(p, &r); err != nil {
		return Reply{}, fmt.Errorf("reply is not JSON: %v: %q", err, p)
	}
	r.Raw = p
	return r, nil
}

// Call sends and returns the matching reply, skipping pushes.
func (cl *Client) Call(action string, body any) Reply {
	cl.t.Helper()
	seq := cl.Send(action, body)
	for {
		r, err := cl.Read()
		if err != nil {
			cl.t.Fatalf("%s: read reply: %v", action, err)
		}
		if r.Head.Action == action+"Return" && r.Head.Seq != nil && *r.Head.Seq == seq {
			return r
		}
	}
}

// Login logs in with body (a label: {"mac_id": ...}; GBK: {"charset": "gbk"}).
func (cl *Client) Login(body map[string]any) Reply {
	cl.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := cl.Call("login", body)
	if cs, _ := body["charset"].(string); cs == "gbk" && r.Exception() == "" {
		cl.gbk = true
	}
	return r
}

// MustLogin logs in or fails the test.
func (cl *Client) MustLogin(body map[string]any) {
	cl.t.Helper()
	if r := cl.Login(body); r.Exception() != "" {
		cl.t.Fatalf("login: %s", r.Raw)
	}
}

// GoodsIDs lists the gids of a reply's or push's goods.
func GoodsIDs(r Reply) []string {
	gs, _ := r.Body["goods"].([]any)
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.(map[string]any)["gid"].(string))
	}
	return ids
}
