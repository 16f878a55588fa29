package store_test

import (
	"testing"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/ledger"
)

func appendN(t *testing.T, s *store.Store, n int) {
	t.Helper()
	for i := range n {
		if err := s.AppendEvent("test.event", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
}

func pending(t *testing.T, s *store.Store) []ledger.Event {
	t.Helper()
	evs, err := s.Outbox().Pending(0, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// checkRenumbered: the same ids in the same order, seqs from first by one.
func checkRenumbered(t *testing.T, got, before []ledger.Event, first uint64) {
	t.Helper()
	if len(got) != len(before) {
		t.Fatalf("%d events after, %d before", len(got), len(before))
	}
	for i, e := range got {
		if e.ID != before[i].ID || e.Seq != first+uint64(i) || e.Type != before[i].Type || string(e.Data) != string(before[i].Data) || !e.At.Equal(before[i].At) {
			t.Fatalf("event %d: %+v, was %+v (want seq %d)", i, e, before[i], first+uint64(i))
		}
	}
}

func TestNewStoreRebasesAboveTheCloud(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, dir, store.Options{})
	if why, _ := s.RebaseDue(); why != "new" {
		t.Fatalf("a new file: due %q, want new", why)
	}
	appendN(t, s, 5) // sold before the cloud answered: seq 1..5
	before := pending(t, s)
	rb, done, err := s.RebaseLedger(1000)
	if err != nil || !done {
		t.Fatal(done, err)
	}
	if rb.FirstSeq != 1001 || rb.Events != 5 || rb.OldFirst != 1 || rb.Reason != "new" || !rb.Changed {
		t.Fatalf("rebase %+v", rb)
	}
	checkRenumbered(t, pending(t, s), before, 1001)
	appendN(t, s, 1) // the counter moved past them
	if evs := pending(t, s); evs[len(evs)-1].Seq != 1006 {
		t.Fatalf("next event seq %d, want 1006", evs[len(evs)-1].Seq)
	}
	if why, _ := s.RebaseDue(); why != "" {
		t.Fatalf("still due %q", why)
	}
	// Once done, a second call changes nothing.
	if _, done, _ := s.RebaseLedger(5000); done {
		t.Fatal("rebased twice")
	}
	if last, ok, _ := s.LastLedgerRebase(); !ok || last.FirstSeq != 1001 {
		t.Fatalf("last rebase %+v %v", last, ok)
	}
	// A reopened file is not new.
	s.Close()
	s = storetest.Open(t, dir, store.Options{})
	if why, _ := s.RebaseDue(); why != "" {
		t.Fatalf("reopened: due %q", why)
	}
}

func TestRestoredStoreRebasesDownAndAcrossGaps(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, dir, store.Options{})
	if _, _, err := s.RebaseLedger(0); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 40)
	if err := s.Outbox().Ack(20); err != nil {
		t.Fatal(err)
	}
	evs := pending(t, s)
	if err := s.Outbox().DeadLetter(evs[:1], "400"); err != nil { // seq 21: a gap below the rest
		t.Fatal(err)
	}
	before := pending(t, s) // 22..40
	s.Close()
	if err := store.MarkRestored(dir); err != nil {
		t.Fatal(err)
	}
	s = storetest.Open(t, dir, store.Options{})
	if why, _ := s.RebaseDue(); why != "restored" {
		t.Fatalf("due %q, want restored", why)
	}
	// The cloud holds less than the backup's counter (its copy of the
	// events came from this box): the queue moves down, by one, no gap.
	rb, _, err := s.RebaseLedger(15)
	if err != nil || rb.FirstSeq != 16 || rb.Events != 19 {
		t.Fatal(rb, err)
	}
	checkRenumbered(t, pending(t, s), before, 16)
	st, _ := s.Outbox().QueueStats()
	if st.Depth != 19 || st.LastSeq != 34 || st.DeadLetters != 1 {
		t.Fatalf("queue %+v", st)
	}
	// A dead letter on a seq an older one holds keeps both.
	if err := s.Outbox().DeadLetter(pending(t, s)[5:6], "400"); err != nil { // seq 21 again
		t.Fatal(err)
	}
	if st, _ := s.Outbox().QueueStats(); st.DeadLetters != 2 {
		t.Fatalf("dead letters %d, want 2", st.DeadLetters)
	}
}

// The first box of a new store: its numbering is already right, so there
// is nothing to report.
func TestFirstBoxOfANewStoreIsNotRebased(t *testing.T) {
	s := storetest.Open(t, t.TempDir(), store.Options{})
	appendN(t, s, 3)
	rb, done, err := s.RebaseLedger(0)
	if err != nil || !done || rb.Changed || rb.Events != 3 {
		t.Fatalf("%+v %v %v", rb, done, err)
	}
	if _, ok, _ := s.LastLedgerRebase(); ok {
		t.Fatal("a rebase that changed nothing was recorded")
	}
	if why, _ := s.RebaseDue(); why != "" {
		t.Fatalf("still due %q", why)
	}
}

func TestRebaseWithAnEmptyQueueFollowsTheCloud(t *testing.T) {
	s := storetest.Open(t, t.TempDir(), store.Options{})
	if _, _, err := s.RebaseLedger(77); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1)
	if evs := pending(t, s); len(evs) != 1 || evs[0].Seq != 78 {
		t.Fatalf("%+v", evs)
	}
}
