package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	cloudOnce sync.Once
	cloudBin  string
	cloudErr  error
)

// CloudBinary builds cmd/storebox-cloud once per test process.
func CloudBinary(t testing.TB) string {
	t.Helper()
	cloudOnce.Do(func() {
		dir, err := os.MkdirTemp("", "storebox-cloud-bin-")
		if err != nil {
			cloudErr = err
			return
		}
		cloudBin = filepath.Join(dir, "storebox-cloud")
		cmd := exec.Command("go", "build", "-o", cloudBin, "./cmd/storebox-cloud")
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			cloudErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cloudErr != nil {
		t.Fatal(cloudErr)
	}
	return cloudBin
}

// Cloud is a reference cloud process.
type Cloud struct {
	URL string
	cmd *exec.Cmd
}

// StartCloud runs storebox-cloud with args (plus --listen 127.0.0.1:0)
// and returns once it printed its address.
func StartCloud(t testing.TB, args ...string) *Cloud {
	t.Helper()
	cmd := exec.Command(CloudBinary(t), append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "127.0.0.1:"); i >= 0 {
				select {
				case addr <- strings.Fields(line[i:])[0]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return &Cloud{URL: "http://" + strings.TrimRight(a, "/"), cmd: cmd}
	case <-time.After(20 * time.Second):
		t.Fatal("storebox-cloud printed no address")
	}
	return nil
}

// Stop kills the cloud and waits for it.
func (c *Cloud) Stop() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// Stats reads GET /stats?format=json into a generic map (nil while the
// cloud is down).
func (c *Cloud) Stats(t testing.TB) map[string]any {
	t.Helper()
	resp, err := http.Get(c.URL + "/stats?format=json")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil
	}
	return m
}
