package orders

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// The schema 1 fixture (testdata/schema1.db, its oids in schema1.json) is
// the file the last schema 1 release leaves after retentionShop. It was
// written by TestWriteSchema1Fixture run on that release's code (main at
// 06a7c0f); on newer code the helper removes what later schemas added, so
// it can write the fixture again:
//
//	go test ./daemon/orders -run TestWriteSchema1Fixture -write-schema1-fixture
var writeSchema1 = flag.Bool("write-schema1-fixture", false, "write testdata/schema1.db and schema1.json")

// fixtureDay0 is when the fixture's shop opened.
var fixtureDay0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func TestWriteSchema1Fixture(t *testing.T) {
	if !*writeSchema1 {
		t.Skip("a helper: writes testdata/schema1.db with -write-schema1-fixture")
	}
	clock := &fakeClock{t: fixtureDay0}
	e := newEnv(t, Config{Now: clock.Now}, payments.Providers{})
	oids := retentionShop(t, e, clock)
	if err := e.st.Update(func(tx *store.Tx) error { return orderdb.UseToken(tx, "notify-token-1", oids["paid"]) }); err != nil {
		t.Fatal(err)
	}
	path := e.st.Path()
	e.close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range []string{"ord_done", "ord_tokenoid"} { // schema 2
			if err := tx.DeleteBucket([]byte(b)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("testdata", "schema1.db")
	_ = os.Remove(out)
	dst, err := bbolt.Open(out, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bbolt.Compact(dst, db, 1<<20); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	db.Close()
	js, _ := json.MarshalIndent(oids, "", "  ")
	if err := os.WriteFile(filepath.Join("testdata", "schema1.json"), append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeClock is the orders' clock in retention tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

const day = 24 * time.Hour

// retentionShop sells, at a fake time, one order of every kind retention
// must tell apart, and returns their oids by name.
func retentionShop(t *testing.T, e *env, clock *fakeClock) map[string]string {
	t.Helper()
	ctx := context.Background()
	day0 := clock.Now()
	oids := map[string]string{}
	sell := func(name, equip string, pay bool, lines ...ordermsg.LineRequest) {
		t.Helper()
		info, err := e.svc.GetPayInfo(ctx, equip, cashReq(name, lines...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		oids[name] = info.OID
		if pay {
			if err := e.svc.MakePayment(equip, info.OID, ordermsg.MethodCash, info.AmountTotal); err != nil && name != "review" {
				t.Fatalf("pay %s: %v", name, err)
			}
		}
	}
	sell("paid", "T-01", true, pcs("G1", 1))
	sell("cancelled", "T-01", false, pcs("G1", 1))
	if err := e.svc.CancelOrder("T-01", oids["cancelled"]); err != nil {
		t.Fatal(err)
	}
	sell("expired", "T-01", false, pcs("G1", 1))
	sell("review", "T-02", false, pcs("G2", 3))
	clock.Add(20 * time.Minute)
	if _, err := e.svc.expireDue(clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The stock the expired order held is sold; its late payment needs a
	// person.
	sell("paid-2", "T-03", true, pcs("G2", 3))
	if err := e.svc.MakePayment("T-02", oids["review"], ordermsg.MethodCash, 3*350); err == nil {
		t.Fatal("late payment without stock was not refused")
	}
	sell("deadletter", "T-01", true, pcs("G1", 1))
	var dead []ledger.Event
	for _, ev := range e.events("") {
		var d struct{ OID string }
		_ = json.Unmarshal(ev.Data, &d)
		if d.OID == oids["deadletter"] {
			dead = append(dead, ev)
		}
	}
	if err := e.st.Outbox().DeadLetter(dead, "400 test"); err != nil {
		t.Fatal(err)
	}
	sell("pending", "T-01", false, pcs("G1", 1))
	clock.Set(day0.Add(85 * day))
	sell("recent", "T-01", true, pcs("G1", 1))
	// The cloud acknowledges everything so far.
	st, err := e.st.Outbox().QueueStats()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Outbox().Ack(st.LastSeq); err != nil {
		t.Fatal(err)
	}
	clock.Set(day0.Add(time.Hour))
	sell("unsent", "T-01", true, pcs("G1", 1))
	for name, oid := range oids {
		if oid == "" {
			t.Fatalf("no order %s", name)
		}
	}
	return oids
}

// mentions lists the buckets whose keys or values name oid.
func mentions(t *testing.T, st *store.Store, oid string) []string {
	t.Helper()
	var out []string
	err := st.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if bytes.Contains(k, []byte(oid)) || bytes.Contains(v, []byte(oid)) {
					out = append(out, string(name))
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// openFixture copies the schema 1 fixture into a fresh data directory.
func openFixture(t *testing.T) (dir string, oids map[string]string) {
	t.Helper()
	dir = t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "schema1.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join("testdata", "schema1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &oids); err != nil {
		t.Fatal(err)
	}
	return dir, oids
}

func schemaOf(t *testing.T, path string) uint32 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint32
	_ = db.View(func(tx *bbolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	return v
}

// A file of the previous schema opens in this build, upgraded, and
// retention then works on it as on a file this build wrote.
func TestSchema1FileUpgrades(t *testing.T) {
	dir, oids := openFixture(t)
	e := &env{t: t, dir: dir, cfg: Config{Now: func() time.Time { return fixtureDay0 }, Retention: 90 * day, Acknowledged: true}, push: &pushTo{}}
	t.Cleanup(func() { storetest.CheckFile(t, filepath.Join(dir, store.FileName)) })
	e.open()
	t.Cleanup(e.close)
	// Every order and key is still there.
	for name, oid := range oids {
		if _, ok, err := e.svc.Get(oid); !ok || err != nil {
			t.Fatalf("order %s (%s) after the upgrade: %v", name, oid, err)
		}
	}
	info, err := e.svc.GetPayInfo(context.Background(), "T-01", cashReq("unsent", pcs("G1", 1)))
	if err != nil || info.OID != oids["unsent"] {
		t.Fatalf("idempotency key after the upgrade: %+v %v", info, err)
	}
	res, err := e.svc.Prune(context.Background(), fixtureDay0.Add(91*day))
	if err != nil || res.Removed != 4 || res.Kept != 2 {
		t.Fatalf("prune after the upgrade: %+v %v", res, err)
	}
	for _, n := range []string{"paid", "cancelled", "expired", "paid-2"} {
		if m := mentions(t, e.st, oids[n]); len(m) > 0 {
			t.Errorf("removed order %s (%s) is still named in %v", n, oids[n], m)
		}
	}
	if m := mentions(t, e.st, "notify-token-1"); len(m) > 0 {
		t.Errorf("the removed order's notify token is still in %v", m)
	}
	e.close()
	if v := schemaOf(t, filepath.Join(dir, store.FileName)); v != store.SchemaVersion {
		t.Fatalf("schema %d after the upgrade, want %d", v, store.SchemaVersion)
	}
}

// An upgrade that fails changes nothing: the file stays schema 1.
func TestSchemaUpgradeAllOrNothing(t *testing.T) {
	dir, oids := openFixture(t)
	path := filepath.Join(dir, store.FileName)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(orderdb.OrdersBucket).Put([]byte(oids["recent"]), []byte("{not json"))
	})
	db.Close()
	_, err = store.Open(dir, store.Options{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("schema 2")) || !bytes.Contains([]byte(err.Error()), []byte("not changed")) {
		t.Fatalf("open of a file whose upgrade fails: %v", err)
	}
	if v := schemaOf(t, path); v != 1 {
		t.Fatalf("schema %d after a failed upgrade", v)
	}
	var orders, done int
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		orders = tx.Bucket(orderdb.OrdersBucket).Stats().KeyN
		if tx.Bucket([]byte("ord_done")) != nil {
			done = 1
		}
		return nil
	})
	if orders != len(oids) || done != 0 {
		t.Fatalf("after a failed upgrade: %d orders, ord_done %d", orders, done)
	}
}
