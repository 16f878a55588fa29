package shelf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/storebox/storebox/daemon/devices"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/protocol/devmsg"
	"github.com/storebox/storebox/protocol/goods"
)

// mapStoreError turns store sentinel errors into protocol codes.
func mapStoreError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return devmsg.Errorf(devmsg.CodeNotFound, "%v", err)
	case errors.Is(err, store.ErrConflict):
		return devmsg.Errorf(devmsg.CodeConflict, "%v", err)
	case errors.Is(err, store.ErrOutOfStock):
		return devmsg.Errorf(devmsg.CodeOutOfStock, "%v", err)
	case errors.Is(err, store.ErrInvalid):
		return devmsg.Errorf(devmsg.CodeBadRequest, "%v", err)
	}
	return err
}

type goodsReply struct {
	Goods []goods.Goods `json:"goods"`
	Total *int          `json:"total,omitempty"`
}

type getGoodsBody struct {
	Code  *string   `json:"code"`
	MacID *string   `json:"mac_id"`
	GID   *string   `json:"gid"`
	GName *string   `json:"gname"`
	RFIDs *[]string `json:"rfids"`
}

func (sh *Shelf) getGoods(_ context.Context, _ *devices.Session, req *devmsg.Request) (any, error) {
	var b getGoodsBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	n := 0
	for _, set := range []bool{b.Code != nil, b.MacID != nil, b.GID != nil, b.GName != nil, b.RFIDs != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "getGoods takes exactly one of code, mac_id, gid, gname, rfids (got %d)", n)
	}
	var gs []json.RawMessage
	var err error
	// what names the key for a not_found message; it is built only then,
	// since a concatenation per lookup shows on the hot path.
	var what func() string
	switch {
	case b.Code != nil:
		what = func() string { return "barcode " + *b.Code }
		gs, err = sh.st.RawLookup(store.ByKeyBarcode, strings.TrimSpace(*b.Code))
	case b.MacID != nil:
		what = func() string { return "label " + *b.MacID }
		gs, err = sh.st.RawLookup(store.ByKeyMac, *b.MacID)
	case b.GID != nil:
		what = func() string { return "gid " + *b.GID }
		gs, err = sh.st.RawLookup(store.ByKeyGID, *b.GID)
	case b.GName != nil:
		q := strings.TrimSpace(*b.GName)
		if q == "" {
			return nil, devmsg.Errorf(devmsg.CodeBadRequest, "gname must not be empty")
		}
		what = func() string { return "name containing " + q }
		gs, err = sh.st.RawLookup(store.ByKeyName, q)
	case b.RFIDs != nil:
		if len(*b.RFIDs) == 0 || len(*b.RFIDs) > 1000 {
			return nil, devmsg.Errorf(devmsg.CodeBadRequest, "rfids must hold 1 to 1000 tags")
		}
		what = func() string { return fmt.Sprintf("%d RFID tags", len(*b.RFIDs)) }
		gs, err = sh.st.RawRFIDs(*b.RFIDs)
	}
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, devmsg.Errorf(devmsg.CodeNotFound, "no goods for %s", what())
	}
	return json.RawMessage(store.AppendGoodsArray(nil, gs, -1)), nil
}

// Paging limits (PROTOCOL.md §2).
const (
	DefaultLimit = 150
	MaxLimit     = 1000
)

type pageBody struct {
	WHID *string `json:"whid"`
	Ost  *int    `json:"ost"`
	Lmt  *int    `json:"lmt"`
}

func (b pageBody) bounds() (int, int, *devmsg.Error) {
	ost, lmt := 0, DefaultLimit
	if b.Ost != nil {
		ost = *b.Ost
	}
	if b.Lmt != nil {
		lmt = *b.Lmt
	}
	if ost < 0 {
		return 0, 0, devmsg.Errorf(devmsg.CodeBadRequest, "ost must not be negative")
	}
	if lmt < 1 || lmt > MaxLimit {
		return 0, 0, devmsg.Errorf(devmsg.CodeBadRequest, "lmt must be 1..%d", MaxLimit)
	}
	return ost, lmt, nil
}

func (sh *Shelf) getAllGoods(_ context.Context, _ *devices.Session, req *devmsg.Request) (any, error) {
	var b pageBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	ost, lmt, e := b.bounds()
	if e != nil {
		return nil, e
	}
	gs, total, err := sh.st.RawPage("", ost, lmt)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(store.AppendGoodsArray(nil, gs, total)), nil
}

func (sh *Shelf) getWarehouseGoods(_ context.Context, _ *devices.Session, req *devmsg.Request) (any, error) {
	var b pageBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	if b.WHID == nil || strings.TrimSpace(*b.WHID) == "" {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "whid is required")
	}
	ost, lmt, e := b.bounds()
	if e != nil {
		return nil, e
	}
	gs, total, err := sh.st.RawPage(*b.WHID, ost, lmt)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(store.AppendGoodsArray(nil, gs, total)), nil
}

type stockBody struct {
	WHID  string       `json:"whid"`
	Ref   string       `json:"ref"`
	Lines []store.Line `json:"lines"`
}

func (sh *Shelf) stockGoods(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	if k := sess.Kind(); k != devices.KindTerminal {
		return nil, devmsg.Errorf(devmsg.CodeForbidden, "only terminals receive stock (this session is a %s)", k)
	}
	var b stockBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	if strings.TrimSpace(b.WHID) == "" {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "whid is required")
	}
	id, err := sh.st.Receive(b.Ref, b.WHID, b.Lines, sess.EquipID())
	if err != nil {
		return nil, mapStoreError(err)
	}
	return map[string]string{"picking_id": id}, nil
}

type labelBody struct {
	MacID string `json:"mac_id"`
	GID   string `json:"gid"`
}

// bindLabel binds an e-label to a goods; the label, if connected, gets the
// goods pushed at once.
func (sh *Shelf) bindLabel(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	if k := sess.Kind(); k != devices.KindTerminal {
		return nil, devmsg.Errorf(devmsg.CodeForbidden, "only terminals bind labels (this session is a %s)", k)
	}
	var b labelBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	if strings.TrimSpace(b.MacID) == "" || strings.TrimSpace(b.GID) == "" {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "mac_id and gid are required")
	}
	// The store's goods-changed hook pushes the goods to the label.
	prev, err := sh.st.BindLabel(b.MacID, b.GID, sess.EquipID())
	if err != nil {
		return nil, mapStoreError(err)
	}
	return map[string]string{"mac_id": store.NormalizeMAC(b.MacID), "gid": b.GID, "previous": prev}, nil
}

func (sh *Shelf) unbindLabel(_ context.Context, sess *devices.Session, req *devmsg.Request) (any, error) {
	if k := sess.Kind(); k != devices.KindTerminal {
		return nil, devmsg.Errorf(devmsg.CodeForbidden, "only terminals unbind labels (this session is a %s)", k)
	}
	var b labelBody
	if e := req.DecodeBody(&b); e != nil {
		return nil, e
	}
	if strings.TrimSpace(b.MacID) == "" || strings.TrimSpace(b.GID) == "" {
		return nil, devmsg.Errorf(devmsg.CodeBadRequest, "mac_id and gid are required")
	}
	if err := sh.st.UnbindLabel(b.MacID, b.GID, sess.EquipID()); err != nil {
		return nil, mapStoreError(err)
	}
	sh.pushToMac(b.MacID)
	return map[string]string{"mac_id": store.NormalizeMAC(b.MacID), "gid": b.GID}, nil
}
