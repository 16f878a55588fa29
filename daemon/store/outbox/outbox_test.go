package outbox

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/storebox/storebox/protocol/ledger"
)

func TestEncodeEventMatchesJSON(t *testing.T) {
	ev := ledger.Event{ID: "ev_00ff", Seq: 42, Type: "order.paid", At: time.Date(2026, 11, 27, 15, 4, 5, 123456789, time.UTC), Data: json.RawMessage(`{"oid":"o-1","lines":[{"gid":"g","qty":2}]}`)}
	var got, want ledger.Event
	if err := json.Unmarshal(encodeEvent(ev), &got); err != nil {
		t.Fatalf("%s: %v", encodeEvent(ev), err)
	}
	b, _ := json.Marshal(ev)
	json.Unmarshal(b, &want)
	if got.ID != want.ID || got.Seq != want.Seq || got.Type != want.Type || !got.At.Equal(want.At) || string(got.Data) != string(want.Data) {
		t.Fatalf("%+v != %+v", got, want)
	}
}
