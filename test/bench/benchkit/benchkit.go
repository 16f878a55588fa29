// Package benchkit is what the bench programs share: free ports, the
// reference cloud and the daemon as processes, and their RSS. Benchmarks
// report and exit on error; they assert nothing.
package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Check exits the bench with err.
func Check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// FreeAddr is a free 127.0.0.1 TCP address.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Check(err)
	defer l.Close()
	return l.Addr().String()
}

// StartCloud runs storebox-cloud with secret and returns its base URL and
// a function that stops it.
func StartCloud(bin, secret string) (url string, stop func()) {
	cloud, url := StartCloudCmd(bin, "--secret", secret)
	return url, func() { cloud.Process.Kill(); cloud.Wait() }
}

// StartCloudCmd runs storebox-cloud with args on a free loopback port and
// returns the process (for its RSS and CPU) and its base URL.
func StartCloudCmd(bin string, args ...string) (*exec.Cmd, string) {
	cloud := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	out, err := cloud.StdoutPipe()
	Check(err)
	Check(cloud.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	Check(err)
	return cloud, "http://" + strings.TrimSpace(line)
}

// StartDaemon runs `storebox run --config cfg` and waits until httpAddr
// answers /readyz; it returns the process and how long readiness took.
func StartDaemon(bin, cfg, httpAddr string) (*exec.Cmd, time.Duration) {
	return StartDaemonCmd(exec.Command(bin, "run", "--config", cfg), httpAddr)
}

// StartDaemonCmd starts d, a `storebox run` command line (perhaps behind
// taskset), and waits until httpAddr answers /readyz.
func StartDaemonCmd(d *exec.Cmd, httpAddr string) (*exec.Cmd, time.Duration) {
	t0 := time.Now()
	d.Stderr = os.Stderr
	Check(d.Start())
	for {
		if r, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return d, time.Since(t0)
			}
		}
		if Exited(d.Process.Pid) {
			d.Wait()
			Check(fmt.Errorf("daemon exited before it was ready: %s", d.ProcessState))
		}
		if time.Since(t0) > 60*time.Second {
			Check(fmt.Errorf("daemon not ready after 60 s"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Exited reports whether the child pid has exited (a zombie not yet
// waited for), so a daemon that failed at once is reported as that
// rather than as a minute of "not ready".
func Exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// StopDaemon sends SIGINT and waits.
func StopDaemon(d *exec.Cmd) {
	if d != nil && d.Process != nil {
		d.Process.Signal(os.Interrupt)
		d.Wait()
	}
}

// RSSMB reads a /proc/<pid>/status memory field ("VmRSS:", "RssAnon:") in MB.
func RSSMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// CPUTime is the user plus system CPU time a process has used so far
// (pid 0: this process), from /proc/<pid>/stat.
func CPUTime(pid int) time.Duration {
	p := "/proc/self/stat"
	if pid != 0 {
		p = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, which is 100 on every Linux the bench runs on.
const clockTicks = 100
