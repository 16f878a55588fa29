package devices

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
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
	h := newHarness(t, Config{})
	_, err := h.st.Import(func(y func(store.ImportRow) error) error {
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
	labels := make([]*client, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl := h.dial(t, frame.ModeLength, fmt.Sprintf("ESL_%04d", i))
			body := map[string]any{"mac_id": labelMAC(i)}
			if i == 7 {
				body["charset"] = "gbk"
			}
			cl.mustLogin(body)
			// The login push: its bound goods.
			r, err := cl.read()
			if err != nil || r.Head.Action != "goodsUpdate" || len(goodsIDs(r)) != 1 || goodsIDs(r)[0] != fmt.Sprintf("L%04d", i) {
				t.Errorf("label %d login push: %+v %v", i, r, err)
			}
			labels[i] = cl
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if _, err := h.st.ApplyCatalogPage("c1", []goods.Goods{{GID: "L0007", Barcode: "4000007", Name: "标签商品 7 特价", Price: 80, Unit: "pcs", MacIDs: []string{labelMAC(7)}}}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := labels[7].read()
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
		cl.c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if p, err := cl.fr.Next(); err == nil {
			t.Fatalf("label %d got %s", i, p)
		}
		if i > 50 {
			break // the first 50 are enough to prove the point; reading all costs time
		}
	}
}

func TestBindUnbindLabel(t *testing.T) {
	h := newHarness(t, Config{})
	lbl := h.dial(t, frame.ModeLine, "ESL_X")
	lbl.mustLogin(map[string]any{"mac_id": "A4-C1-38-AA-BB-CC"})
	if r, _ := lbl.read(); r.Head.Action != "goodsUpdate" || len(goodsIDs(r)) != 0 {
		t.Fatalf("unbound label login push: %s", r.Raw)
	}
	term := h.dial(t, frame.ModeLine, "T-B")
	term.mustLogin(nil)
	if r := term.call("bindLabel", map[string]any{"mac_id": "a4c138aabbcc", "gid": "G2"}); r.exception() != "" {
		t.Fatalf("bind: %s", r.Raw)
	}
	if r, _ := lbl.read(); r.Head.Action != "goodsUpdate" || goodsIDs(r)[0] != "G2" {
		t.Fatalf("after bind: %s", r.Raw)
	}
	// Moving it to G3 pushes G3.
	if r := term.call("bindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G3"}); r.exception() != "" || r.Body["previous"] != "G2" {
		t.Fatalf("rebind: %s", r.Raw)
	}
	if r, _ := lbl.read(); goodsIDs(r)[0] != "G3" {
		t.Fatalf("after rebind: %s", r.Raw)
	}
	if g, _ := h.st.ByGID("G2"); len(g[0].MacIDs) != 0 {
		t.Fatalf("G2 still bound: %+v", g)
	}
	if r := term.call("unbindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G3"}); r.exception() != "" {
		t.Fatalf("unbind: %s", r.Raw)
	}
	if r, _ := lbl.read(); r.Head.Action != "goodsUpdate" || len(goodsIDs(r)) != 0 {
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
		if r := term.call(action, c.body); r.code() != c.code {
			t.Fatalf("%s %v: %s", action, c.body, r.Raw)
		}
	}
	if r := lbl.call("bindLabel", map[string]any{"mac_id": "A4:C1:38:AA:BB:CC", "gid": "G1"}); r.code() != "forbidden" {
		t.Fatalf("label binding itself: %s", r.Raw)
	}
}
