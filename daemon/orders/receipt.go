package orders

import (
	"context"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ordermsg"
	"github.com/storebox/storebox/protocol/receipt"
)

// ReceiptConfig says what a paid order's receipt shows (the [receipt]
// section): the store's name and the layout of printList.
type ReceiptConfig struct {
	StoreName string
	Layout    receipt.Layout
}

// PaidHook runs inside the write transaction that makes an order paid, so
// what it writes (a print job) commits with the payment or not at all. It
// must be idempotent: a group commit may run the transaction twice.
type PaidHook func(t *store.Tx, o *ordermsg.Order) error

// paidPush is the orderPaid push: the order's outcome and its receipt.
type paidPush struct {
	ordermsg.PaidPush
	receipt.WithPrintList
}

// Receipt is the receipt of a paid order and its printList at the
// configured width.
func (s *Service) Receipt(o *ordermsg.Order) receipt.WithPrintList {
	r := receipt.FromOrder(o, s.cfg.StoreID, s.cfg.Receipt.StoreName)
	return receipt.WithPrintList{Receipt: r, PrintList: receipt.PrintList(r, s.cfg.Receipt.Layout)}
}

// GetReceipt is getReceipt: the receipt of paid order oid for the
// terminal equipID of kind kind. Only the order's own device or a terminal
// of this store may read it; anyone else, like an unpaid or unknown order,
// gets not_found (a receipt names what a customer bought).
func (s *Service) GetReceipt(equipID, kind, oid string) (receipt.WithPrintList, error) {
	if e := ordermsg.ValidID("oid", oid); e != nil {
		return receipt.WithPrintList{}, e
	}
	o, ok, err := s.get(oid)
	if err != nil {
		return receipt.WithPrintList{}, internal("getReceipt", err)
	}
	if !ok || o.Status != ordermsg.StatusPaid || o.PaidAt == nil || (o.EquipID != equipID && kind != devices.KindTerminal) {
		return receipt.WithPrintList{}, devmsg.Errorf(devmsg.CodeNotFound, "no paid order %q", oid)
	}
	return s.Receipt(&o), nil
}

// PaidReceipt is the receipt of paid order oid, for a reprint.
func (s *Service) PaidReceipt(oid string) (*ordermsg.Order, receipt.Receipt, bool, error) {
	o, ok, err := s.get(oid)
	if err != nil || !ok || o.Status != ordermsg.StatusPaid || o.PaidAt == nil {
		return nil, receipt.Receipt{}, false, err
	}
	return &o, receipt.FromOrder(&o, s.cfg.StoreID, s.cfg.Receipt.StoreName), true, nil
}

func (s *Service) actGetReceipt(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	var body ordermsg.OIDBody
	if e := req.DecodeBody(&body); e != nil {
		return nil, e
	}
	return s.GetReceipt(sess.EquipID(), sess.Kind(), body.OID)
}
