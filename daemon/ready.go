package daemon

import (
	"os"

	"github.com/storebox/storebox/daemon/readyfile"
)

// readyFile is what <data_dir>/ready.json records once every listener is
// up: the addresses they are bound to (a port-0 listener's real port).
func (d *Daemon) readyFile() readyfile.File {
	f := readyfile.File{PID: os.Getpid(), Devices: d.devices.Addr().String()}
	if d.http != nil {
		f.HTTP = d.http.Addr().String()
	}
	if d.doors != nil {
		f.MQTT, f.MQTTTLS = d.doors.Addr(), d.doors.TLSAddr()
	}
	if d.disc != nil {
		for _, a := range d.disc.Addrs() {
			f.Discovery = append(f.Discovery, a.String())
		}
	}
	return f
}
