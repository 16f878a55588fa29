package fleetmsg

// RemoteSections are the sections a document may set, in the file's order.
// Each one a document sets replaces the same section of the store's file
// as a whole; each one it leaves out is the file's.
var RemoteSections = []string{"doors", "devices.admission", "devices.approve", "devices.reject", "orders.payment_ttl"}

// Sections names the sections doc replaces, in RemoteSections' order.
func Sections(doc Document) []string {
	var out []string
	if doc.Doors != nil {
		out = append(out, "doors")
	}
	if dv := doc.Devices; dv != nil {
		if dv.Admission != nil {
			out = append(out, "devices.admission")
		}
		if dv.Approve != nil {
			out = append(out, "devices.approve")
		}
		if dv.Reject != nil {
			out = append(out, "devices.reject")
		}
	}
	if doc.Orders != nil && doc.Orders.PaymentTTL != nil {
		out = append(out, "orders.payment_ttl")
	}
	return out
}

// LeftOut names the sections doc does not set: the store's file's apply.
func LeftOut(doc Document) []string {
	set := Sections(doc)
	var out []string
	for _, s := range RemoteSections {
		if !contains(set, s) {
			out = append(out, s)
		}
	}
	return out
}

// DoorIDs lists the ids of doc's doors (nil when doc sets no doors).
func DoorIDs(doc Document) []string {
	if doc.Doors == nil {
		return nil
	}
	ids := make([]string, 0, len(*doc.Doors))
	for _, d := range *doc.Doors {
		ids = append(ids, d.ID)
	}
	return ids
}

// Removed lists the names in before that after lacks, in before's order.
func Removed(before, after []string) []string {
	var out []string
	for _, s := range before {
		if !contains(after, s) {
			out = append(out, s)
		}
	}
	return out
}
