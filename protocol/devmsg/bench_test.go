package devmsg

import (
	"encoding/json"
	"testing"
)

// BenchmarkDecodeGetGoods is the per-request decoding of the hottest
// action: the envelope, then the body into the handler's struct.
func BenchmarkDecodeGetGoods(b *testing.B) {
	msg := []byte(`{"head":{"action":"getGoods","seq":1},"body":{"code":"6921168509256"}}`)
	var body struct {
		Code  *string   `json:"code"`
		MacID *string   `json:"mac_id"`
		GID   *string   `json:"gid"`
		GName *string   `json:"gname"`
		RFIDs *[]string `json:"rfids"`
	}
	b.ReportAllocs()
	for b.Loop() {
		req, e := Decode(msg)
		if e != nil {
			b.Fatal(e)
		}
		body.Code = nil
		if e := req.DecodeBody(&body); e != nil || body.Code == nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkEncodeReply is the reply around an already encoded body.
func BenchmarkEncodeReply(b *testing.B) {
	seq := int64(1)
	body := []byte(`{"goods":[{"gid":"10001","gname":"x","price":199}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeReply(Head{Action: "getGoods", UniqueID: "abcdef", Seq: &seq}, json.RawMessage(body), nil); err != nil {
			b.Fatal(err)
		}
	}
}
