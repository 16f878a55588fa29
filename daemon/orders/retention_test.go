package orders

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/ordermsg"
)

func TestRetentionRemovesExactlyWhatItMay(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	day0 := clock.Now()
	e := newEnv(t, Config{Now: clock.Now, Retention: 90 * day, Acknowledged: true}, payments.Providers{})
	oids := retentionShop(t, e, clock)
	var hooked []string
	e.svc.OnPrune(func(tx *store.Tx, oid string) error {
		if tx.Bucket([]byte("ord_orders")).Get([]byte(oid)) == nil {
			t.Errorf("hook for %s ran after its record was gone", oid)
		}
		hooked = append(hooked, oid)
		return nil
	})
	before := e.svc.Counts()

	// Nothing is old enough yet.
	res, err := e.svc.Prune(context.Background(), day0.Add(89*day))
	if err != nil || res.Removed != 0 {
		t.Fatalf("at day 89: %+v %v", res, err)
	}
	res, err = e.svc.Prune(context.Background(), day0.Add(91*day))
	if err != nil {
		t.Fatal(err)
	}
	removed := []string{"paid", "cancelled", "expired", "paid-2"}
	kept := []string{"review", "deadletter", "pending", "recent", "unsent"}
	if res.Removed != len(removed) || res.Kept != 2 {
		t.Errorf("prune: %+v, want %d removed and 2 kept (unsent, dead letter)", res, len(removed))
	}
	var want []string
	for _, n := range removed {
		want = append(want, oids[n])
		if m := mentions(t, e.st, oids[n]); len(m) > 0 {
			t.Errorf("removed order %s (%s) is still named in %v", n, oids[n], m)
		}
	}
	slices.Sort(want)
	slices.Sort(hooked)
	if !slices.Equal(hooked, want) {
		t.Errorf("hook saw %v, want %v", hooked, want)
	}
	for _, n := range kept {
		if _, ok, err := e.svc.Get(oids[n]); !ok || err != nil {
			t.Errorf("kept order %s is gone (%v)", n, err)
		}
	}
	after := e.svc.Counts()
	if after[ordermsg.StatusPaid] != before[ordermsg.StatusPaid]-2 || after[ordermsg.StatusCancelled] != 0 || after[ordermsg.StatusExpired] != before[ordermsg.StatusExpired]-1 {
		t.Errorf("counts %v, before %v", after, before)
	}

	// After a restart the idempotency keys of removed orders are gone (a
	// new order), those of kept ones still answer with their order.
	e.close()
	e.open()
	info, err := e.svc.GetPayInfo(context.Background(), "T-01", cashReq("unsent", pcs("G1", 1)))
	if err != nil || info.OID != oids["unsent"] {
		t.Fatalf("kept order's key: %+v %v", info, err)
	}
	info, err = e.svc.GetPayInfo(context.Background(), "T-01", cashReq("paid", pcs("G1", 1)))
	if err != nil || info.OID == oids["paid"] {
		t.Fatalf("removed order's key: %+v %v", info, err)
	}

	// Once the cloud has the unsent order's events it goes too; the dead
	// letter stays for a person.
	st, _ := e.st.Outbox().QueueStats()
	if err := e.st.Outbox().Ack(st.LastSeq); err != nil {
		t.Fatal(err)
	}
	res, err = e.svc.Prune(context.Background(), day0.Add(91*day))
	if err != nil || res.Removed != 1 || res.Kept != 1 {
		t.Fatalf("second prune: %+v %v", res, err)
	}
	if _, ok, _ := e.svc.Get(oids["unsent"]); ok {
		t.Error("acknowledged order past retention kept")
	}
	if _, ok, _ := e.svc.Get(oids["deadletter"]); !ok {
		t.Error("dead-lettered order removed")
	}
}

func TestRetentionWithoutUpstreamKeepsEverything(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, Config{Now: clock.Now, Retention: 90 * day}, payments.Providers{})
	oids := retentionShop(t, e, clock)
	res, err := e.svc.Prune(context.Background(), clock.Now().Add(365*day))
	if err != nil || res.Removed != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, ok, _ := e.svc.Get(oids["paid"]); !ok {
		t.Fatal("order removed without an upstream")
	}
}

// Many orders past retention go in batches, with their keys moved out of
// the key log on the way.
func TestRetentionBatches(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, Config{Now: clock.Now, Retention: 90 * day, Acknowledged: true}, payments.Providers{})
	importRows(t, e.st, bigRows())
	e.svc.pruneBatch = 7
	const n = 7*2 + 3
	for i := range n {
		info, err := e.svc.GetPayInfo(context.Background(), "T-01", cashReq("b"+strconv.Itoa(i), pcs("BIG", 1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CancelOrder("T-01", info.OID); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := e.st.Outbox().QueueStats()
	_ = e.st.Outbox().Ack(st.LastSeq)
	res, err := e.svc.Prune(context.Background(), clock.Now().Add(91*day))
	if err != nil || res.Removed != n {
		t.Fatalf("%+v %v", res, err)
	}
	if c := e.svc.Counts(); c[ordermsg.StatusCancelled] != 0 {
		t.Fatalf("counts %v", c)
	}
}

// A batch that finds the ledger's sequence below what its pass read (a
// rebase renumbered the queue) removes nothing and says so.
func TestRetentionBatchSeesRenumberedLedger(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	e := newEnv(t, Config{Now: clock.Now, Retention: 90 * day, Acknowledged: true}, payments.Providers{})
	retentionShop(t, e, clock)
	refs, complete, err := e.st.Outbox().OrderRefs(1000)
	if err != nil || !complete {
		t.Fatal(err)
	}
	refs.Through += 10 // as if the counter had gone back by 10 since
	removed, _, _, err := e.svc.pruneOnce(&refs, clock.Now().Add(200*day), nil)
	if !errors.Is(err, errRenumbered) || removed != 0 {
		t.Fatalf("removed %d, %v", removed, err)
	}
	if c := e.svc.Counts(); c[ordermsg.StatusPaid] == 0 {
		t.Fatal("orders removed")
	}
}
