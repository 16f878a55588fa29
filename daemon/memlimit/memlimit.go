// Package memlimit gives the Go runtime a soft memory limit from the box
// it runs on, so that under memory pressure the collector works harder
// before the kernel (or a cgroup) has to kill the daemon.
//
// The limit covers the Go heap only: the catalog index lives outside it
// (daemon/store/internal/catalogindex) and bbolt's file pages are the
// kernel's to reclaim. GOMEMLIMIT, when set, wins.
package memlimit

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Fraction of the box's (or the cgroup's) memory the Go heap may use
// before the collector runs regardless of GOGC.
const Fraction = 0.5

// Paths read for the box's memory; tests point them at fixtures.
type Paths struct {
	MemInfo  string // /proc/meminfo
	CgroupV2 string // the process's cgroup v2 memory.max
	CgroupV1 string // cgroup v1 memory.limit_in_bytes
}

// System is where Linux keeps them for this process: its own cgroup's
// files when /proc/self/cgroup names one that is mounted here, else the
// hierarchy's root.
func System() Paths {
	p := Paths{MemInfo: "/proc/meminfo", CgroupV2: "/sys/fs/cgroup/memory.max", CgroupV1: "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return p
	}
	for _, l := range strings.Split(string(b), "\n") {
		// "0::/system.slice/storebox.service" (unified), "4:memory:/x" (v1).
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 || f[2] == "/" || f[2] == "" {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			p.CgroupV2 = existing("/sys/fs/cgroup"+f[2]+"/memory.max", p.CgroupV2)
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			p.CgroupV1 = existing("/sys/fs/cgroup/memory"+f[2]+"/memory.limit_in_bytes", p.CgroupV1)
		}
	}
	return p
}

func existing(path, otherwise string) string {
	if _, err := os.Stat(path); err == nil {
		return path
	}
	return otherwise
}

// Available is the memory the daemon may count on: the smaller of the
// box's memory and its cgroup's limit, with where that came from; 0 when
// neither can be read.
func Available(p Paths) (int64, string) {
	best, from := int64(0), ""
	if b, err := os.ReadFile(p.MemInfo); err == nil {
		if n := memTotal(b); n > 0 {
			best, from = n, "MemTotal"
		}
	}
	for _, c := range []struct{ path, name string }{{p.CgroupV2, "cgroup memory.max"}, {p.CgroupV1, "cgroup memory.limit_in_bytes"}} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) // "max" fails: no limit
		if err == nil && n > 0 && (best == 0 || n < best) {
			best, from = n, c.name
		}
	}
	return best, from
}

// memTotal is /proc/meminfo's MemTotal in bytes.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// Apply sets the runtime's soft memory limit to Fraction of what is
// available, unless GOMEMLIMIT is set, and says what it did.
func Apply(p Paths) string {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return "GOMEMLIMIT=" + v + " (from the environment)"
	}
	avail, from := Available(p)
	if avail <= 0 {
		return "no memory limit (box memory unknown)"
	}
	limit := int64(math.Round(float64(avail) * Fraction))
	debug.SetMemoryLimit(limit)
	return fmt.Sprintf("Go heap soft limit %d MiB (half of %s, %d MiB)", limit>>20, from, avail>>20)
}

// HeapFloor returns n bytes for the caller to keep alive and never touch:
// a pointer-free allocation fresh from the OS is not written to, so it
// costs address space, not memory, while the collector counts it as live
// heap. With the catalog index outside the heap, the daemon's live heap
// is ~15 MB, and GOGC=50 alone would collect after every ~7 MB allocated
// (several times a second under getGoods load); the floor spaces
// collections n/2 further apart for at most n/2 more garbage resident.
func HeapFloor(n int) []byte { return make([]byte, n) }
