// Package doors runs the embedded MQTT broker that store doors connect to
// (PROTOCOL.md §4) and decides, opens and records door openings.
//
// Decisions PROTOCOL.md §4 leaves open, fixed here:
//
//   - "Retry up to 3 times" means at most 3 sends of the open cmd in total
//     (Config.Sends, default 3): one send, then up to two resends, each
//     followed by a 2 s wait for the ack (Config.AckTimeout). Every send of
//     one opening carries the same requestId, so a door can drop duplicates
//     and a late ack for an earlier send still counts.
//   - A negative ack ({"ok":false}) is an answer: it is not retried and is
//     recorded as door.open_failed with the door's error.
//   - cmd is published with QoS 0 and never retained: a door that was offline
//     must not open later on a queued command. The ack is the delivery check.
//   - A door's MQTT client id is free: the broker names every connection's
//     session "<door id>#<n>" itself, so no client id can take over another
//     door's session. Sessions end with their connection (no persistent
//     sessions: cmds are QoS 0 and a door resubscribes on connect).
//   - A will message is allowed only on a topic the door may publish to.
//   - Subscriptions must name the door's cmd topic exactly (no wildcards).
//   - A client must send CONNECT within Config.ConnectTimeout (10 s) of
//     connecting, or it is dropped.
//   - If the order lookup fails, the scan is denied (reason "lookup_failed"):
//     a door never opens on a decision that could not be made.
//   - A scan with the openId of the door's own staff list is admitted by a
//     staff door only; entry and exit doors do not look at the staff list.
//   - LastAdmitted forgets a scan after Config.AdmittedTTL (10 min), so a
//     terminal never charges a purchase to someone who left long ago.
//   - Open refuses at once with ErrDoorOffline when the door has no live
//     connection (recorded as door.open_failed, reason kept, error "offline").
//   - Doors reload without a restart (Service.Reload; `storebox run` calls
//     it on SIGHUP, which `systemctl reload storebox` sends). An unchanged
//     door keeps its connection and state. A changed door (any of its keys)
//     is disconnected and reconnects under the new settings, and a removed
//     door is disconnected and refused. A configuration that does not load
//     or check changes nothing.
package doors
