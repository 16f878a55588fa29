package diskspace

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOfTempDir reads a real file system: some space free, no more free
// than there is. (On Windows this is GetDiskFreeSpaceEx; before it the
// doctor said "unsupported operation" and fleet health had no disk.)
func TestOfTempDir(t *testing.T) {
	s, err := Of(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Free == 0 || s.Total == 0 || s.Free > s.Total {
		t.Fatalf("space %+v: want 0 < free <= total", s)
	}
	if r := s.FreeRatio(); r <= 0 || r > 1 {
		t.Fatalf("free ratio %v", r)
	}
}

func TestOfMissingDirFails(t *testing.T) {
	if _, err := Of(filepath.Join(t.TempDir(), "missing", "dir")); err == nil {
		t.Fatal("no error for a missing directory")
	}
	if _, err := os.Stat(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("created the directory")
	}
}
