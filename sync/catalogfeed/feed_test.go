package catalogfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/sync/catalogfeed"
	"github.com/storebox/storebox/sync/cloudref"
	"github.com/storebox/storebox/sync/upstream"
	"github.com/storebox/storebox/test/testenv"
)

// boltApplier is a small bbolt catalog: goods by gid and the cursor, written
// in one transaction per page. failAfter>0 makes the n-th apply fail after
// writing part of the page, to prove the transaction rolls back.
type boltApplier struct {
	db        *bbolt.DB
	mu        sync.Mutex
	applies   int
	failAfter int
}

func openApplier(t *testing.T, path string) *boltApplier {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte("goods")); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists([]byte("meta"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &boltApplier{db: db}
}

func (a *boltApplier) CatalogCursor() (string, error) {
	var c string
	err := a.db.View(func(tx *bbolt.Tx) error {
		c = string(tx.Bucket([]byte("meta")).Get([]byte("cursor")))
		return nil
	})
	return c, err
}

var errCrash = errors.New("simulated crash")

func (a *boltApplier) ApplyCatalogPage(cursor string, items []goods.Goods, deleted []string) ([]goods.Goods, error) {
	a.mu.Lock()
	a.applies++
	n := a.applies
	a.mu.Unlock()
	var changed []goods.Goods
	err := a.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("goods"))
		for i, g := range items {
			if a.failAfter > 0 && n == a.failAfter && i == len(items)/2 {
				return errCrash
			}
			g.Stock = 0 // feed stock is ignored
			v, _ := json.Marshal(g)
			if string(b.Get([]byte(g.GID))) == string(v) {
				continue
			}
			if err := b.Put([]byte(g.GID), v); err != nil {
				return err
			}
			changed = append(changed, g)
		}
		for _, gid := range deleted {
			if err := b.Delete([]byte(gid)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("cursor"), []byte(cursor))
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

func (a *boltApplier) all(t *testing.T) map[string]goods.Goods {
	t.Helper()
	out := map[string]goods.Goods{}
	a.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("goods")).ForEach(func(k, v []byte) error {
			var g goods.Goods
			json.Unmarshal(v, &g)
			out[string(k)] = g
			return nil
		})
	})
	return out
}

// recordingSource remembers each since it was asked for.
type recordingSource struct {
	catalogfeed.Source
	mu    sync.Mutex
	since []string
}

func (r *recordingSource) Catalog(ctx context.Context, since string, limit int) (upstream.Page, error) {
	r.mu.Lock()
	r.since = append(r.since, since)
	r.mu.Unlock()
	return r.Source.Catalog(ctx, since, limit)
}

func seedCatalog(t *testing.T, url string, method string, gs []goods.Goods) {
	t.Helper()
	var lines []string
	for _, g := range gs {
		b, _ := json.Marshal(g)
		lines = append(lines, string(b))
	}
	req, _ := http.NewRequest(method, url+"/admin/catalog", strings.NewReader(strings.Join(lines, "\n")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("seed catalog: %s", resp.Status)
	}
}

func makeGoods(n int, price int64) []goods.Goods {
	var out []goods.Goods
	for i := range n {
		out = append(out, goods.Goods{GID: fmt.Sprintf("g%03d", i), Barcode: fmt.Sprintf("690%07d", i), Name: "商品", Price: price + int64(i), Unit: goods.UnitPieces, Stock: 99})
	}
	return out
}

func newCloud(t *testing.T) (string, *upstream.Client) {
	srv, err := cloudref.New(cloudref.Options{Secret: "k"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return hs.URL, upstream.New(hs.URL, "s1", "k", 2*time.Second)
}

func TestPagesAtomicAndResumeAfterCrash(t *testing.T) {
	url, c := newCloud(t)
	seedCatalog(t, url, http.MethodPut, makeGoods(50, 100))
	path := filepath.Join(t.TempDir(), "cat.db")

	// First run: page 3 of 5 "crashes" half-way through its transaction.
	a := openApplier(t, path)
	a.failAfter = 3
	src := &recordingSource{Source: c}
	f := &catalogfeed.Feed{Source: src, Store: a, PageSize: 10}
	if _, err := f.Pull(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("pull = %v, want the simulated crash", err)
	}
	got := a.all(t)
	if len(got) != 20 {
		t.Fatalf("after the crash the store holds %d goods, want the 2 committed pages (20)", len(got))
	}
	cur, _ := a.CatalogCursor()
	if cur == "" {
		t.Fatal("cursor not stored with the pages")
	}
	a.db.Close()

	// Restart: resumes from the stored cursor, not from the beginning.
	a = openApplier(t, path)
	defer a.db.Close()
	src = &recordingSource{Source: c}
	var pushed []goods.Goods
	f = &catalogfeed.Feed{Source: src, Store: a, PageSize: 10, OnChanged: func(gs []goods.Goods) { pushed = append(pushed, gs...) }}
	n, err := f.Pull(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if src.since[0] != cur || n != 30 || len(pushed) != 30 {
		t.Fatalf("resumed from %q (stored %q), applied %d, pushed %d", src.since[0], cur, n, len(pushed))
	}
	got = a.all(t)
	if len(got) != 50 || got["g049"].Price != 149 || got["g000"].Stock != 0 {
		t.Fatalf("store = %d goods, g049=%+v g000=%+v", len(got), got["g049"], got["g000"])
	}

	// A price change and a removal arrive as one small page.
	next := makeGoods(50, 100)[1:]
	next[0].Price = 7777 // g001
	seedCatalog(t, url, http.MethodPut, next)
	pushed = nil
	if _, err := f.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = a.all(t)
	if _, ok := got["g000"]; ok || got["g001"].Price != 7777 || len(pushed) != 1 || pushed[0].GID != "g001" {
		t.Fatalf("after update: g000 present=%v g001=%+v pushed=%+v", ok, got["g001"], pushed)
	}
	if st := f.Status(); st.LastPull.IsZero() || st.LastError != "" || st.Cursor == "" {
		t.Fatalf("status = %+v", st)
	}
}

func TestInvalidItemsSkipped(t *testing.T) {
	page := upstream.Page{Cursor: "5", Items: []goods.Goods{
		{GID: "ok", Name: "a", Price: 1, Unit: goods.UnitPieces},
		{GID: "", Name: "no gid", Price: 1, Unit: goods.UnitPieces},
		{GID: "bad-unit", Name: "b", Price: 1, Unit: "box"},
	}}
	a := openApplier(t, filepath.Join(t.TempDir(), "c.db"))
	defer a.db.Close()
	f := &catalogfeed.Feed{Source: staticSource{page}, Store: a}
	if _, err := f.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.all(t); len(got) != 1 || f.Status().Skipped != 2 {
		t.Fatalf("applied %v, skipped %d", got, f.Status().Skipped)
	}
	if cur, _ := a.CatalogCursor(); cur != "5" {
		t.Fatalf("cursor %q", cur)
	}
}

type staticSource struct{ p upstream.Page }

func (s staticSource) Catalog(context.Context, string, int) (upstream.Page, error) { return s.p, nil }

func TestServeRetriesAndKick(t *testing.T) {
	url, c := newCloud(t)
	seedCatalog(t, url, http.MethodPut, makeGoods(5, 100))
	a := openApplier(t, filepath.Join(t.TempDir(), "c.db"))
	defer a.db.Close()
	f := &catalogfeed.Feed{Source: c, Store: a, Interval: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx) }()
	testenv.Eventually(t, "the initial pull", func() bool { return len(a.all(t)) == 5 })
	// With an hour's interval, only Kick brings the next change in.
	seedCatalog(t, url, http.MethodPost, []goods.Goods{{GID: "new", Name: "n", Price: 5, Unit: goods.UnitKg}})
	f.Kick()
	testenv.Eventually(t, "the pull Kick asks for", func() bool { return len(a.all(t)) == 6 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
