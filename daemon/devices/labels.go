package devices

import (
	"github.com/storebox/storebox/protocol/goods"
)

// pushLabelGoods sends a label the goods bound to its MAC (at login, so a
// label that was offline catches up).
func (s *Server) pushLabelGoods(c *Session) {
	mac := c.MacID()
	if mac == "" {
		return
	}
	gs, err := s.st.ByMac(mac)
	if err != nil {
		s.log.Error("label goods lookup", "mac", mac, "err", err)
		return
	}
	c.Push("goodsUpdate", goodsReply{Goods: nonNil(gs)})
}

// pushGoodsUpdates sends changed goods to every connected label bound to
// them. It runs after the change committed and never blocks: Push drops a
// label whose queue is full.
func (s *Server) pushGoodsUpdates(changed []goods.Goods) {
	byLabel := map[*Session][]goods.Goods{}
	s.mu.Lock()
	if len(s.labels) == 0 {
		s.mu.Unlock()
		return
	}
	for _, g := range changed {
		for _, mac := range g.MacIDs {
			for c := range s.labels[normalizeMAC(mac)] {
				byLabel[c] = append(byLabel[c], g)
			}
		}
	}
	s.mu.Unlock()
	for c, gs := range byLabel {
		c.Push("goodsUpdate", goodsReply{Goods: gs})
	}
}

// pushToMac sends every connected label with this MAC its current goods
// (an empty list after an unbind, so the label can blank itself).
func (s *Server) pushToMac(mac string) {
	s.mu.Lock()
	var cs []*Session
	for c := range s.labels[normalizeMAC(mac)] {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		s.pushLabelGoods(c)
	}
}

func nonNil(gs []goods.Goods) []goods.Goods {
	if gs == nil {
		return []goods.Goods{}
	}
	return gs
}
