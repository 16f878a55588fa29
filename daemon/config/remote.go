package config

import "github.com/storebox/storebox/protocol/fleetmsg"

// RemoteSource names a remote document in error messages.
const RemoteSource = "remote configuration"

// WithRemote returns a copy of c with the sections a remote document sets
// replacing the same sections of c (UPSTREAM.md §7), validated as a whole. c is
// not changed. Errors name the document's keys ("doors[1].policy"), not
// lines of the local file.
func (c *Config) WithRemote(doc fleetmsg.Document) (*Config, error) {
	out := *c
	if doc.Doors != nil {
		out.Doors = make([]Door, len(*doc.Doors))
		for i, d := range *doc.Doors {
			out.Doors[i] = Door{ID: d.ID, Secret: d.Secret, Policy: d.Policy, Terminal: d.Terminal, Staff: append([]string(nil), d.Staff...), OpenMS: d.OpenMS}
		}
	}
	if dv := doc.Devices; dv != nil {
		if dv.Admission != nil {
			out.Devices.Admission = *dv.Admission
		}
		if dv.Approve != nil {
			out.Devices.Approve = append([]string{}, *dv.Approve...)
		}
		if dv.Reject != nil {
			out.Devices.Reject = append([]string{}, *dv.Reject...)
		}
	}
	if doc.Orders != nil && doc.Orders.PaymentTTL != nil {
		out.Orders.PaymentTTL = Duration{doc.Orders.PaymentTTL.Duration}
	}
	// Validate with the document's name and no file lines: an error in a
	// remote section must not point at a line of the local file.
	out.Path, out.lines = RemoteSource, nil
	if err := out.Validate(); err != nil {
		return nil, err
	}
	out.Path, out.lines = c.Path, c.lines
	return &out, nil
}
