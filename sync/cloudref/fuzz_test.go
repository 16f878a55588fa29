package cloudref

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

func FuzzParseGoods(f *testing.F) {
	f.Add([]byte(`{"gid":"g1","barcode":"1","gname":"a","price":1,"unit":"pcs"}`))
	f.Add([]byte(`[{"gid":"g1","gname":"a","price":1,"unit":"kg"}]`))
	f.Add([]byte("\n\n{\"gid\":\"\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ParseGoods(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, g := range items {
			if g.Validate() != nil {
				t.Fatalf("accepted invalid goods %+v", g)
			}
		}
	})
}

// FuzzPostEvents: any correctly signed body gets 200 or 400, never a 5xx or
// a panic, and an acknowledged batch is really held.
func FuzzPostEvents(f *testing.F) {
	f.Add([]byte(`{"batch_id":"b","events":[{"id":"e1","seq":1,"type":"t","at":"2026-01-01T00:00:00Z","data":{}}]}`))
	f.Add([]byte(`{"batch_id":"b","events":[{"id":"e1","seq":2,"type":"t"},{"id":"e2","seq":1,"type":"t"}]}`))
	f.Add([]byte(`{"batch_id":"","events":[]}`))
	f.Add([]byte(`not json`))
	srv, err := New(Options{Secret: "k"})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/stores/s1/events", bytes.NewReader(body))
		req.Header.Set(ledger.HeaderStore, "s1")
		req.Header.Set(ledger.HeaderSignature, ledger.Sign("k", time.Now(), body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusBadRequest, http.StatusUnauthorized: // empty body signs the path: 401 is right
		case http.StatusOK:
			var ack ledger.Ack
			if err := json.Unmarshal(w.Body.Bytes(), &ack); err != nil {
				t.Fatalf("200 with body %q", w.Body.String())
			}
			// Every event the ack covers is held by id (a copy of an id
			// already held under another seq was dropped, and counts).
			var b ledger.Batch
			json.Unmarshal(body, &b)
			srv.evMu.Lock()
			st := srv.stores["s1"]
			held := st.seqs.has(ack.AckedThrough)
			for _, e := range b.Events {
				if e.Seq == ack.AckedThrough {
					held = true
				}
				if _, ok := st.ids[e.ID]; e.Seq <= ack.AckedThrough && !ok {
					held = false
					break
				}
			}
			srv.evMu.Unlock()
			if !held {
				t.Fatalf("acked through %d, not held", ack.AckedThrough)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}
