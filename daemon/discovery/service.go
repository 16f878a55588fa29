// Package discovery is the daemon's LAN discovery component (PROTOCOL.md §3): a UDP
// responder that answers probes unicast with the address the probe reached,
// and an mDNS advertisement of _storebox._tcp. It also holds Find, the
// client side used by `storebox discover`.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/storebox/storebox/internal/dgram"
	"github.com/storebox/storebox/internal/listen"
	wire "github.com/storebox/storebox/protocol/discovery"
)

// Config is what the responder announces and where it listens.
type Config struct {
	// Listen is the UDP address, e.g. ":8686". An empty host binds IPv4
	// 0.0.0.0 (required) and IPv6 [::] (best effort: a host without IPv6
	// still starts); an IP binds that address only.
	Listen string

	StoreID, StoreName, Version string

	// DevicePort, MQTTPort and HTTPPort are announced as they are; 0 means
	// "not listening". mDNS needs a DevicePort.
	DevicePort, MQTTPort, HTTPPort int

	// DeviceHost is the IP the device listener is bound to. mDNS advertises
	// only addresses a device can connect to: every interface address for
	// an unspecified (or zero) DeviceHost, that address alone for a specific
	// one, and nothing for loopback.
	DeviceHost netip.Addr

	// Devices, MQTT and HTTP, when set, are the listeners themselves:
	// their bound addresses, read when Serve starts, replace DevicePort
	// (and DeviceHost), MQTTPort and HTTPPort (a listener on port 0 has
	// its port only once bound).
	Devices, MQTT, HTTP Bound

	// MDNS turns on the mDNS advertisement. Its failure (no multicast
	// interface, port 5353 unavailable) is logged as a warning and retried;
	// it never stops the responder.
	MDNS bool
}

// Bound is a listener whose address is known once it is bound (nil, or
// a nil Addr, while it is not).
type Bound interface {
	Addr() net.Addr
}

// boundPort is b's bound TCP address, if any.
func boundPort(b Bound) (*net.TCPAddr, bool) {
	if b == nil {
		return nil, false
	}
	ta, ok := b.Addr().(*net.TCPAddr)
	return ta, ok && ta != nil
}

// Limits from PROTOCOL.md §3.
const (
	answersPerSecond = 10
	// maxSources bounds the rate limiter's memory (about 400 bytes a source).
	maxSources = 4096
)

// Stats counts datagrams, for the status page and tests.
type Stats struct {
	Received    uint64 // datagrams read
	Answered    uint64 // answers sent
	Ignored     uint64 // not a probe: oversize, junk, wrong action
	RateLimited uint64 // probes not answered because of the per-source limit
	Failed      uint64 // answers that could not be sent
}

// Service is the discovery component. Create it with New, bind with Bind
// (or let Serve bind), run it with Serve.
type Service struct {
	cfg    Config
	log    *slog.Logger
	limit  *sourceLimiter
	addrs  *localAddrs
	now    func() time.Time
	mdnsIv time.Duration

	mu      sync.Mutex
	conns   []boundConn
	serving bool

	received, answered, ignored, rateLimited, failed atomic.Uint64
}

type boundConn struct {
	pc probeConn
	// fixed is the bound address when it is a specific IP: every probe on
	// this socket reached that address.
	fixed netip.Addr
	// withCM reports whether packet info is available on this socket.
	withCM bool
}

// New checks cfg and returns a Service. It does not bind: Bind does, so the
// daemon can bind every listener before running any of them.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		return nil, errors.New("discovery.New: no listen address")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("discovery.New: listen %q: %w", cfg.Listen, err)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"device port", cfg.DevicePort}, {"mqtt port", cfg.MQTTPort}, {"http port", cfg.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			return nil, fmt.Errorf("discovery.New: %s %d out of range", p.name, p.v)
		}
	}
	return &Service{
		cfg:    cfg,
		log:    log.With("component", "discovery"),
		limit:  newSourceLimiter(answersPerSecond, time.Second, maxSources),
		addrs:  newLocalAddrs(),
		now:    time.Now,
		mdnsIv: 30 * time.Second,
	}, nil
}

// Bind binds the UDP socket(s) and returns at once. A bind failure is
// returned as e.g. "discovery.listen 0.0.0.0:8686: address already in use"
// (errors.Is matches the errno), so the daemon can refuse to start. Calling
// Bind on a bound Service does nothing; Serve calls it if needed.
func (s *Service) Bind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) > 0 {
		return nil
	}
	conns, err := s.bind()
	if err != nil {
		return err
	}
	s.conns = conns
	for _, c := range conns {
		s.log.Info("discovery listening", "addr", c.pc.local().String(), "packet_info", c.withCM)
	}
	return nil
}

func (s *Service) bind() ([]boundConn, error) {
	host, portStr, _ := net.SplitHostPort(s.cfg.Listen)
	port, err := net.LookupPort("udp", portStr)
	if err != nil {
		return nil, fmt.Errorf("discovery.listen %s: bad port: %w", s.cfg.Listen, err)
	}
	if host == "" {
		v4, err := bindUDP("udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), false)
		if err != nil {
			return nil, err
		}
		conns := []boundConn{v4}
		// IPv6 on the port IPv4 got (which matters when port is 0).
		v6, err := bindUDP("udp6", netip.AddrPortFrom(netip.IPv6Unspecified(), v4.pc.local().Port()), false)
		switch {
		case errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL):
			s.log.Info("discovery: no IPv6 on this host; answering IPv4 only")
		case err != nil:
			s.log.Warn("discovery: no IPv6 listener; answering IPv4 only", "err", err)
		default:
			conns = append(conns, v6)
		}
		return conns, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", s.cfg.Listen)
		if rerr != nil {
			return nil, fmt.Errorf("discovery.listen %s: %w", s.cfg.Listen, rerr)
		}
		ip = ua.AddrPort().Addr()
	}
	ip = ip.Unmap()
	network := "udp4"
	if ip.Is6() {
		network = "udp6"
	}
	c, err := bindUDP(network, netip.AddrPortFrom(ip, uint16(port)), !ip.IsUnspecified())
	if err != nil {
		return nil, err
	}
	return []boundConn{c}, nil
}

// bindUDP binds one socket; its error reads "discovery.listen ADDR: <errno>".
func bindUDP(network string, at netip.AddrPort, fixed bool) (boundConn, error) {
	c, err := listen.UDP("discovery.listen", network, at)
	if err != nil {
		return boundConn{}, err
	}
	pc, withCM := newProbeConn(c, network == "udp6")
	bc := boundConn{pc: pc, withCM: withCM}
	if fixed {
		bc.fixed = at.Addr()
	}
	return bc, nil
}

// Addrs returns the bound addresses (after Bind), IPv4 first.
func (s *Service) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c.pc.local())
	}
	return out
}

// Close releases sockets bound by Bind when Serve will not run (the daemon
// failed to start). A running Serve sees its sockets closed and returns nil.
func (s *Service) Close() error {
	s.mu.Lock()
	conns := s.conns
	if !s.serving {
		s.conns = nil
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range conns {
		if err := c.pc.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns the datagram counters.
func (s *Service) Stats() Stats {
	return Stats{
		Received:    s.received.Load(),
		Answered:    s.answered.Load(),
		Ignored:     s.ignored.Load(),
		RateLimited: s.rateLimited.Load(),
		Failed:      s.failed.Load(),
	}
}

// Serve answers probes, and advertises over mDNS when configured, until ctx
// is cancelled (then it returns nil). It binds first if Bind was not
// called. On return the sockets are closed; a later Serve binds again.
func (s *Service) Serve(ctx context.Context) error {
	if err := s.Bind(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("discovery: Serve called twice")
	}
	s.serving = true
	conns := s.conns
	if ta, ok := boundPort(s.cfg.Devices); ok {
		s.cfg.DevicePort, s.cfg.DeviceHost = ta.Port, ta.AddrPort().Addr().Unmap()
	}
	if ta, ok := boundPort(s.cfg.MQTT); ok {
		s.cfg.MQTTPort = ta.Port
	}
	if ta, ok := boundPort(s.cfg.HTTP); ok {
		s.cfg.HTTPPort = ta.Port
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.conns = nil
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(conns))
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.readLoop(ctx, c)
		}()
	}
	if s.cfg.MDNS {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.advertise(ctx)
		}()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	for _, c := range conns {
		c.pc.close()
	}
	wg.Wait()
	return err
}

// readLoop answers probes on one socket. It returns nil when the socket is
// closed by Serve or Close, and the read error otherwise.
func (s *Service) readLoop(ctx context.Context, c boundConn) error {
	// One byte more than a probe may have, to see that a datagram is too long.
	buf := make([]byte, wire.MaxProbeSize+1)
	for {
		n, src, dst, ifIndex, err := c.pc.read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if dgram.TooLong(err) {
				// Windows fails the read of a datagram over the buffer
				// (WSAEMSGSIZE) where Linux truncates it: one datagram to
				// ignore, not a reason to stop answering.
				s.received.Add(1)
				s.ignored.Add(1)
				s.log.Debug("discovery: ignored oversize datagram", "err", err)
				continue
			}
			return fmt.Errorf("discovery: read %s: %w", c.pc.local(), err)
		}
		s.received.Add(1)
		s.handle(c, buf[:n], src, dst, ifIndex)
	}
}

func (s *Service) handle(c boundConn, b []byte, src netip.AddrPort, dst netip.Addr, ifIndex int) {
	if len(b) > wire.MaxProbeSize {
		s.ignored.Add(1)
		s.log.Debug("discovery: ignored oversize datagram", "from", src.String())
		return
	}
	probe, err := wire.ParseProbe(b)
	if err != nil {
		s.ignored.Add(1)
		s.log.Debug("discovery: ignored datagram", "from", src.String(), "err", err)
		return
	}
	now := s.now()
	if !s.limit.allow(src.Addr().Unmap(), now) {
		s.rateLimited.Add(1)
		s.log.Debug("discovery: rate limited", "from", src.String())
		return
	}
	host := c.fixed
	if !host.IsValid() {
		if !c.withCM {
			dst, ifIndex = netip.Addr{}, 0
		}
		host = s.addrs.hostFor(dst, ifIndex, src.Addr(), now)
	}
	if !host.IsValid() {
		s.failed.Add(1)
		s.log.Warn("discovery: no local address to announce", "to", src.String())
		return
	}
	ans, err := s.answer(host).Encode()
	if err != nil {
		s.failed.Add(1)
		s.log.Error("discovery: encode answer", "err", err)
		return
	}
	var from netip.Addr
	if dst.IsValid() && dst.Unmap() == host.Unmap() {
		// Answer from the address probed, for clients that check.
		from = host
	}
	if err := c.pc.reply(ans, src, from); err != nil {
		s.failed.Add(1)
		s.log.Debug("discovery: answer", "to", src.String(), "err", err)
		return
	}
	s.answered.Add(1)
	s.log.Debug("discovery: answered", "to", src.String(), "equip_id", probe.EquipID, "kind", probe.Kind, "host", host.String())
}

// answer is what this daemon announces, with host filled in.
func (s *Service) answer(host netip.Addr) wire.Answer {
	return wire.Answer{
		Action:   wire.ActionReturn,
		StoreID:  s.cfg.StoreID,
		Name:     s.cfg.StoreName,
		Host:     host.WithZone("").Unmap().String(),
		Port:     s.cfg.DevicePort,
		MQTTPort: s.cfg.MQTTPort,
		HTTPPort: s.cfg.HTTPPort,
		Version:  s.cfg.Version,
	}
}
