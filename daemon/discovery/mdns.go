package discovery

import (
	"context"
	"net/netip"

	"github.com/storebox/storebox/daemon/mdns"
	wire "github.com/storebox/storebox/protocol/discovery"
)

// advertise runs the mDNS advertisement of this box until ctx is done: the
// store's instance, the device port and the TXT a UDP answer carries.
func (s *Service) advertise(ctx context.Context) {
	if s.cfg.DevicePort == 0 {
		s.log.Warn("discovery: mDNS not advertised: no device port")
		return
	}
	txt, err := s.answer(netip.Addr{}).TXT()
	if err != nil {
		s.log.Warn("discovery: mDNS not advertised", "err", err)
		return
	}
	mdns.Advertise(ctx, mdns.Config{
		Instance: wire.InstanceName(s.cfg.StoreName),
		Port:     s.cfg.DevicePort,
		Host:     s.cfg.DeviceHost,
		TXT:      txt,
		Interval: s.mdnsIv,
	}, s.log)
}
