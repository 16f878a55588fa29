package boxswap

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/catalogfile/synth"
	"github.com/storebox/storebox/test/harness"
)

// bigCatalog writes n synthetic goods as CSV, so the store file is large
// enough that a backup takes a while.
func bigCatalog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "goods.csv")
	if err := synth.WriteFile(path, catalogfile.FormatCSV, n); err != nil {
		t.Fatal(err)
	}
	return path
}

type ackedOrder struct {
	oid, equip string
	at         time.Time
}

// sellFor sells cash orders from equip until stop closes; every
// acknowledged (paid) order is recorded with the time its reply came.
func sellFor(t *testing.T, d *harness.Daemon, equip string, stop <-chan struct{}, mu *sync.Mutex, acked *[]ackedOrder) {
	dev, err := d.Dial(equip)
	if err != nil {
		t.Error(err)
		return
	}
	defer dev.Close()
	// Not dev.Login: it calls t.Fatal, which must not run off the test's
	// goroutine.
	if r, err := dev.Call("login", map[string]any{}); err != nil || r.Exception() != "" {
		t.Errorf("login %s: %v %s", equip, err, r.Raw)
		return
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		oid, err := sellOne(dev, fmt.Sprintf("%s-%d", equip, i), i)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		*acked = append(*acked, ackedOrder{oid: oid, equip: equip, at: time.Now()})
		mu.Unlock()
	}
}

// A backup made while three terminals sell, read slowly on its way out:
// the terminals go on being served while it streams, and the restored
// store holds every order acknowledged before the backup began, passes
// bbolt's consistency check, and serves them after a start.
func TestBackupUnderLoadThenRestore(t *testing.T) {
	d := harness.New(t, "")
	if out, err := d.Run("catalog", "import", bigCatalog(t, 20000)); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	prepare(t, d) // the sample's goods 10001.. with stock
	d.Start()
	stock, err := d.Dial("T-0")
	if err != nil {
		t.Fatal(err)
	}
	stock.Login(t, nil)
	for _, gid := range []string{"10001", "10002", "10003"} {
		if r, err := stock.Call("stockGoods", map[string]any{"whid": "main", "ref": "R-" + gid, "lines": []any{map[string]any{"gid": gid, "qty": 100000}}}); err != nil || r.Exception() != "" {
			t.Fatalf("stockGoods: %v %v", r.Body, err)
		}
	}
	stock.Close()

	var mu sync.Mutex
	var acked []ackedOrder
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); sellFor(t, d, fmt.Sprintf("T-%d", i), stop, &mu, &acked) }()
	}
	time.Sleep(time.Second)

	// storebox backup - | a slow reader: the read transaction stays open
	// for a while.
	file := filepath.Join(t.TempDir(), "store.tar.gz")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.Bin, "backup", "-", "--config", d.Config)
	pipe, _ := cmd.StdoutPipe()
	var stderr stringsBuilder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := pipe.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr.String())
	}
	ended := time.Now()
	out.Close()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	var before, during int
	for _, o := range acked {
		switch {
		case o.at.Before(began):
			before++
		case o.at.Before(ended):
			during++
		}
	}
	fi, _ := os.Stat(file)
	t.Logf("backup %d bytes in %s (%s); orders acknowledged before it %d, while it streamed %d, in all %d",
		fi.Size(), ended.Sub(began).Round(time.Millisecond), strings.TrimSpace(stderr.String()), before, during, len(acked))
	if during == 0 {
		t.Errorf("no order was acknowledged while the backup streamed (%s)", ended.Sub(began))
	}

	// Restore refuses while the daemon runs, then works once it stopped.
	if out, err := d.Run("restore", file); err == nil || !containsAll(out, "running") {
		t.Fatalf("restore while running: %v\n%s", err, out)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Run("restore", file); err != nil || !containsAll(out, "restored store test", "before-restore-") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	storetest.CheckFile(t, filepath.Join(d.DataDir, store.FileName))
	d.Start()
	devs := map[string]*harness.Device{}
	missing := 0
	for _, o := range acked {
		if !o.at.Before(began) {
			continue
		}
		dev := devs[o.equip]
		if dev == nil {
			if dev, err = d.Dial(o.equip); err != nil {
				t.Fatal(err)
			}
			dev.Login(t, nil)
			defer dev.Close()
			devs[o.equip] = dev
		}
		r, err := dev.Call("getOrder", map[string]any{"oid": o.oid})
		if err != nil {
			t.Fatal(err)
		}
		ord, _ := r.Body["order"].(map[string]any)
		if st, _ := ord["status"].(string); r.Exception() != "" || st != "paid" {
			missing++
			if missing < 5 {
				t.Errorf("order %s acknowledged before the backup: %v", o.oid, r.Body)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d orders acknowledged before the backup are not paid in the restored store", missing, before)
	}
}
