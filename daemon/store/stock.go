package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

// Sentinel errors; callers map them to protocol codes.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrOutOfStock = errors.New("out of stock")
	ErrInvalid    = errors.New("invalid")
)

// Line is a goods and a quantity (pieces, or grams for kg goods).
type Line struct {
	GID string `json:"gid"`
	Qty int64  `json:"qty"`
}

// Receipt is a stock receipt, kept so a repeated ref is answered the same.
type Receipt struct {
	Ref       string    `json:"ref"`
	PickingID string    `json:"picking_id"`
	Warehouse string    `json:"whid"`
	Lines     []Line    `json:"lines"`
	EquipID   string    `json:"equipId,omitempty"`
	At        time.Time `json:"at"`
}

// MaxReceiptQty bounds one receipt line (pieces or grams).
const MaxReceiptQty = 1_000_000_000

// Receive books a stock receipt. The same ref with the same content returns
// the first picking id; the same ref with other content is ErrConflict.
func (s *Store) Receive(ref, wh string, lines []Line, equipID string) (pickingID string, err error) {
	if ref == "" {
		return "", fmt.Errorf("%w: ref is required (it makes a repeated receipt safe)", ErrInvalid)
	}
	if wh == "" {
		wh = s.warehouse
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("%w: lines must not be empty", ErrInvalid)
	}
	for i, l := range lines {
		if l.GID == "" || l.Qty <= 0 || l.Qty > MaxReceiptQty {
			return "", fmt.Errorf("%w: lines[%d]: gid required and qty 1..%d", ErrInvalid, i, MaxReceiptQty)
		}
	}
	err = s.Batch(func(t *Tx) error {
		rb := t.Bucket(bktReceipts)
		if v := rb.Get([]byte(ref)); v != nil {
			var r Receipt
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.Warehouse != wh || !sameLines(r.Lines, lines) {
				return fmt.Errorf("%w: ref %q was already used for a different receipt (%s)", ErrConflict, ref, r.PickingID)
			}
			pickingID = r.PickingID
			return nil
		}
		for i, l := range lines {
			if _, ok, err := getRecord(t.Tx, l.GID); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%w: lines[%d]: goods %q", ErrNotFound, i, l.GID)
			}
		}
		for _, l := range lines {
			lvl := GetStock(t.Tx, wh, l.GID)
			lvl.OnHand += l.Qty
			if err := t.PutStock(wh, l.GID, lvl); err != nil {
				return err
			}
		}
		n := nextSeq(t.Bucket(bktMeta), keyPickingSeq)
		pickingID = fmt.Sprintf("PK-%06d", n)
		r := Receipt{Ref: ref, PickingID: pickingID, Warehouse: wh, Lines: lines, EquipID: equipID, At: time.Now().UTC()}
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := rb.Put([]byte(ref), v); err != nil {
			return err
		}
		_, err = t.AppendEvent(ledger.StockReceived, r)
		return err
	})
	return pickingID, err
}

func sameLines(a, b []Line) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
