// Package receipt is the receipt of a paid order (PROTOCOL.md §7): the object that
// orderPaid and getReceipt carry, and its layout as printList, the text lines
// a terminal or an ESC/POS printer prints on paper a fixed number of columns
// wide. A CJK (East Asian wide) character takes two columns; names are
// wrapped at line-break opportunities (UAX #14), never cut inside a
// character, and control characters from the catalog never reach the paper
// (a goods name must not be able to send printer commands).
//
// It encodes and lays out only; daemon/printing owns the print jobs and
// drivers/printer the bytes on the wire.
package receipt

import (
	"time"

	"github.com/storebox/storebox/protocol/goods"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// Receipt is the receipt object of PROTOCOL.md §7.
type Receipt struct {
	Store       string    `json:"store"`
	StoreName   string    `json:"store_name"`
	OID         string    `json:"oid"`
	OrderID     string    `json:"order_id"`
	PaidAt      time.Time `json:"paid_at"`
	Method      string    `json:"method"`
	Lines       []Line    `json:"lines"`
	AmountTotal int64     `json:"amount_total"`
}

// Line is one sold line. Exactly one of Qty (pieces) and WeightG (goods sold
// by the kilogram, UnitPrice per kg) is set.
type Line struct {
	GID       string `json:"gid"`
	Name      string `json:"name"`
	Qty       int64  `json:"qty,omitempty"`
	WeightG   int64  `json:"weight_g,omitempty"`
	UnitPrice int64  `json:"unit_price"`
	Amount    int64  `json:"amount"`
}

// FromOrder is the receipt of a paid order o of store storeID named
// storeName. Only the order's own fields are used: the receipt shows what
// was sold at the price it was sold for, whatever the catalog says now.
func FromOrder(o *ordermsg.Order, storeID, storeName string) Receipt {
	r := Receipt{Store: storeID, StoreName: storeName, OID: o.OID, OrderID: o.OrderID, Method: o.Method,
		AmountTotal: o.AmountTotal, Lines: make([]Line, len(o.Lines))}
	if o.PaidAt != nil {
		r.PaidAt = o.PaidAt.UTC()
	}
	for i, l := range o.Lines {
		rl := Line{GID: l.GID, Name: l.Name, UnitPrice: l.Price, Amount: l.Amount}
		if l.Unit == goods.UnitKg {
			rl.WeightG = l.WeightG
		} else {
			rl.Qty = l.Qty
		}
		r.Lines[i] = rl
	}
	return r
}

// WithPrintList is a receipt and its layout, the reply of getReceipt and
// part of the orderPaid push.
type WithPrintList struct {
	Receipt   Receipt  `json:"receipt"`
	PrintList []string `json:"printList"`
}
