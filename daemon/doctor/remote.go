package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/discovery"
	"github.com/storebox/storebox/drivers/scale"
	wire "github.com/storebox/storebox/protocol/discovery"
	"github.com/storebox/storebox/protocol/ledger"
	"github.com/storebox/storebox/protocol/scaleproto"
	"github.com/storebox/storebox/sync/upstream"
)

const dialoutFix = adviceDialout

// checkScales checks each configured scale's serial port and, when the
// daemon does not hold it, that the scale answers its protocol's probe.
func checkScales(ctx context.Context, cfg *config.Config, d *daemonInfo) []Result {
	var out []Result
	for i, sc := range cfg.Scales {
		key := fmt.Sprintf("scales[%d].port", i)
		name := "scale " + sc.ID
		fi, err := os.Stat(sc.Port)
		if err != nil {
			fix := adviceScalePort + "; fix " + key
			if errors.Is(err, os.ErrPermission) {
				fix = dialoutFix
			}
			out = append(out, Result{Level: Fail, Check: name + " port", Detail: fmt.Sprintf("%s: %v", sc.Port, unwrapPath(err)), Fix: fix})
			continue
		}
		if fi.Mode()&os.ModeCharDevice == 0 {
			out = append(out, Result{Level: Fail, Check: name + " port", Detail: sc.Port + " is not a serial device (" + fi.Mode().Type().String() + ")", Fix: "point " + key + " at the scale's tty, e.g. /dev/serial/by-id/usb-..."})
			continue
		}
		if err := canReadWrite(sc.Port); err != nil {
			out = append(out, Result{Level: Fail, Check: name + " port", Detail: fmt.Sprintf("%s: no read/write permission (%v, mode %s)", sc.Port, err, fi.Mode().Perm()), Fix: dialoutFix})
			continue
		}
		out = append(out, Result{Level: OK, Check: name + " port", Detail: sc.Port + " present, read/write"})
		out = append(out, probeScale(ctx, sc, d))
	}
	return out
}

func probeScale(ctx context.Context, sc config.Scale, d *daemonInfo) Result {
	name := "scale " + sc.ID + " probe"
	if d.running {
		for _, s := range d.status.Scales {
			if id, _ := s["id"].(string); id != sc.ID {
				continue
			}
			state, _ := s["state"].(string)
			detail := "probe skipped: the running daemon holds the port; it reports state " + strconv.Quote(state)
			if w, ok := s["weight_g"].(float64); ok {
				detail += fmt.Sprintf(", %d g", int64(w))
			}
			switch strings.ToLower(state) {
			case "ok", "online", "stable", "connected", "reading", "running":
				return Result{Level: OK, Check: name, Detail: detail}
			}
			fix := "check the cable, protocol and baud; `storebox status` shows its last error"
			if e, _ := s["error"].(string); e != "" {
				detail += ": " + e
			}
			return Result{Level: Warn, Check: name, Detail: detail, Fix: fix}
		}
		return Result{Level: Warn, Check: name, Detail: "probe skipped: the running daemon holds the port",
			Fix: adviceStopToProbe}
	}
	opts := scale.ProbeOptions{}
	proto := strings.TrimSpace(sc.Protocol)
	if proto != "" && !strings.EqualFold(proto, scale.Auto) {
		p, err := scaleproto.ParseProtocol(proto)
		if err != nil {
			return Result{Level: Fail, Check: name, Detail: err.Error(), Fix: "set a known protocol or \"auto\""}
		}
		opts.Protocols = []scaleproto.Protocol{p}
	}
	if sc.Baud > 0 {
		opts.Bauds = []int{sc.Baud}
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := scale.Probe(pctx, sc.Port, opts)
	if err != nil {
		fix := "check the port; `storebox scale probe " + sc.Port + "` tries every protocol"
		if errors.Is(err, os.ErrPermission) {
			fix = dialoutFix
		}
		return Result{Level: Fail, Check: name, Detail: "probe: " + err.Error(), Fix: fix}
	}
	if len(res) == 0 {
		what := "any protocol"
		if len(opts.Protocols) == 1 {
			what = string(opts.Protocols[0])
		}
		return Result{Level: Fail, Check: name, Detail: "no answer to a " + what + " probe on " + sc.Port,
			Fix: "check the cable and that the scale is on; check protocol/baud (`storebox scale probe " + sc.Port + "`)"}
	}
	r := res[0]
	detail := fmt.Sprintf("answers as %s at %s", r.Protocol, r.Line)
	if r.Ident != "" && r.Ident != "echo" {
		detail += ", id " + r.Ident
	}
	if r.Reading != nil {
		detail += fmt.Sprintf(", reads %d g", r.Reading.Grams)
	}
	return Result{Level: OK, Check: name, Detail: detail}
}

// checkUpstream makes a signed, harmless request to the cloud.
func checkUpstream(ctx context.Context, cfg *config.Config, opt Options) Result {
	const name = "upstream"
	u := cfg.Upstream
	if u.Kind == "nats" {
		return Result{Level: Warn, Check: name, Detail: "kind nats (" + u.NATSURL + "): not checked by doctor"}
	}
	if u.URL == "" {
		return Result{Level: OK, Check: name, Detail: "not configured (events stay in the local queue)", Fix: ""}
	}
	c := upstream.New(u.URL, cfg.StoreID, u.Secret, u.Timeout.Duration)
	c.Now = opt.Now
	pctx, cancel := context.WithTimeout(ctx, u.Timeout.Duration+2*time.Second)
	defer cancel()
	res, err := c.Ping(pctx)
	if err != nil {
		msg := err.Error()
		var re *upstream.RetryableError
		if errors.As(err, &re) && (re.Status == 401 || re.Status == 403) {
			return Result{Level: Fail, Check: name, Detail: u.URL + " refused the signature (HTTP " + strconv.Itoa(re.Status) + ")",
				Fix: "check upstream.secret and store_id match the cloud, and that the clock is right (" + adviceClock + ")"}
		}
		return Result{Level: Fail, Check: name, Detail: msg,
			Fix: "check upstream.url, the network and DNS (`curl -I " + u.URL + "`); orders still work offline and sync later"}
	}
	detail := fmt.Sprintf("%s reachable in %s, signature accepted", u.URL, res.RTT.Round(time.Millisecond))
	if !res.HasDate {
		return Result{Level: OK, Check: name, Detail: detail + " (cloud sent no Date; clock not compared)"}
	}
	skew := res.Skew
	if skew < 0 {
		skew = -skew
	}
	switch {
	case skew > upstream.SkewThreshold:
		// Sync works (the store signs with the cloud's time), but the
		// box's own times are wrong.
		level := Warn
		if skew > ledger.MaxSkew {
			level = Fail
		}
		return Result{Level: level, Check: name, Detail: fmt.Sprintf("%s with the cloud's time, but %s", detail, upstream.DescribeOffset(-res.Skew)),
			Fix: adviceNTP + "; until then storebox signs with the cloud's time, and order times, receipts and logs are off; a box that loses the time at every power cut needs a new CMOS battery"}
	case skew > time.Minute:
		return Result{Level: Warn, Check: name, Detail: fmt.Sprintf("%s; clock off by %s", detail, res.Skew.Round(time.Second)), Fix: adviceNTP + " before it drifts past 5 min"}
	}
	return Result{Level: OK, Check: name, Detail: fmt.Sprintf("%s, clock within %s", detail, (skew + time.Second).Round(time.Second))}
}

// checkDiscovery probes the daemon's UDP discovery on loopback and browses
// mDNS for its advertisement.
func checkDiscovery(ctx context.Context, cfg *config.Config, d *daemonInfo, opt Options) []Result {
	if cfg.Discovery.Listen == "" {
		return []Result{{Level: OK, Check: "discovery", Detail: "disabled (discovery.listen is empty); devices need the address configured"}}
	}
	if !d.running {
		return []Result{{Level: Warn, Check: "discovery", Detail: "not checked: the daemon is not running", Fix: "start it and run doctor again"}}
	}
	var out []Result
	_, port, _ := net.SplitHostPort(cfg.Discovery.Listen)
	target := net.JoinHostPort("127.0.0.1", port)
	if host, _, _ := net.SplitHostPort(cfg.Discovery.Listen); host != "" && host != "0.0.0.0" && host != "::" {
		target = cfg.Discovery.Listen
	}
	name := "discovery udp " + target
	if port == "0" {
		out = append(out, Result{Level: Warn, Check: "discovery", Detail: "discovery.listen uses port 0 (a random port): devices cannot find it", Fix: "set discovery.listen = \":8686\""})
	} else {
		boxes, err := discovery.Find(ctx, discovery.FindOptions{Targets: []string{target}, Timeout: opt.UDPWait, EquipID: "storebox-doctor", Kind: "cli"})
		var mine *discovery.Box
		for i := range boxes {
			if boxes[i].StoreID == cfg.StoreID {
				mine = &boxes[i]
			}
		}
		switch {
		case err != nil:
			out = append(out, Result{Level: Fail, Check: name, Detail: err.Error(), Fix: "check discovery.listen"})
		case mine == nil && len(boxes) > 0:
			out = append(out, Result{Level: Fail, Check: name, Detail: fmt.Sprintf("answered by store %q, not %q", boxes[0].StoreID, cfg.StoreID), Fix: "another storebox holds the port; check store_id and which daemon runs"})
		case mine == nil:
			out = append(out, Result{Level: Fail, Check: name, Detail: "no answer within " + opt.UDPWait.String(), Fix: adviceLogs + " for discovery errors, and that discovery.listen is right"})
		default:
			out = append(out, Result{Level: OK, Check: name, Detail: fmt.Sprintf("answered: store %s, device port %d, http %d, version %s", mine.StoreID, mine.Port, mine.HTTPPort, mine.Version)})
		}
	}
	if !cfg.Discovery.MDNS {
		return append(out, Result{Level: OK, Check: "mdns", Detail: "disabled (discovery.mdns = false)"})
	}
	return append(out, browseMDNS(ctx, cfg.StoreID, opt.MDNSWait))
}

func browseMDNS(ctx context.Context, storeID string, wait time.Duration) Result {
	const name = "mdns " + wire.MDNSService
	boxes, err := discovery.Find(ctx, discovery.FindOptions{BrowseOnly: true, Timeout: wait})
	if err != nil {
		return Result{Level: Warn, Check: name, Detail: "cannot browse: " + err.Error(), Fix: "devices can still use UDP discovery"}
	}
	for _, b := range boxes {
		if b.StoreID == storeID {
			return Result{Level: OK, Check: name, Detail: fmt.Sprintf("advertised as %q port %d", b.Name, b.Port)}
		}
	}
	detail := fmt.Sprintf("store %s not seen within %s", storeID, wait)
	if len(boxes) > 0 {
		detail += fmt.Sprintf(" (%d other storebox seen)", len(boxes))
	}
	return Result{Level: Warn, Check: name, Detail: detail, Fix: "allow UDP 5353 (multicast) in the firewall; devices can still use UDP discovery"}
}
