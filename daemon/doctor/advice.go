//go:build !windows

package doctor

import "fmt"

// The advice doctor gives names this platform's tools; advice_windows.go
// has Windows' (no systemctl, journalctl, ss or chown there).
const (
	adviceStart       = "start it: `systemctl start storebox` (or `storebox run`); `journalctl -u storebox` shows why it stopped"
	adviceLogs        = "check `journalctl -u storebox`"
	adviceStopToProbe = "stop the daemon to probe (`systemctl stop storebox; storebox doctor`), or see `storebox status`"
	adviceFreeSpace   = "free space now: orders and the offline queue need room (delete old files, `journalctl --vacuum-size=100M`)"
	adviceScalePort   = "plug the scale in and check `ls -l /dev/serial/by-id/`"
	adviceDialout     = "add the storebox user to the port's group: `usermod -aG dialout storebox` (then restart the service), or a udev rule giving it rw"
	adviceClock       = "`timedatectl`"
	adviceNTP         = "turn on NTP (`timedatectl set-ntp true`)"
	adviceDataDirUser = "the storebox user"
)

// adviceWritable is how to make dir writable for the service.
func adviceWritable(dir string) string {
	return "make it writable by the storebox user (`chown -R storebox: " + dir + "`) or set data_dir elsewhere"
}

// advicePortHolder is how to see who holds port (network "tcp" or "udp").
func advicePortHolder(network, port string) string {
	flag := "-ltnp"
	if network == "udp" {
		flag = "-lunp"
	}
	return fmt.Sprintf("`ss %s 'sport = :%s'`", flag, port)
}
