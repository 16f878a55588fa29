package qpay

import (
	"encoding/json"
	"errors"
	"testing"
)

// fuzzKeys are the keys of vector response_1, so the committed seed holding
// that vector's envelope opens and the fuzzer starts from a valid reply.
var fuzzKeys = Keys{ShopNo: "NA0249_001", HashID: "87282A2FA0E209EBE1B3713AB56A06C2"}

// FuzzOpen feeds the bank-reply path: envelope JSON → decrypt → verify →
// decode into each reply type. It must never panic, and anything it
// accepts must survive a Seal/Open round trip.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"Version":"1.0.0","ShopNo":"NA0249_001","APIService":"OrderCreate","Sign":"00","Nonce":"n","Message":"00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var env Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return
		}
		msg, err := fuzzKeys.Open(env)
		if err != nil {
			if !errors.Is(err, ErrBadSign) && !errors.Is(err, ErrBadMessage) {
				t.Fatalf("Open error is neither ErrBadSign nor ErrBadMessage: %v", err)
			}
			return
		}
		var c OrderCreateReply
		var q OrderQueryReply
		var p OrderPayQueryReply
		_ = json.Unmarshal(msg, &c)
		_ = json.Unmarshal(msg, &q)
		_ = json.Unmarshal(msg, &p)
		again, err := fuzzKeys.SealRaw(env.APIService, env.Nonce, msg)
		if err != nil {
			t.Fatalf("reseal: %v", err)
		}
		if _, err := fuzzKeys.Open(again); err != nil {
			t.Fatalf("reopen: %v", err)
		}
	})
}

// FuzzInner feeds a decrypted inner message to the Sign parser and reply
// decoders: no panics, and whatever Sign signs, Verify accepts.
func FuzzInner(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		s, err := Sign(msg, "nonce", fuzzKeys.HashID)
		if err != nil {
			return
		}
		if err := Verify(msg, s, "nonce", fuzzKeys.HashID); err != nil {
			t.Fatalf("Verify(Sign(m)) = %v for %q", err, msg)
		}
		var p OrderPayQueryReply
		if json.Unmarshal(msg, &p) == nil && p.TSResultContent != nil && p.TSResultContent.Amount < 0 {
			t.Fatalf("negative amount decoded from %q", msg)
		}
	})
}
