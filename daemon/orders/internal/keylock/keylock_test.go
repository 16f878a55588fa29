package keylock

import (
	"sync"
	"testing"
)

// One key is held by one caller at a time; other keys are not held up;
// nothing is kept once every holder is gone.
func TestLocks(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	in := map[string]int{}
	var mu sync.Mutex
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []string{"a", "b"}[i%2]
			unlock := l.Lock(key)
			mu.Lock()
			in[key]++
			if in[key] != 1 {
				t.Errorf("%d holders of %s", in[key], key)
			}
			mu.Unlock()
			mu.Lock()
			in[key]--
			mu.Unlock()
			unlock()
		}()
	}
	unlockA := l.Lock("a")
	unlockB := l.Lock("b") // a held does not hold up b
	unlockB()
	unlockA()
	wg.Wait()
	if n := len(l.locks); n != 0 {
		t.Fatalf("%d keys kept after every unlock", n)
	}
}
