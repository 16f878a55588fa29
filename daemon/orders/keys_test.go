package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/orders/internal/orderdb"
	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// Idempotency keys resolve to the same order whether they are still in the
// log, already compacted into the sorted index, or reloaded after a
// restart; a reused order_id with other lines is a conflict in every case.
func TestOrderKeysAcrossCompactionAndRestart(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	e.svc.keys.CompactAt = 40
	const terminals, per = 10, 13 // 130 orders: three compactions and a log tail
	oids := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range terminals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				equip, id := fmt.Sprintf("T-%02d", i), fmt.Sprintf("o-%d", j)
				p, err := e.svc.GetPayInfo(context.Background(), equip, cashReq(id, grams("K1", 1)))
				if err != nil {
					t.Errorf("%s/%s: %v", equip, id, err)
					return
				}
				mu.Lock()
				oids[equip+"/"+id] = p.OID
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Batches are as large as the scheduler makes them; one more order
	// makes sure some keys are still only in the log.
	if logged, _ := e.keyBuckets(); logged == 0 {
		p, err := e.svc.GetPayInfo(context.Background(), "T-XX", cashReq("o-x", grams("K1", 1)))
		if err != nil {
			t.Fatal(err)
		}
		oids["T-XX/o-x"] = p.OID
	}
	logged, indexed := e.keyBuckets()
	if indexed == 0 || logged == 0 || logged >= 40 || logged+indexed != len(oids) {
		t.Fatalf("%d keys logged, %d indexed: want some of each, %d in all, fewer than 40 logged", logged, indexed, len(oids))
	}
	check := func(when string) {
		t.Helper()
		for k, oid := range oids {
			equip, id, _ := strings.Cut(k, "/")
			p, err := e.svc.GetPayInfo(context.Background(), equip, cashReq(id, grams("K1", 1)))
			if err != nil || p.OID != oid {
				t.Fatalf("%s: %s again: oid %q, %v; want %q", when, k, p.OID, err, oid)
			}
			_, err = e.svc.GetPayInfo(context.Background(), equip, cashReq(id, grams("K1", 2)))
			var de *devmsg.Error
			if !errors.As(err, &de) || de.Code != devmsg.CodeConflict {
				t.Fatalf("%s: %s with other lines: %v, want conflict", when, k, err)
			}
		}
	}
	check("before restart")
	e.close()
	e.open()
	check("after restart")
	if c := e.svc.Counts(); c[ordermsg.StatusPending] != len(oids) {
		t.Fatalf("%d pending orders, want %d", c[ordermsg.StatusPending], len(oids))
	}
}

// A key added by a transaction that rolls back is never seen, by the next
// transaction or after a restart.
func TestOrderKeyOfRolledBackTransactionVanishes(t *testing.T) {
	e := newEnv(t, Config{}, payments.Providers{})
	k := e.svc.keys
	key := orderdb.Key("T-1", "o-1")
	boom := errors.New("boom")
	err := k.Update(e.st, e.st.Update, func(t *store.Tx) error {
		if err := k.Add(t, key, "X-1"); err != nil {
			return err
		}
		if got := k.LookupTx(t, key); got != "X-1" {
			return fmt.Errorf("own key not visible in its transaction: %q", got)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	err = k.Update(e.st, e.st.Update, func(t *store.Tx) error {
		if got := k.LookupTx(t, key); got != "" {
			return fmt.Errorf("rolled-back key visible: %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.Exists(e.st, key) {
		t.Fatal("rolled-back key exists")
	}
	if err := e.st.Update(func(t *store.Tx) error { return k.Add(t, key, "X-2") }); err == nil {
		t.Fatal("a key was added outside the key index's transaction")
	}
	e.close()
	e.open()
	if e.svc.keys.Exists(e.st, key) {
		t.Fatal("rolled-back key exists after restart")
	}
}

func (e *env) keyBuckets() (logged, indexed int) {
	_ = e.st.View(func(tx *bbolt.Tx) error {
		logged = tx.Bucket(orderdb.KeyLogBucket).Stats().KeyN
		indexed = tx.Bucket(orderdb.KeysBucket).Stats().KeyN
		return nil
	})
	return logged, indexed
}
