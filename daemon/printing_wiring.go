package daemon

import (
	"fmt"

	"github.com/storebox/storebox/daemon/orders"
	"github.com/storebox/storebox/daemon/printing"
)

// buildPrinting creates the print queues and their workers when printers
// are configured, and hooks them into the orders: a paid order's job
// commits with its payment, and leaves with the order at retention.
func (d *Daemon) buildPrinting(ocfg *orders.Config) error {
	if len(d.cfg.Printers) == 0 {
		return nil
	}
	pcfg := printing.ConfigFrom(d.cfg, ocfg.Receipt.Layout, ocfg.Receipt.StoreName)
	p, err := printing.New(pcfg, d.store, d.log.With("component", "printing"))
	if err != nil {
		return err
	}
	d.printing = p
	ocfg.OnPaid = p.OnPaid
	return nil
}

// printers is what the local API asks of the printers: their state, test
// pages, and copies of paid orders' receipts.
type printers struct {
	p *printing.Service
	o *orders.Service
}

func (x printers) States() []printing.State { return x.p.States() }
func (x printers) TestPage(id string) error { return x.p.TestPage(id) }

func (x printers) Reprint(oid, id string) ([]string, error) {
	o, r, ok, err := x.o.PaidReceipt(oid)
	if err != nil {
		return nil, fmt.Errorf("reprint %s: %w", oid, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w %q", printing.ErrNoReceipt, oid)
	}
	return x.p.Reprint(id, o.EquipID, r)
}
