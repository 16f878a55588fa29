//go:build unix

package shelf_test

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/devices/devicetest"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/frame"
	"github.com/storebox/storebox/protocol/goods"
)

// BenchmarkCatalogPageToLabels: a catalog page changes the price of 10,000
// bound goods; reports the time until every connected label has its push.
//
//	go test -run '^$' -bench CatalogPageToLabels -benchtime 1x ./daemon/shelf
func BenchmarkCatalogPageToLabels(b *testing.B) {
	const n = 10000 // goods whose price changes, each bound to a label
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	// Both ends of every label connection live in this process: connect as
	// many labels as the descriptor limit allows (all 10,000 from 20,500).
	labels := min(n, int(l.Cur-500)/2)
	h := devicetest.New(b, devices.Config{Heartbeat: time.Minute, MaxConnections: 3 * n})
	mac := func(i int) string { return fmt.Sprintf("B0:00:00:00:%02X:%02X", i>>8, i&0xff) }
	item := func(i int, price int64) goods.Goods {
		return goods.Goods{GID: fmt.Sprintf("P%05d", i), Barcode: fmt.Sprint(7000000 + i), Name: fmt.Sprintf("价签 %d", i), Price: price, Unit: "pcs", MacIDs: []string{mac(i)}}
	}
	if _, err := h.St.Import(func(y func(store.ImportRow) error) error {
		for i := 0; i < n; i++ {
			if err := y(store.ImportRow{Line: i + 2, Goods: item(i, 100)}); err != nil {
				return err
			}
		}
		return nil
	}, store.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	conns := make([]net.Conn, labels)
	for i := 0; i < labels; i++ {
		c, err := net.Dial("tcp", h.Addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Write(frame.Append(nil, frame.ModeLine, []byte(fmt.Sprintf(`{"head":{"action":"login","equipId":"ESL_%05d"},"body":{"mac_id":%q}}`, i, mac(i)))))
		conns[i] = c
	}
	for round := 0; round < b.N; round++ {
		price := int64(200 + round)
		want := []byte(fmt.Sprintf(`"price":%d`, price))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var last time.Time
		for i := 0; i < labels; i++ {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				fr := frame.NewReader(c, 0)
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				for {
					p, err := fr.Next()
					if err != nil {
						b.Error(err)
						return
					}
					if containsBytes(p, want) {
						mu.Lock()
						if t := time.Now(); t.After(last) {
							last = t
						}
						mu.Unlock()
						return
					}
				}
			}(conns[i])
		}
		page := make([]goods.Goods, n)
		for i := range page {
			page[i] = item(i, price)
		}
		start := time.Now()
		if _, err := h.St.ApplyCatalogPage(fmt.Sprint(round), page, nil); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		b.ReportMetric(last.Sub(start).Seconds(), "s-to-all-labels")
		b.ReportMetric(float64(labels), "labels")
	}
}

func containsBytes(p, sub []byte) bool {
	for i := 0; i+len(sub) <= len(p); i++ {
		if string(p[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}
