package store

import (
	"fmt"
	"testing"
)

// ReleaseMapped must leave every byte readable and unchanged.
func TestReleaseMappedKeepsData(t *testing.T) {
	s, _ := openTest(t)
	err := s.Update(func(tx *Tx) error {
		for i := 0; i < 2000; i++ {
			if _, err := tx.AppendEvent("test.event", map[string]int{"i": i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Outbox().Pending(0, 5000, 1<<30)
	if err != nil || len(before) != 2000 {
		t.Fatalf("%d %v", len(before), err)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	after, err := s.Outbox().Pending(0, 5000, 1<<30)
	if err != nil || len(after) != len(before) {
		t.Fatalf("%d %v", len(after), err)
	}
	for i := range before {
		if before[i].ID != after[i].ID || string(before[i].Data) != string(after[i].Data) || string(after[i].Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %d changed: %+v vs %+v", i, before[i], after[i])
		}
	}
	// And writes after a release still work.
	if err := s.AppendEvent("test.event", map[string]int{"i": -1}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Outbox().QueueStats(); st.Depth != 2001 {
		t.Fatalf("depth %d", st.Depth)
	}
}
