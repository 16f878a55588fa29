package devices

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/charset"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/protocol/goods"
)

type harness struct {
	t   *testing.T
	st  *store.Store
	srv *Server
	adr string
}

func newHarness(t testing.TB, cfg Config) *harness {
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
	srv := New(cfg, st, slog.New(slog.DiscardHandler))
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
	return &harness{st: st, srv: srv, adr: srv.Addr().String()}
}

// client is a test device.
type client struct {
	t    testing.TB
	c    net.Conn
	fr   *frame.Reader
	mode frame.Mode
	gbk  bool
	seq  int64
	id   string
}

func (h *harness) dial(t testing.TB, mode frame.Mode, equipID string) *client {
	t.Helper()
	c, err := net.Dial("tcp", h.adr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, fr: frame.NewReader(c, 0), mode: mode, id: equipID}
}

type reply struct {
	Head struct {
		Action   string `json:"action"`
		Seq      *int64 `json:"seq"`
		UniqueID string `json:"uniqueId"`
	} `json:"head"`
	Body map[string]any  `json:"body"`
	Raw  json.RawMessage `json:"-"`
}

func (r reply) exception() string { s, _ := r.Body["exception"].(string); return s }
func (r reply) code() string      { s, _ := r.Body["code"].(string); return s }

func (cl *client) sendRaw(b []byte) {
	cl.t.Helper()
	cl.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

func (cl *client) send(action string, body any) int64 {
	cl.t.Helper()
	cl.seq++
	msg, err := json.Marshal(map[string]any{"head": map[string]any{"action": action, "equipId": cl.id, "seq": cl.seq}, "body": body})
	if err != nil {
		cl.t.Fatal(err)
	}
	if cl.gbk {
		msg = charset.EncodeJSONToGBK(msg)
	}
	cl.sendRaw(frame.Append(nil, cl.mode, msg))
	return cl.seq
}

func (cl *client) read() (reply, error) {
	cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := cl.fr.Next()
	if err != nil {
		return reply{}, err
	}
	if cl.gbk {
		if p, err = charset.DecodeGBK(p); err != nil {
			return reply{}, err
		}
	}
	var r reply
	if err := json.Unmarshal(p, &r); err != nil {
		return reply{}, fmt.Errorf("reply is not JSON: %v: %q", err, p)
	}
	r.Raw = p
	return r, nil
}

// call sends and returns the matching reply, skipping pushes.
func (cl *client) call(action string, body any) reply {
	cl.t.Helper()
	seq := cl.send(action, body)
	for {
		r, err := cl.read()
		if err != nil {
			cl.t.Fatalf("%s: read reply: %v", action, err)
		}
		if r.Head.Action == action+"Return" && r.Head.Seq != nil && *r.Head.Seq == seq {
			return r
		}
	}
}

func (cl *client) login(body map[string]any) reply {
	cl.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := cl.call("login", body)
	if cs, _ := body["charset"].(string); cs == "gbk" && r.exception() == "" {
		cl.gbk = true
	}
	return r
}

func (cl *client) mustLogin(body map[string]any) {
	cl.t.Helper()
	if r := cl.login(body); r.exception() != "" {
		cl.t.Fatalf("login: %s", r.Raw)
	}
}
