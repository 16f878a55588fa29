package orders

import (
	"context"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/ordermsg"
)

// Register adds getPayInfo, makePayment, getOrder, cancelOrder and getReceipt to the
// device server.
func (s *Service) Register(h interface{ Handle(string, devices.Handler) }) {
	h.Handle("getPayInfo", s.actGetPayInfo)
	h.Handle("makePayment", s.actMakePayment)
	h.Handle("getOrder", s.actGetOrder)
	h.Handle("cancelOrder", s.actCancelOrder)
	h.Handle("getReceipt", s.actGetReceipt)
}

func (s *Service) actGetPayInfo(ctx context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	var body ordermsg.PayRequest
	if e := req.DecodeBody(&body); e != nil {
		return nil, e
	}
	if sess.Kind() == devices.KindScale {
		body.Source = devices.KindScale // network scales' orders are tagged
	}
	info, err := s.GetPayInfo(ctx, sess.EquipID(), body)
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (s *Service) actMakePayment(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	var body ordermsg.MakePaymentBody
	if e := req.DecodeBody(&body); e != nil {
		return nil, e
	}
	if body.Amount == nil {
		return nil, ordermsg.BadRequest("amount is required (minor units, equal to amount_total)")
	}
	amt := *body.Amount
	if amt != float64(int64(amt)) || amt < 0 {
		return nil, ordermsg.BadRequest("amount must be a whole, non-negative number of minor units")
	}
	return nil, s.MakePayment(sess.EquipID(), body.OID, body.Method, int64(amt))
}

func (s *Service) actGetOrder(_ context.Context, _ *devices.Session, req *devmsg.Request) (any, error) {
	var body ordermsg.OIDBody
	if e := req.DecodeBody(&body); e != nil {
		return nil, e
	}
	v, err := s.GetOrder(body.OID)
	if err != nil {
		return nil, err
	}
	return ordermsg.OrderReply{Order: v}, nil
}

func (s *Service) actCancelOrder(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	var body ordermsg.OIDBody
	if e := req.DecodeBody(&body); e != nil {
		return nil, e
	}
	return nil, s.CancelOrder(sess.EquipID(), body.OID)
}
