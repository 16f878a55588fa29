package printing

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/storebox/storebox/daemon/store"
)

// Buckets in the store file, beside the orders, so a job commits with the
// payment that caused it.
var (
	bktJobs = []byte("prn_jobs") // printer id → bucket: be64(seq) → Job JSON
	bktOIDs = []byte("prn_oids") // oid \0 printer id \0 be64(seq) → nil, for retention
)

// Job kinds.
const (
	KindReceipt = "receipt"
	KindCopy    = "copy"
	KindTest    = "test"
)

// Job is one print job: the bytes the printer gets, whole.
type Job struct {
	Seq     uint64    `json:"-"`
	Printer string    `json:"-"`
	OID     string    `json:"oid,omitempty"`
	Kind    string    `json:"kind"`
	At      time.Time `json:"at"`
	Data    []byte    `json:"data"`
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func oidKey(oid, printer string, seq uint64) []byte {
	k := make([]byte, 0, len(oid)+len(printer)+10)
	k = append(k, oid...)
	k = append(k, 0)
	k = append(k, printer...)
	k = append(k, 0)
	return append(k, be64(seq)...)
}

func initBuckets(st *store.Store) error {
	return st.Update(func(t *store.Tx) error {
		for _, b := range [][]byte{bktJobs, bktOIDs} {
			if _, err := t.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
}

// put appends j to its printer's queue in t.
func put(t *bbolt.Tx, j *Job) error {
	pb, err := t.Bucket(bktJobs).CreateBucketIfNotExists([]byte(j.Printer))
	if err != nil {
		return fmt.Errorf("print queue %s: %w", j.Printer, err)
	}
	seq, err := pb.NextSequence()
	if err != nil {
		return err
	}
	j.Seq = seq
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode print job: %w", err)
	}
	if err := pb.Put(be64(seq), v); err != nil {
		return fmt.Errorf("print job %s/%d: %w", j.Printer, seq, err)
	}
	if j.OID != "" {
		if err := t.Bucket(bktOIDs).Put(oidKey(j.OID, j.Printer, seq), nil); err != nil {
			return fmt.Errorf("print job index %s: %w", j.OID, err)
		}
	}
	return nil
}

// first returns the oldest job of printer, or nil.
func first(tx *bbolt.Tx, printer string) (*Job, error) {
	pb := tx.Bucket(bktJobs).Bucket([]byte(printer))
	if pb == nil {
		return nil, nil
	}
	k, v := pb.Cursor().First()
	if k == nil {
		return nil, nil
	}
	j := &Job{Printer: printer, Seq: binary.BigEndian.Uint64(k)}
	if err := json.Unmarshal(v, j); err != nil {
		return nil, fmt.Errorf("print job %s/%d: %w", printer, j.Seq, err)
	}
	return j, nil
}

// remove deletes a job (printed, or dropped with its order).
func remove(t *bbolt.Tx, printer string, seq uint64) error {
	pb := t.Bucket(bktJobs).Bucket([]byte(printer))
	if pb == nil {
		return nil
	}
	v := pb.Get(be64(seq))
	if v == nil {
		return nil
	}
	var j Job
	if err := json.Unmarshal(v, &j); err == nil && j.OID != "" {
		if err := t.Bucket(bktOIDs).Delete(oidKey(j.OID, printer, seq)); err != nil {
			return err
		}
	}
	return pb.Delete(be64(seq))
}

// count is how many jobs wait for printer.
func count(tx *bbolt.Tx, printer string) int {
	pb := tx.Bucket(bktJobs).Bucket([]byte(printer))
	if pb == nil {
		return 0
	}
	return pb.Stats().KeyN
}

// pruneOrder removes the jobs of order oid (the order retention's hook).
func pruneOrder(t *store.Tx, oid string) error {
	prefix := append([]byte(oid), 0)
	c := t.Bucket(bktOIDs).Cursor()
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		rest := k[len(prefix):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 || len(rest) != i+9 {
			continue
		}
		if err := remove(t.Tx, string(rest[:i]), binary.BigEndian.Uint64(rest[i+1:])); err != nil {
			return fmt.Errorf("prune print jobs of %s: %w", oid, err)
		}
		if err := t.Bucket(bktOIDs).Delete(k); err != nil {
			return err
		}
	}
	return nil
}
