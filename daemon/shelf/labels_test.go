package shelf_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/devices/devicetest"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/protocol/goods"
)

func labelMAC(i int) string { return fmt.Sprintf("A4:C1:39:00:%02X:%02X", i>>8, i&0xff) }

// 1,000 labels, each bound to its own goods; one price change on goods 7
// reaches exactly label 7, and a GBK label decodes its push.
func TestPriceChangeReachesExactlyTheBoundLabels(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	h := devicetest.New(t, devices.Config{})
	_, err := h.St.Import(func(y func(store.ImportRow) error) error {
		for i := 0; i < n; i++ {
			g := goods.Goods{GID: fmt.Sprintf("L%04d", i), Barcode: fmt.Sprint(4000000 + i), Name: fmt.Sprintf("标签商品 %d", i), Price: 100, Unit: "pcs", MacIDs: []string{labelMAC(i)}}
			if err := y(store.ImportRow{Line: i + 2, Goods: g}); err != nil {
				return err
			}
		}
		return nil
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]*devicetest.Client, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl := h.Dial(t, frame.ModeLength, fmt.Sprintf("ESL_%04d", i))
			body := map[string]any{"mac_id": labelMAC(i)}
			if i == 7 {
				body["charset"] = "gbk"
			}
			cl.MustLogin(body)
			// The login push: its bound goods.
			r, err := cl.Read()
			if err != nil || r.Head.Action != "goodsUpdate" || len(devicetest.GoodsIDs(r)) != 1 || devicetest.GoodsIDs(r)[0] != fmt.Sprintf("L%04d", i) {
				t.Errorf("label %d login push: %+v %v", i, r, err)
			}
			labels[i] = cl
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if _, err := h.St.ApplyCatalogPage("c1", []goods.Goods{{GID: "L0007", Barcode: "4000007", Name: "标签商品 7 特价", Price: 80, Unit: "pcs", MacIDs: []string{labelMAC(7)}}}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := labels[7].Read()
	if err != nil || r.Head.Action != "goodsUpdate" {
		t.Fatalf("label 7: %+v %v", r, err)
	}
	g := r.Body["goods"].([]any)[0].(map[string]any)
	if g["price"] != float64(80) || g["gname"] != "标签商品 7 特价" {
		t.Fatalf("push %s", r.Raw)
	}
	// Nobody else got anything: a health push would be the only thing, and
	// the heartbeat is 15 s, so any frame within a short wait is wrong.
	for i, cl := range labels {
		if i == 7 {
			continue
		}
		cl.C.SetReadDeadline(time.Now().Add(time.Millisecond))
		if p, err := cl.FR.Next(); err == nil {
			t.Fatalf("label %d got %s", i, p)
		}
		if i > 50 {
			break // the first 50 are enough to prove the point; reading all costs time
		}
	}
}

func TestBindUnbindLabel(t *testing.T) {
	h := devicetest.New(t, devices.Config{})
	lbl := h.Dial(t, frame.ModeLine, "ESL_X")
	lbl.MustLogin(map[string]any{"mac_id": "A4-C1-38-AA-BB-CC"})
	if r, _ := lbl.Read(); r.Head.Action != "goodsUpdate" || len(devicetest.GoodsIDs(r)) != 0 {
		t.Fatalf("unbound label login push: %s", r.Raw)
	}
	term := h.Dial(t, frame.ModeLine, "T-B")
	term.MustLogin(nil)
	if r := term.Call("bindLabel", map[string]any{"mac_id": "a4c138aabbcc", "gid": "G2"}); r.Exception() != "" {
		t.Fatalf("bind: %s", r.Raw)
	}
	if r, _ := lbl.Read(); r.Head.Action != "goodsUpdate" || devicetest.GoodsIDs(r)[0] != "G2" {
		t.Fatalf("after bind: %s", r.Raw)
	}
	// Moving it to G3 pushes G3.
	if r := term.Call("bindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G3"}); r.Exception() != "" || r.Body["previous"] != "G2" {
		t.Fatalf("rebind: %s", r.Raw)
	}
	if r, _ := lbl.Read(); devicetest.GoodsIDs(r)[0] != "G3" {
		t.Fatalf("after rebind: %s", r.Raw)
	}
	if g := storetest.Goods(t, h.St, "G2"); len(g.MacIDs) != 0 {
		t.Fatalf("G2 still bound: %+v", g)
	}
	if r := term.Call("unbindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G3"}); r.Exception() != "" {
		t.Fatalf("unbind: %s", r.Raw)
	}
	if r, _ := lbl.Read(); r.Head.Action != "goodsUpdate" || len(devicetest.GoodsIDs(r)) != 0 {
		t.Fatalf("after unbind: %s", r.Raw)
	}
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G3"}, "not_found"},
		{map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "NOPE"}, "not_found"},
		{map[string]any{"gid": "G1"}, "bad_request"},
	} {
		action := "unbindLabel"
		if c.body["gid"] == "NOPE" || c.code == "bad_request" {
			action = "bindLabel"
		}
		if r := term.Call(action, c.body); r.Code() != c.code {
			t.Fatalf("%s %v: %s", action, c.body, r.Raw)
		}
	}
	if r := lbl.Call("bindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G1"}); r.Code() != "forbidden" {
		t.Fatalf("label binding itself: %s", r.Raw)
	}
}
