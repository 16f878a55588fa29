package cloudref

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// gateFile is a log file whose fsync blocks until the test lets it go.
type gateFile struct {
	calls chan struct{}
	gate  chan error
}

func (f *gateFile) Sync() error {
	f.calls <- struct{}{}
	return <-f.gate
}

// Writers that append while an fsync runs share the next one, and nobody
// returns before an fsync that covers their bytes has finished.
func TestGroupSyncSharesFsyncs(t *testing.T) {
	g := newGroupSync(0)
	f := &gateFile{calls: make(chan struct{}, 8), gate: make(chan error)}
	done := make(chan int64, 8)
	wait := func(off int64) {
		go func() {
			if err := g.through(f, off); err != nil {
				t.Error(err)
			}
			done <- off
		}()
	}
	wait(g.appended(10))
	<-f.calls // the first fsync runs, covering 10 bytes
	var offs []int64
	for _, n := range []int64{20, 30, 40} {
		offs = append(offs, g.appended(n))
	}
	for _, o := range offs {
		wait(o)
	}
	select {
	case o := <-done:
		t.Fatalf("writer at %d returned before any fsync finished", o)
	case <-time.After(50 * time.Millisecond):
	}
	f.gate <- nil // first fsync done: only the writer at 10 may return
	if o := <-done; o != 10 {
		t.Fatalf("writer at %d returned on the fsync of 10 bytes", o)
	}
	<-f.calls // one more fsync for the three others
	select {
	case <-f.calls:
		t.Fatal("a third fsync started while the second covers everything")
	case o := <-done:
		t.Fatalf("writer at %d returned before its fsync finished", o)
	case <-time.After(50 * time.Millisecond):
	}
	f.gate <- nil
	for range 3 {
		<-done
	}
	if n := g.count(); n != 2 {
		t.Fatalf("%d fsyncs for 4 writers, want 2", n)
	}
}

func TestGroupSyncReportsAFailedFsync(t *testing.T) {
	g := newGroupSync(0)
	f := &gateFile{calls: make(chan struct{}, 8), gate: make(chan error, 8)}
	boom := errors.New("disk gone")
	f.gate <- boom
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := g.through(f, g.appended(5)); !errors.Is(err, boom) {
			t.Errorf("through = %v, want the fsync error", err)
		}
	}()
	wg.Wait()
	f.gate <- nil // a later fsync that works makes later bytes durable
	if err := g.through(f, g.appended(9)); err != nil {
		t.Fatal(err)
	}
}
