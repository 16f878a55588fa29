// Package goods defines the goods object exchanged with devices, catalog
// files and the cloud feed (PROTOCOL.md §2.5 "Goods object").
package goods

import (
	"fmt"
	"strings"
)

// Units.
const (
	UnitPieces = "pcs"
	UnitKg     = "kg"
)

// Goods is one sellable item. Stock is what can be sold now (on hand −
// reserved) in the warehouse the reply is about.
type Goods struct {
	GID      string   `json:"gid"`
	Barcode  string   `json:"barcode"`
	Name     string   `json:"gname"`
	Price    int64    `json:"price"` // minor units; per kg when Unit is kg
	Unit     string   `json:"unit"`
	Stock    int64    `json:"stock"`
	Category string   `json:"category,omitempty"`
	MacIDs   []string `json:"mac_ids,omitempty"`
	RFIDs    []string `json:"rfids,omitempty"`
}

// Validate checks the fields every source of goods must get right.
func (g *Goods) Validate() error {
	switch {
	case strings.TrimSpace(g.GID) == "":
		return fmt.Errorf("gid: must not be empty")
	case g.Price < 0:
		return fmt.Errorf("price: must not be negative")
	case g.Unit != UnitPieces && g.Unit != UnitKg:
		return fmt.Errorf("unit: %q is not pcs or kg", g.Unit)
	case strings.TrimSpace(g.Name) == "":
		return fmt.Errorf("gname: must not be empty")
	}
	return nil
}

// LineAmount is the amount of a line in minor units: price×qty for pieces,
// round_half_up(price × weight_g / 1000) for weighed goods.
func LineAmount(price, qty, weightG int64, unit string) int64 {
	if unit == UnitKg {
		return (price*weightG + 500) / 1000
	}
	return price * qty
}
