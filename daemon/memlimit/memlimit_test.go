package memlimit

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func fixtures(t *testing.T, meminfo, v2, v1 string) Paths {
	dir := t.TempDir()
	p := Paths{MemInfo: filepath.Join(dir, "meminfo"), CgroupV2: filepath.Join(dir, "v2"), CgroupV1: filepath.Join(dir, "v1")}
	for path, s := range map[string]string{p.MemInfo: meminfo, p.CgroupV2: v2, p.CgroupV1: v1} {
		if s != "" {
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

const meminfo = "MemTotal:        2014508 kB\nMemFree:          100000 kB\n"

func TestAvailableTakesTheSmallerLimit(t *testing.T) {
	for _, c := range []struct {
		name, v2, v1 string
		want         int64
		from         string
	}{
		{"box only", "", "", 2014508 * 1024, "MemTotal"},
		{"unlimited cgroup", "max\n", "", 2014508 * 1024, "MemTotal"},
		{"cgroup v2 512M", "536870912\n", "", 512 << 20, "cgroup memory.max"},
		{"cgroup above the box", "8589934592\n", "", 2014508 * 1024, "MemTotal"},
		{"cgroup v1", "", "268435456\n", 256 << 20, "cgroup memory.limit_in_bytes"},
	} {
		got, from := Available(fixtures(t, meminfo, c.v2, c.v1))
		if got != c.want || from != c.from {
			t.Errorf("%s: %d from %s, want %d from %s", c.name, got, from, c.want, c.from)
		}
	}
	if got, _ := Available(fixtures(t, "", "", "")); got != 0 {
		t.Errorf("nothing readable: %d, want 0", got)
	}
}

func TestApplySetsHalf(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	msg := Apply(fixtures(t, meminfo, "536870912\n", ""))
	if got := debug.SetMemoryLimit(-1); got != 256<<20 {
		t.Fatalf("limit %d, want %d (%s)", got, 256<<20, msg)
	}
	if !strings.Contains(msg, "256 MiB") {
		t.Fatalf("message %q", msg)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	if msg := Apply(fixtures(t, meminfo, "536870912\n", "")); !strings.Contains(msg, "from the environment") {
		t.Fatalf("GOMEMLIMIT set: %q", msg)
	}
}

// The floor raises the heap the collector counts, not resident memory.
func TestHeapFloorIsNotResident(t *testing.T) {
	rss := func() int64 {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Skip("no /proc/self/status")
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssAnon:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
		t.Skip("no RssAnon")
		return 0
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	before := rss()
	floor := HeapFloor(256 << 20)
	after := rss()
	runtime.ReadMemStats(&ms1)
	if grew := after - before; grew > 32<<20 {
		t.Fatalf("resident memory grew by %d MiB for a 256 MiB floor", grew>>20)
	}
	if int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc) < 200<<20 {
		t.Fatalf("heap grew by %d MiB, want the floor counted", (int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))>>20)
	}
	runtime.KeepAlive(floor)
}
