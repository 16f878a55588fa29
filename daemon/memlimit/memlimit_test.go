package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
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
