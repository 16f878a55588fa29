package doors

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/protocol/doormsg"
)

// FuzzOnMessage feeds arbitrary door messages to the daemon's handler: it
// must never panic or block, whatever a door publishes.
func FuzzOnMessage(f *testing.F) {
	f.Add("storebox/s1/door/D1/event", []byte(`{"event":"scan","openId":"a"}`))
	f.Add("storebox/s1/door/D1/state", []byte(`{"state":"open","at":"2026-01-02T03:04:05Z"}`))
	f.Add("storebox/s1/door/D1/ack", []byte(`{"requestId":"r","ok":true}`))
	f.Add("storebox/s1/door/D9/ack", []byte(`{}`))
	s, err := New(Config{StoreID: "s1", Doors: []config.Door{{ID: "D1", Secret: "x", Policy: "entry"}}}, newFakeOrders(), newFakeSink(), nil)
	if err != nil {
		f.Fatal(err)
	}
	s.pending["r"] = &pending{door: "D1", ch: make(chan doormsg.Ack, 1)}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		s.onMessage(&mqtt.Client{}, packets.Subscription{}, packets.Packet{TopicName: topic, Payload: payload})
		d := s.door("D1")
		for len(d.scans) > 0 { // no worker runs here: keep the queue from filling
			<-d.scans
		}
		select {
		case <-s.pending["r"].ch:
		default:
		}
	})
}
