package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/storebox/storebox/test/testenv"
)

// needNetns skips a test that creates network namespaces when not root
// (CI runs as root, where it fails instead), and needs ip.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root to create network namespaces (CI runs as root)")
		}
		t.Skip("needs root to create network namespaces")
	}
	testenv.RequireCommand(t, "ip")
}

// vethNamespaces makes network namespaces nsA and nsB joined by a veth
// pair (vA in A, vB in B), removed when the test ends, then runs each of
// setup ({namespace, command...}) in its namespace.
func vethNamespaces(t *testing.T, nsA, nsB, vA, vB string, setup [][]string) {
	t.Helper()
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", nsA).Run()
		exec.Command("ip", "netns", "del", nsB).Run()
	})
	sh("ip", "netns", "add", nsA)
	sh("ip", "netns", "add", nsB)
	sh("ip", "link", "add", vA, "type", "veth", "peer", "name", vB)
	sh("ip", "link", "set", vA, "netns", nsA)
	sh("ip", "link", "set", vB, "netns", nsB)
	for _, c := range setup {
		sh(append([]string{"ip", "netns", "exec"}, c...)...)
	}
}

// runInNetns starts bin with args in namespace ns, its output to logPath;
// it is killed when the test ends.
func runInNetns(t *testing.T, ns, logPath, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
}
