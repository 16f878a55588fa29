package shelf

import (
	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/protocol/goods"
)

// greetLabel sends a label, at login, the goods bound to its MAC, so a
// label that was offline catches up.
func (sh *Shelf) greetLabel(c *devices.Session) {
	if c.Kind() == devices.KindLabel {
		sh.pushLabelGoods(c)
	}
}

// pushLabelGoods sends a label the goods bound to its MAC.
func (sh *Shelf) pushLabelGoods(c *devices.Session) {
	mac := c.MacID()
	if mac == "" {
		return
	}
	gs, err := sh.st.ByMac(mac)
	if err != nil {
		sh.log.Error("label goods lookup", "mac", mac, "err", err)
		return
	}
	c.Push("goodsUpdate", goodsReply{Goods: nonNil(gs)})
}

// pushGoodsUpdates sends changed goods to every connected label bound to
// them, one push per label. It runs after the change committed and never
// blocks: Push drops a label whose queue is full.
func (sh *Shelf) pushGoodsUpdates(changed []goods.Goods) {
	if !sh.srv.AnyLabels() {
		return
	}
	byLabel := map[*devices.Session][]goods.Goods{}
	for _, g := range changed {
		for _, mac := range g.MacIDs {
			for _, c := range sh.srv.Labels(mac) {
				byLabel[c] = append(byLabel[c], g)
			}
		}
	}
	for c, gs := range byLabel {
		c.Push("goodsUpdate", goodsReply{Goods: gs})
	}
}

// pushToMac sends every connected label with this MAC its current goods
// (an empty list after an unbind, so the label can blank itself).
func (sh *Shelf) pushToMac(mac string) {
	for _, c := range sh.srv.Labels(mac) {
		sh.pushLabelGoods(c)
	}
}

func nonNil(gs []goods.Goods) []goods.Goods {
	if gs == nil {
		return []goods.Goods{}
	}
	return gs
}
