// Package dgram says what a UDP read error means across platforms: Linux
// truncates a datagram larger than the buffer, Windows fails the read with
// WSAEMSGSIZE (10040) instead. A reader treats that datagram as one to
// ignore, never as a reason to stop.
package dgram

// TooLong reports whether err is a read of a datagram larger than the
// buffer (the datagram is dropped; the socket is fine).
func TooLong(err error) bool { return err != nil && tooLong(err) }
