package printing

import (
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/receipt"
)

// ConfigFrom maps [[printers]] and the receipt layout onto the service's
// configuration.
func ConfigFrom(c *config.Config, layout receipt.Layout, storeName string) Config {
	out := Config{StoreID: c.StoreID, StoreName: storeName, Layout: layout, QR: c.Receipt.QR}
	for _, p := range c.Printers {
		terms := p.Terminals
		if len(terms) == 0 {
			terms = []string{"*"} // a store's one printer serves every terminal unless told
		}
		out.Printers = append(out.Printers, Printer{ID: p.ID, Connect: p.Connect, Terminals: terms, Codepage: p.Codepage,
			Width: p.Width, Cut: p.CutPaper(), Drawer: p.Drawer})
	}
	return out
}
