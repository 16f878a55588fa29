// Package doctor checks a storebox installation the way a technician would:
// the config, the data directory, the ports, the serial scales, the cloud,
// and discovery. Each check gives one Result saying what was found and what
// to do about it. It changes nothing (a probe file in the data directory
// aside, removed at once).
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/readyfile"
	"github.com/storebox/storebox/daemon/webauth"
	"github.com/storebox/storebox/internal/buildinfo"
	"github.com/storebox/storebox/internal/diskspace"
)

// Level is a check's outcome.
type Level string

// Levels, in increasing severity.
const (
	OK   Level = "ok"
	Warn Level = "warn"
	Fail Level = "fail"
)

// Result is one check.
type Result struct {
	Level  Level  `json:"level"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
	// Fix says what to do; empty when there is nothing to do.
	Fix string `json:"fix,omitempty"`
}

// String is the line `storebox doctor` prints:
// "ok    config: /etc/storebox/storebox.toml is valid".
func (r Result) String() string {
	s := fmt.Sprintf("%-4s  %s: %s", r.Level, r.Check, r.Detail)
	if r.Fix != "" {
		s += " — " + r.Fix
	}
	return s
}

// Options tune the checks; zero values are the defaults.
type Options struct {
	// MDNSWait is how long to browse for the daemon's mDNS advertisement (default 1.5s).
	MDNSWait time.Duration
	// UDPWait is how long to wait for a discovery answer (default 1s).
	UDPWait time.Duration
	// Disk thresholds (defaults 1 GB warn, 100 MB fail).
	WarnFree, FailFree uint64
	// Now is the local clock (default time.Now), for the upstream skew check.
	Now func() time.Time
	// Built is when this binary was made at the latest (buildinfo.Built;
	// zero skips the clock check).
	Built time.Time
}

func (o *Options) defaults() {
	if o.MDNSWait <= 0 {
		o.MDNSWait = 1500 * time.Millisecond
	}
	if o.UDPWait <= 0 {
		o.UDPWait = time.Second
	}
	if o.WarnFree == 0 {
		o.WarnFree = 1 << 30
	}
	if o.FailFree == 0 {
		o.FailFree = 100 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Run runs every check against cfg with default options.
func Run(ctx context.Context, cfg *config.Config) []Result {
	return RunWith(ctx, cfg, Options{})
}

// RunWith runs every check against cfg.
func RunWith(ctx context.Context, cfg *config.Config, opt Options) []Result {
	opt.defaults()
	var out []Result
	out = append(out, checkConfig(cfg))
	if r, ok := checkClock(opt); ok {
		out = append(out, r)
	}
	d := probeDaemon(ctx, cfg)
	out = append(out, d.result(cfg.StoreID))
	out = append(out, checkDataDir(cfg.DataDir, opt)...)
	out = append(out, checkPorts(cfg, d)...)
	out = append(out, checkScales(ctx, cfg, d)...)
	out = append(out, checkPrinters(ctx, cfg, d)...)
	out = append(out, checkUpstream(ctx, cfg, opt))
	out = append(out, checkFleet(cfg, d)...)
	out = append(out, checkDiscovery(ctx, cfg, d, opt)...)
	return out
}

// ConfigError is the result for a config that did not load; the other
// checks need a config, so it is the only one.
func ConfigError(err error) Result {
	return Result{Level: Fail, Check: "config", Detail: err.Error(),
		Fix: "fix the key at the line shown (`storebox config check` validates without starting)"}
}

func checkConfig(cfg *config.Config) Result {
	where := cfg.Path
	if where == "" {
		where = "built-in defaults (no config file)"
	}
	if err := cfg.Validate(); err != nil {
		return Result{Level: Fail, Check: "config", Detail: err.Error(), Fix: "fix the key at the line shown"}
	}
	return Result{Level: OK, Check: "config", Detail: where + " is valid"}
}

// daemonInfo is what the running daemon (if any) says about itself.
type daemonInfo struct {
	base    string
	running bool
	// otherDataDir: the daemon refused this data directory's admin token
	// and does not run from it.
	otherDataDir bool
	status       struct {
		StoreID  string           `json:"store_id"`
		Version  string           `json:"version"`
		UptimeS  int64            `json:"uptime_s"`
		Ready    bool             `json:"ready"`
		Scales   []map[string]any `json:"scales"`
		Printers []printerStatus  `json:"printers"`
		Config   fleetStatus      `json:"config"`
	}
	statusErr error
}

// localBase is the local API's URL from http.listen (for port 0, the
// address the running daemon recorded in its ready file).
func localBase(cfg *config.Config) string {
	if cfg.HTTP.Listen == "" {
		return ""
	}
	listen := readyfile.Resolve(cfg.DataDir, cfg.HTTP.Listen, func(f readyfile.File) string { return f.HTTP })
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func probeDaemon(ctx context.Context, cfg *config.Config) *daemonInfo {
	d := &daemonInfo{base: localBase(cfg)}
	if d.base == "" {
		return d
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	// The status needs the admin token (PROTOCOL.md §5); without read access to it
	// the daemon still shows as running, and the detail says why.
	token, tokenErr := webauth.ReadAdminToken(cfg.DataDir, cfg.HTTP.AdminToken)
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
		if err != nil {
			return nil, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return hc.Do(req)
	}
	resp, err := get("/healthz")
	if err != nil {
		return d
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d
	}
	d.running = true
	resp, err = get("/api/v1/status")
	if err != nil {
		d.statusErr = err
		return d
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && tokenErr != nil {
		d.statusErr = fmt.Errorf("GET /api/v1/status needs the admin token: %w", tokenErr)
		return d
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if why := readyfile.Elsewhere(cfg.DataDir, strings.TrimPrefix(d.base, "http://")); why != "" {
			dir, _ := filepath.Abs(cfg.DataDir)
			d.statusErr = fmt.Errorf("it refused the admin token of %s: it runs with another data directory than %s (%s)", dir, dir, why)
			d.otherDataDir = true
			return d
		}
	}
	if resp.StatusCode != http.StatusOK {
		d.statusErr = fmt.Errorf("GET /api/v1/status: %s", resp.Status)
		return d
	}
	d.statusErr = json.NewDecoder(resp.Body).Decode(&d.status)
	return d
}

func (d *daemonInfo) result(storeID string) Result {
	switch {
	case d.base == "":
		return Result{Level: Warn, Check: "daemon", Detail: "http.listen is empty, so the local API cannot be asked whether it runs", Fix: "set http.listen (default \":8680\")"}
	case !d.running:
		return Result{Level: Warn, Check: "daemon", Detail: "not running (no answer at " + d.base + "/healthz)", Fix: adviceStart}
	case d.statusErr != nil && d.otherDataDir:
		return Result{Level: Warn, Check: "daemon", Detail: "a storebox answers at " + d.base + " but " + d.statusErr.Error(),
			Fix: "run doctor with the daemon's data directory (--data-dir DIR) or the config it runs with (--config FILE); `make run DATA=dir` notes dir where the CLI looks"}
	case d.statusErr != nil:
		return Result{Level: Warn, Check: "daemon", Detail: "answers /healthz but not its status: " + d.statusErr.Error(), Fix: adviceLogs}
	case d.status.StoreID != storeID:
		return Result{Level: Warn, Check: "daemon", Detail: fmt.Sprintf("the storebox answering at %s is store %q, this config is store %q", d.base, d.status.StoreID, storeID),
			Fix: "run doctor with the config the service uses (--config " + config.DefaultConfigPath + ")"}
	case !d.status.Ready:
		return Result{Level: Warn, Check: "daemon", Detail: fmt.Sprintf("running (version %s) but not ready", d.status.Version), Fix: "wait a few seconds; if it stays so, " + adviceLogs}
	}
	return Result{Level: OK, Check: "daemon", Detail: fmt.Sprintf("running at %s, store %s, version %s, up %s", d.base, d.status.StoreID, d.status.Version, time.Duration(d.status.UptimeS)*time.Second)}
}

// checkDataDir checks that the data directory is (or can be made) a
// writable directory, and its free space.
func checkDataDir(dir string, opt Options) []Result {
	const name = "data directory"
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fi, err := os.Stat(abs)
	target := abs
	switch {
	case err == nil && !fi.IsDir():
		return []Result{{Level: Fail, Check: name, Detail: abs + " is a file, not a directory", Fix: "set data_dir to a directory (default " + config.DefaultInstallDataDir + " when installed)"}}
	case errors.Is(err, os.ErrNotExist):
		// The daemon creates it at first start; check what it would be created in.
		parent := filepath.Dir(abs)
		for {
			pfi, perr := os.Stat(parent)
			if perr == nil {
				if !pfi.IsDir() {
					return []Result{{Level: Fail, Check: name, Detail: fmt.Sprintf("%s cannot be created: %s is a file", abs, parent), Fix: "set data_dir to a path under a directory"}}
				}
				break
			}
			if !errors.Is(perr, os.ErrNotExist) {
				return []Result{{Level: Fail, Check: name, Detail: fmt.Sprintf("%s cannot be created: %v", abs, perr), Fix: "set data_dir to a path under a directory"}}
			}
			if next := filepath.Dir(parent); next != parent {
				parent = next
				continue
			}
			break
		}
		target = parent
	case err != nil:
		// ENOTDIR (a path under a file), EACCES, ...
		return []Result{{Level: Fail, Check: name, Detail: fmt.Sprintf("%s: %v", abs, unwrapPath(err)), Fix: "set data_dir to a directory " + adviceDataDirUser + " can write"}}
	}
	var out []Result
	if werr := tryWrite(target); werr != nil {
		out = append(out, Result{Level: Fail, Check: name, Detail: fmt.Sprintf("%s is not writable: %v", target, werr),
			Fix: adviceWritable(abs)})
	} else if target != abs {
		out = append(out, Result{Level: OK, Check: name, Detail: fmt.Sprintf("%s does not exist yet; it will be created in %s (writable)", abs, target)})
	} else {
		out = append(out, Result{Level: OK, Check: name, Detail: abs + " is writable"})
	}
	space, err := diskspace.Of(target)
	free := space.Free
	if err != nil {
		out = append(out, Result{Level: Warn, Check: "disk space", Detail: fmt.Sprintf("cannot read free space of %s: %v", target, err)})
		return out
	}
	r := Result{Level: OK, Check: "disk space", Detail: fmt.Sprintf("%s free on %s", bytesHuman(free), target)}
	switch {
	case free < opt.FailFree:
		r.Level, r.Fix = Fail, adviceFreeSpace
	case free < opt.WarnFree:
		r.Level, r.Fix = Warn, "free some space before it runs out (offline queue and catalog grow)"
	}
	return append(out, r)
}

// tryWrite creates, syncs and removes a probe file in dir.
func tryWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".storebox-doctor-*")
	if err != nil {
		return unwrapPath(err)
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err := f.WriteString("doctor\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func bytesHuman(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", n>>10)
}

// checkPorts tries to bind every configured listener. A port that cannot
// be bound is fine when the running storebox holds it.
func checkPorts(cfg *config.Config, d *daemonInfo) []Result {
	// bound is where the running daemon's ready file says a port-0
	// listener is.
	ready, _ := readyfile.Read(cfg.DataDir)
	var disc string
	if len(ready.Discovery) > 0 {
		disc = ready.Discovery[0]
	}
	ports := []struct{ key, network, addr, bound string }{
		{"devices.listen", "tcp", cfg.Devices.Listen, ready.Devices},
		{"discovery.listen", "udp", cfg.Discovery.Listen, disc},
		{"mqtt.listen", "tcp", cfg.MQTT.Listen, ready.MQTT},
		{"mqtt.tls_listen", "tcp", cfg.MQTT.TLSListen, ready.MQTTTLS},
		{"http.listen", "tcp", cfg.HTTP.Listen, ready.HTTP},
	}
	var out []Result
	for _, p := range ports {
		if p.addr == "" {
			if p.key != "mqtt.tls_listen" {
				out = append(out, Result{Level: OK, Check: p.key, Detail: "disabled (empty)"})
			}
			continue
		}
		check := fmt.Sprintf("%s %s/%s", p.key, p.addr, p.network)
		if _, port, _ := net.SplitHostPort(p.addr); port == "0" {
			if d.running && p.bound != "" {
				out = append(out, Result{Level: OK, Check: check, Detail: "held by storebox (running) at " + p.bound + " (port 0)"})
				continue
			}
			out = append(out, Result{Level: Warn, Check: check, Detail: "port 0: a random port at every start", Fix: "set a fixed port so devices and tools can find it"})
			continue
		}
		err := tryBind(p.network, p.addr)
		if err == nil {
			detail := "free"
			if d.running {
				// The daemon runs but this port is free: it is not listening
				// where the config says (another config, or the listener failed).
				out = append(out, Result{Level: Warn, Check: check, Detail: "free, although a storebox answers at " + d.base,
					Fix: "the running daemon does not use this config's " + p.key + "; restart it with this config"})
				continue
			}
			out = append(out, Result{Level: OK, Check: check, Detail: detail})
			continue
		}
		if d.running {
			out = append(out, Result{Level: OK, Check: check, Detail: "held by storebox (running)"})
			continue
		}
		_, port, _ := net.SplitHostPort(p.addr)
		fix := fmt.Sprintf("another program holds it (see %s); stop it or change %s", advicePortHolder(p.network, port), p.key)
		if !addrInUse(err) {
			// Not a holder: a socket option or address the OS refused.
			fix = fmt.Sprintf("check that %s is an address of this machine and that nothing (a firewall, a port reservation) forbids it", p.key)
		}
		out = append(out, Result{Level: Fail, Check: check, Detail: "cannot bind: " + bindErr(err), Fix: fix})
	}
	return out
}

func tryBind(network, addr string) error {
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func bindErr(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// checkClock fails a clock set before this binary was made (a dead CMOS
// battery, no NTP): orders, receipts and signatures would carry that date.
func checkClock(opt Options) (Result, bool) {
	if opt.Built.IsZero() {
		return Result{}, false
	}
	now := opt.Now()
	if msg := buildinfo.ClockBeforeBuild(now, opt.Built); msg != "" {
		return Result{Level: Fail, Check: "clock", Detail: fmt.Sprintf("%s, before this storebox was made (%s)", now.UTC().Format(time.RFC3339), opt.Built.UTC().Format("2006-01-02")),
			Fix: "set the clock: " + adviceNTP + "; a box that loses the time at every power cut needs a new CMOS battery"}, true
	}
	return Result{Level: OK, Check: "clock", Detail: fmt.Sprintf("%s, after this storebox was made (%s)", now.UTC().Format(time.RFC3339), opt.Built.UTC().Format("2006-01-02"))}, true
}
