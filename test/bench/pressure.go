//go:build linux

package main

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/storebox/storebox/protocol/catalogfile/synth"
	"github.com/storebox/storebox/test/bench/benchkit"
)

// memCgroup is a memory cgroup the bench made, v2 or v1.
type memCgroup struct {
	dir, procs string
	// files to read afterwards: peak usage and OOM kills.
	peak, events string
	v2           bool
}

// newMemCgroup makes a cgroup limited to limit bytes under the unified
// hierarchy, or under cgroup v1's memory controller, or says why neither
// works here.
func newMemCgroup(limit int64) (*memCgroup, error) {
	name := fmt.Sprintf("storebox-bench-%d", os.Getpid())
	// Earlier runs that exited early leave empty cgroups; rmdir only
	// removes empty ones.
	for _, pat := range []string{"/sys/fs/cgroup/storebox-bench-*", "/sys/fs/cgroup/memory/storebox-bench-*"} {
		old, _ := filepath.Glob(pat)
		for _, dir := range old {
			os.Remove(dir)
		}
	}
	var why []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		ctl, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		if strings.Contains(string(ctl), "memory") {
			// The root's subtree_control must hand the memory controller down.
			_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory"), 0o644)
			dir := filepath.Join("/sys/fs/cgroup", name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				why = append(why, "cgroup v2: "+err.Error())
			} else if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
				os.Remove(dir)
				why = append(why, "cgroup v2 memory.max: "+err.Error())
			} else {
				_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0o644)
				return &memCgroup{dir: dir, procs: filepath.Join(dir, "cgroup.procs"), peak: filepath.Join(dir, "memory.peak"), events: filepath.Join(dir, "memory.events"), v2: true}, nil
			}
		} else {
			why = append(why, "cgroup v2 without the memory controller")
		}
	} else {
		why = append(why, "no cgroup v2 hierarchy at /sys/fs/cgroup")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		dir := filepath.Join("/sys/fs/cgroup/memory", name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			why = append(why, "cgroup v1: "+err.Error())
		} else if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			os.Remove(dir)
			why = append(why, "cgroup v1 memory.limit_in_bytes: "+err.Error())
		} else {
			_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644)
			return &memCgroup{dir: dir, procs: filepath.Join(dir, "cgroup.procs"), peak: filepath.Join(dir, "memory.max_usage_in_bytes"), events: filepath.Join(dir, "memory.oom_control")}, nil
		}
	} else {
		why = append(why, "no cgroup v1 memory controller at /sys/fs/cgroup/memory")
	}
	return nil, errors.New(strings.Join(why, "; "))
}

// oomKills is how many processes the kernel killed in the cgroup for
// want of memory.
func (c *memCgroup) oomKills() int {
	b, _ := os.ReadFile(c.events)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "oom_kill" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func (c *memCgroup) peakMB() float64 {
	b, _ := os.ReadFile(c.peak)
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return float64(n) / (1 << 20)
}

func (c *memCgroup) remove() {
	// The daemon has exited; an empty cgroup can go.
	for range 50 {
		if os.Remove(c.dir) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// underMemoryLimit runs the daemon with the nGoods store in a cgroup of
// limit bytes, through the index build and the getGoods, getAllGoods and
// name search loads, and reports whether it kept answering.
func (e *env) underMemoryLimit(nGoods int, limit int64, d time.Duration) {
	cg, err := newMemCgroup(limit)
	if err != nil {
		fmt.Printf("  %-58s not measured: cannot make a memory cgroup here (%v)\n", "daemon in a 512 MB memory cgroup", err)
		return
	}
	defer cg.remove()
	what := "cgroup v1 memory.limit_in_bytes"
	if cg.v2 {
		what = "cgroup v2 memory.max"
	}
	e.cgroupProcs = cg.procs
	ready := e.start()
	var stopping atomic.Bool
	defer func() {
		stopping.Store(true)
		e.stop()
	}()
	// A daemon the kernel kills is the figure: say so, then fail the group.
	// The pid is taken now: stop clears e.proc while this loop may still run.
	daemonPid := e.proc.Process.Pid
	go func() {
		for !benchkit.Exited(daemonPid) {
			time.Sleep(100 * time.Millisecond)
		}
		if stopping.Load() {
			return
		}
		fmt.Printf("  %-58s died: OOM kills %d, cgroup peak %.0f MB\n", fmt.Sprintf("daemon with %d goods in a %d MB memory cgroup", nGoods, limit>>20), cg.oomKills(), cg.peakMB())
		cg.remove()
		os.Exit(1)
	}()
	t0 := time.Now()
	e.dial("M-warm").call(`{"head":{"action":"getGoods","seq":1},"body":{"gname":"牛奶"}}`)
	fmt.Printf("  %-58s ready %s, index built %s later   (%s %d MB)\n", fmt.Sprintf("daemon with %d goods in a memory cgroup", nGoods),
		ready.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), what, limit>>20)
	rng := rand.New(rand.NewSource(1))
	rate, p99 := e.load(100, d, "getGoods", func(*rand.Rand) map[string]any {
		g, _ := synth.Goods(rng.Intn(nGoods))
		return map[string]any{"code": g.Barcode}
	})
	fmt.Printf("  %-58s %10.0f req/s   p99 %8s\n", "  getGoods by barcode, 100 connections", rate, p99)
	_, p99 = e.load(4, d/2, "getAllGoods", func(r *rand.Rand) map[string]any { return map[string]any{"ost": r.Intn(nGoods), "lmt": 150} })
	fmt.Printf("  %-58s p99 %8s\n", "  getAllGoods at random offsets, lmt 150, 4 connections", p99)
	_, p99 = e.load(4, d/2, "getGoods", func(r *rand.Rand) map[string]any { return map[string]any{"gname": "牛奶" + strconv.Itoa(r.Intn(10))} })
	fmt.Printf("  %-58s p99 %8s\n", "  gname search, 4 connections", p99)
	pid := e.proc.Process.Pid
	alive := e.proc.ProcessState == nil && benchkit.RSSMB(pid, "VmRSS:") > 0
	fmt.Printf("  %-58s anon %5.0f MB  file %5.0f MB  cgroup peak %5.0f MB  OOM kills %d  still answering: %v\n", "  after the loads",
		benchkit.RSSMB(pid, "RssAnon:"), benchkit.RSSMB(pid, "RssFile:"), cg.peakMB(), cg.oomKills(), alive)
}
