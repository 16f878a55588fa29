// Package e2e holds black-box tests of the storebox binary.
package e2e

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/test/harness"
)

func sample() string {
	return filepath.Join(harness.ModuleRoot(), "packaging", "sample", "catalog.csv")
}

func TestStartServeStopCleanly(t *testing.T) {
	d := harness.New(t, "")
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("offline import: %v\n%s", err, out)
	}
	d.Start()
	dev, err := d.Dial("T-01")
	if err != nil {
		t.Fatal(err)
	}
	dev.Login(t, nil)
	r, err := dev.Call("getAllGoods", map[string]any{"lmt": 5})
	if err != nil || r.Exception() != "" || r.Body["total"].(float64) < 50 {
		t.Fatalf("getAllGoods: %s %v", r.Raw, err)
	}
	start := time.Now()
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.Log())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("SIGTERM took %s (limit 5 s)", el)
	}
	if !strings.Contains(d.Log(), "stopped") {
		t.Errorf("no clean stop logged:\n%s", d.Log())
	}
	// bbolt was closed cleanly: the file opens at once without a lock wait.
	db, err := bbolt.Open(filepath.Join(d.DataDir, "storebox.db"), 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("store not released: %v", err)
	}
	db.Close()
}

func TestPortInUseStopsStartWithOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := harness.NewAt(t, l.Addr().String(), "")
	if err := d.StartNoWait(); err != nil {
		t.Fatal(err)
	}
	err, ok := d.Wait(15 * time.Second)
	if !ok {
		t.Fatal("daemon kept running with its port taken")
	}
	if err == nil {
		t.Fatal("exit code 0 with its port taken")
	}
	want := "devices.listen " + l.Addr().String() + ": address already in use"
	if !strings.Contains(d.Log(), want) {
		t.Fatalf("want %q in:\n%s", want, d.Log())
	}
}

func TestBadConfigNamesFileLineKey(t *testing.T) {
	d := harness.New(t, "[devices]\n")
	// The generated config already has [devices]; add a bad key in a new file.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("store_id = \"s\"\n\n[devices]\nlisten = \"nowhere\"\nadmision = \"open\"\n"), 0o644)
	out, err := exec.Command(d.Bin, "run", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatal("daemon started with a bad config")
	}
	for _, want := range []string{bad + ":4: devices.listen", bad + ":5: devices.admision: unknown key"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("want %q in %s", want, out)
		}
	}
	out, err = exec.Command(d.Bin, "config", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), ":5: devices.admision: unknown key (did you mean devices.admission?)") {
		t.Fatalf("config check: %v %s", err, out)
	}
}

func TestNewerSchemaRefusedAndUntouched(t *testing.T) {
	d := harness.New(t, "")
	if out, err := d.Run("catalog", "import", sample()); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	path := filepath.Join(d.DataDir, "storebox.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 99))
	})
	db.Close()
	before, _ := os.ReadFile(path)
	d.StartNoWait()
	err, ok := d.Wait(15 * time.Second)
	if !ok || err == nil {
		t.Fatal("daemon started on a newer schema")
	}
	if !strings.Contains(d.Log(), "newer storebox") {
		t.Fatalf("unclear message:\n%s", d.Log())
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("store file was rewritten")
	}
}

// Every optional listener can be switched off; the daemon still starts and
// serves devices.
func TestOptionalListenersOff(t *testing.T) {
	d := harness.New(t, "")
	cfg := filepath.Join(t.TempDir(), "min.toml")
	os.WriteFile(cfg, []byte("data_dir = "+strconvQuote(d.DataDir)+"\n[devices]\nlisten = \"127.0.0.1:0\"\nadmission = \"open\"\n[discovery]\nlisten = \"\"\n[mqtt]\nlisten = \"\"\n[http]\nlisten = \"\"\n"), 0o644)
	d.Config = cfg
	if err := d.StartNoWait(); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitReady(20 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, d.Log())
	}
	// The ready file names the one listener that is on, at its bound port.
	if f, err := readyfile.Read(d.DataDir); err != nil || f.Devices == "" || strings.HasSuffix(f.Devices, ":0") || f.HTTP != "" || f.MQTT != "" || len(f.Discovery) != 0 {
		t.Fatalf("ready file %+v, %v", f, err)
	}
	dev, err := d.Dial("T-MIN")
	if err != nil {
		t.Fatal(err)
	}
	dev.Login(t, nil)
	if err := d.Stop(); err != nil {
		t.Fatalf("%v\n%s", err, d.Log())
	}
	if _, err := readyfile.Read(d.DataDir); !os.IsNotExist(err) {
		t.Fatalf("ready file after a clean stop: %v", err)
	}
}

func strconvQuote(s string) string { return strconv.Quote(s) }
