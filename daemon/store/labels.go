package store

import (
	"fmt"

	"github.com/storebox/storebox/protocol/ledger"
)

// BindLabel binds an e-label to a goods. A label shows one goods, so a MAC
// bound elsewhere is moved. Returns the gid it was bound to before ("" if
// none).
func (s *Store) BindLabel(mac, gid, equipID string) (previous string, err error) {
	mac = NormalizeMAC(mac)
	if mac == "" || gid == "" {
		return "", fmt.Errorf("%w: mac_id and gid are required", ErrInvalid)
	}
	err = s.Update(func(t *Tx) error {
		previous = ""
		r, ok, err := getRecord(t.Tx, gid)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: goods %q", ErrNotFound, gid)
		}
		for _, old := range lookupIndex(t.Tx, bktMac, mac, MaxLookup) {
			if old == gid {
				continue
			}
			previous = old
			if err := t.removeMac(old, mac); err != nil {
				return err
			}
		}
		for _, m := range r.MacIDs {
			if NormalizeMAC(m) == mac {
				return nil // already bound: nothing to record
			}
		}
		r.MacIDs = append(append([]string(nil), r.MacIDs...), mac)
		// putRecord marks the goods changed, which pushes it to the label.
		if _, err := t.putRecord(r); err != nil {
			return err
		}
		_, err = t.AppendEvent(ledger.LabelBound, map[string]string{"mac_id": mac, "gid": gid, "previous": previous, "equipId": equipID})
		return err
	})
	return previous, err
}

// UnbindLabel removes a label's binding to gid.
func (s *Store) UnbindLabel(mac, gid, equipID string) error {
	mac = NormalizeMAC(mac)
	return s.Update(func(t *Tx) error {
		bound := false
		for _, g := range lookupIndex(t.Tx, bktMac, mac, MaxLookup) {
			if g == gid {
				bound = true
			}
		}
		if !bound {
			return fmt.Errorf("%w: label %s is not bound to goods %q", ErrNotFound, mac, gid)
		}
		if err := t.removeMac(gid, mac); err != nil {
			return err
		}
		_, err := t.AppendEvent(ledger.LabelUnbound, map[string]string{"mac_id": mac, "gid": gid, "equipId": equipID})
		return err
	})
}

func (t *Tx) removeMac(gid, mac string) error {
	r, ok, err := getRecord(t.Tx, gid)
	if err != nil || !ok {
		return err
	}
	var keep []string
	for _, m := range r.MacIDs {
		if NormalizeMAC(m) != mac {
			keep = append(keep, m)
		}
	}
	r.MacIDs = keep
	_, err = t.putRecord(r)
	return err
}
