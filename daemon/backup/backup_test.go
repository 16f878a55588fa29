package backup_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/backup"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/storetest"
	"github.com/storebox/storebox/daemon/webauth"
)

// storeWithEvents makes a stopped data directory with n ledger events, an
// admin token and a config file beside it.
func storeWithEvents(t *testing.T, n int) (dataDir, cfgPath string) {
	t.Helper()
	root := t.TempDir()
	dataDir, cfgPath = filepath.Join(root, "data"), filepath.Join(root, "storebox.toml")
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RebaseLedger(0); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := st.AppendEvent("test.event", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	os.WriteFile(filepath.Join(dataDir, webauth.AdminTokenFile), []byte("tok-1\n"), 0o600)
	os.WriteFile(cfgPath, []byte("store_id = \"s1\"\n"), 0o644)
	return dataDir, cfgPath
}

func archive(t *testing.T, dataDir, cfgPath string) []byte {
	t.Helper()
	var buf bytes.Buffer
	m, err := backup.WriteStopped(&buf, backup.Source{DataDir: dataDir, ConfigPath: cfgPath, StoreID: "s1", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 || m.Schema != store.SchemaVersion {
		t.Fatalf("manifest %+v", m)
	}
	return buf.Bytes()
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	dataDir, cfgPath := storeWithEvents(t, 50)
	arch := archive(t, dataDir, cfgPath)
	if _, err := backup.Read(bytes.NewReader(arch), nil); err != nil {
		t.Fatal(err)
	}
	// The box sells on after the backup: the restore brings back the
	// backup's state and keeps the newer one aside.
	st, _ := store.Open(dataDir, store.Options{})
	st.AppendEvent("after.backup", nil)
	st.Close()

	res, err := backup.Restore(bytes.NewReader(arch), backup.RestoreOptions{DataDir: dataDir, ConfigPath: cfgPath, StoreID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Aside == "" || res.ConfigSet {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(res.Aside, store.FileName)); err != nil {
		t.Fatalf("old directory not kept: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dataDir, webauth.AdminTokenFile)); string(b) != "tok-1\n" {
		t.Fatalf("admin token %q", b)
	}
	if _, err := os.Stat(filepath.Join(dataDir, backup.ConfigName)); err == nil {
		t.Fatal("the backup's configuration left in the data directory")
	}
	st = storetest.Open(t, dataDir, store.Options{})
	if why, _ := st.RebaseDue(); why != "restored" {
		t.Fatalf("restored store not marked: %q", why)
	}
	if qs, _ := st.Outbox().QueueStats(); qs.Depth != 50 || qs.LastSeq != 50 {
		t.Fatalf("restored queue %+v", qs)
	}
}

func TestRestoreRefusesBadArchivesAndChangesNothing(t *testing.T) {
	dataDir, cfgPath := storeWithEvents(t, 5)
	arch := archive(t, dataDir, cfgPath)
	before, _ := os.ReadFile(filepath.Join(dataDir, store.FileName))
	restore := func(b []byte, opt backup.RestoreOptions) error {
		opt.DataDir, opt.ConfigPath = dataDir, cfgPath
		_, err := backup.Restore(bytes.NewReader(b), opt)
		return err
	}
	cut := arch[:len(arch)/2]
	flipped := damage(t, arch)
	cases := map[string]struct {
		b    []byte
		opt  backup.RestoreOptions
		want string
	}{
		"cut short":     {cut, backup.RestoreOptions{StoreID: "s1"}, "cut short"},
		"damaged":       {flipped, backup.RestoreOptions{StoreID: "s1"}, ""},
		"not a backup":  {[]byte("hello"), backup.RestoreOptions{StoreID: "s1"}, "not a storebox backup"},
		"another store": {arch, backup.RestoreOptions{StoreID: "s2"}, "--with-config"},
	}
	for name, c := range cases {
		err := restore(c.b, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%s: %v", name, err)
		}
	}
	after, _ := os.ReadFile(filepath.Join(dataDir, store.FileName))
	if !bytes.Equal(before, after) {
		t.Fatal("the data directory changed")
	}
	if m, _ := filepath.Glob(dataDir + ".*"); len(m) != 0 {
		t.Fatalf("left behind: %v", m)
	}

	// Running: the file is locked.
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := restore(arch, backup.RestoreOptions{StoreID: "s1"}); !errors.Is(err, backup.ErrRunning) {
		t.Errorf("restore while running: %v", err)
	}
	st.Close()
}

func TestRestoreRefusesANewerSchema(t *testing.T) {
	dataDir, cfgPath := storeWithEvents(t, 1)
	db, err := bbolt.Open(filepath.Join(dataDir, store.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, store.SchemaVersion+1))
	})
	db.Close()
	arch := archive2(t, dataDir, cfgPath)
	target := filepath.Join(t.TempDir(), "data")
	_, err = backup.Restore(bytes.NewReader(arch), backup.RestoreOptions{DataDir: target, StoreID: "s1"})
	if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade storebox") {
		t.Fatalf("newer schema: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a data directory was created")
	}
}

// archive2 is archive without the schema check (a newer file).
func archive2(t *testing.T, dataDir, cfgPath string) []byte {
	var buf bytes.Buffer
	if _, err := backup.WriteStopped(&buf, backup.Source{DataDir: dataDir, ConfigPath: cfgPath, StoreID: "s1"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRestoreWithConfigOntoAFreshBox(t *testing.T) {
	dataDir, cfgPath := storeWithEvents(t, 3)
	arch := archive(t, dataDir, cfgPath)
	root := t.TempDir()
	newCfg := filepath.Join(root, "storebox.toml")
	os.WriteFile(newCfg, []byte("store_id = \"default\"\n"), 0o640)
	os.Chmod(newCfg, 0o640)
	res, err := backup.Restore(bytes.NewReader(arch), backup.RestoreOptions{DataDir: filepath.Join(root, "data"), ConfigPath: newCfg, WithConfig: true, StoreID: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(newCfg); string(b) != "store_id = \"s1\"\n" || !res.ConfigSet || res.Aside != "" {
		t.Fatalf("config %q, %+v", b, res)
	}
	if fi, _ := os.Stat(newCfg); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 { // no mode bits on Windows
		t.Fatalf("restored config mode %v, want the replaced one's 0640", fi.Mode())
	}
	if b, _ := os.ReadFile(res.OldConfig); string(b) != "store_id = \"default\"\n" {
		t.Fatalf("old config %q", b)
	}
}

func TestRestoreWithConfigRefusedByItsCheck(t *testing.T) {
	dataDir, cfgPath := storeWithEvents(t, 1)
	arch := archive(t, dataDir, cfgPath)
	root := t.TempDir()
	target := filepath.Join(root, "data")
	_, err := backup.Restore(bytes.NewReader(arch), backup.RestoreOptions{DataDir: target, ConfigPath: filepath.Join(root, "c.toml"), WithConfig: true,
		CheckConfig: func(b []byte) error {
			if !strings.Contains(string(b), `"s1"`) {
				t.Errorf("checked %q", b)
			}
			return errors.New("it keeps the data elsewhere")
		}})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed: the backup's configuration: it keeps the data elsewhere") {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "*")); len(m) != 0 {
		t.Fatalf("left behind: %v", m)
	}
}

// damage returns arch with one bit flipped where it changes what the
// archive holds. Not every flip does: a store file is mostly zeros, and a
// deflate match whose distance a flip changes may copy the same zeros from
// elsewhere (seen under Wine, whose bbolt file has more of them), leaving
// an archive that is whole and rightly restored.
func damage(t *testing.T, arch []byte) []byte {
	t.Helper()
	gunzip := func(b []byte) ([]byte, error) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	want, err := gunzip(arch)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(arch) / 2; i < len(arch); i++ {
		b := append([]byte(nil), arch...)
		b[i] ^= 0x40
		if got, err := gunzip(b); err != nil || !bytes.Equal(got, want) {
			return b
		}
	}
	t.Fatal("no flipped bit damages the archive")
	return nil
}
