package orders

// Pusher sends a push to a device's current session (the device server).
type Pusher interface {
	Push(equipID, action string, body any) bool
}
