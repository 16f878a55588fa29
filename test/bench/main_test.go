//go:build linux

package main

import "testing"

func TestPinnedCPUs(t *testing.T) {
	for _, c := range []struct {
		cpus, gen int
		daemon    string
	}{
		{1, -1, ""},
		{2, 1, "0"},
		{3, 2, "0-1"},
		{8, 7, "0-6"},
	} {
		gen := pinnedGeneratorCPU(c.cpus)
		if gen != c.gen {
			t.Errorf("%d CPUs: generator on %d, want %d", c.cpus, gen, c.gen)
		}
		if gen > 0 && daemonCPUs(gen) != c.daemon {
			t.Errorf("%d CPUs: daemon on %q, want %q", c.cpus, daemonCPUs(gen), c.daemon)
		}
	}
}
