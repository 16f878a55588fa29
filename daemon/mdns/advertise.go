package mdns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	wire "github.com/storebox/storebox/protocol/discovery"
)

// Config is one advertisement: the _storebox._tcp instance of a store.
type Config struct {
	Instance string        // the instance name as shown (wire.InstanceName of the store name)
	Port     int           // the device listener's port
	Host     netip.Addr    // the IP the device listener is bound to; unspecified or zero: every address
	TXT      []string      // key=value strings, unescaped
	Interval time.Duration // how often the interface set is read again; 30 s when zero
}

// Advertise keeps the advertisement up until ctx is done. It answers only
// on the interfaces the device listener is reachable through, with those
// addresses (see responder.go). The interface set is read again every
// Interval and the responder rebuilt when it changed (a mini-PC often boots
// before DHCP answers); a failure is a warning logged once per distinct
// cause, retried on the same schedule.
func Advertise(ctx context.Context, cfg Config, log *slog.Logger) {
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	txt := make([]string, len(cfg.TXT))
	for i, t := range cfg.TXT {
		txt[i] = EscapeTXT(t)
	}
	service := wire.MDNSService + "." + wire.MDNSDomain
	names := mdnsNames{
		service:  service,
		instance: EscapeLabel(cfg.Instance) + "." + service,
		host:     mdnsHostName(),
		port:     uint16(cfg.Port),
		txt:      txt,
	}
	instance := cfg.Instance

	var (
		resp     *responder
		served   chan struct{}
		current  string // ifaceKey resp was built for
		lastNote string
	)
	stop := func() {
		if resp != nil {
			resp.close()
			<-served
			resp = nil
		}
	}
	defer stop()
	note := func(level slog.Level, msg string, args ...any) {
		if key := msg + fmt.Sprint(args...); key != lastNote {
			log.Log(ctx, level, msg, args...)
			lastNote = key
		}
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		ifaces, reason := advertisedIfaces(cfg.Host)
		if key := ifaceKey(ifaces); resp == nil || key != current {
			stop()
			current = key
			switch {
			case reason != "":
				note(slog.LevelWarn, "discovery: mDNS not advertised; UDP discovery still works", "reason", reason)
			default:
				r, err := newResponder(names, ifaces, log)
				if err != nil {
					note(slog.LevelWarn, "discovery: mDNS advertisement failed; UDP discovery still works; will retry", "err", err)
					current = ""
					break
				}
				resp, served = r, make(chan struct{})
				go func() { defer close(served); r.serve() }()
				lastNote = ""
				log.Info("discovery: mDNS advertising", "service", wire.MDNSService, "instance", instance, "host", names.host, "port", cfg.Port, "addrs", key)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// EscapeLabel writes a DNS label in the presentation format zeroconf (and
// miekg/dns underneath) expects, escaping exactly as miekg/dns does when it
// unpacks a name, so the instance name we register matches the names in
// incoming queries byte for byte: ". ( ) ; space @ \" \\" get a backslash,
// bytes outside printable ASCII become \DDD.
func EscapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(`.();@"\ `, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// EscapeTXT protects the one byte miekg/dns interprets when packing a TXT
// string: the backslash.
func EscapeTXT(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }

// Unescape reverses miekg/dns's presentation escaping (\X and \DDD), for
// instance names and TXT strings read by a browser.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
