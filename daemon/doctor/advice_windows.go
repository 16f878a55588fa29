package doctor

import (
	"fmt"
	"strings"
)

// Windows' advice: the service is controlled with `storebox service` (or
// services.msc), it logs to %ProgramData%\storebox\logs\storebox.log and the
// Event Log (source storebox), and runs as LocalSystem.
const (
	adviceStart       = "start it: `storebox service start` (or `storebox run`); %ProgramData%\\storebox\\logs\\storebox.log and the Event Log (Windows Logs > Application, source storebox) show why it stopped"
	adviceLogs        = "check %ProgramData%\\storebox\\logs\\storebox.log"
	adviceStopToProbe = "stop the daemon to probe (`storebox service stop`, then `storebox doctor`), or see `storebox status`"
	adviceFreeSpace   = "free space now: orders and the offline queue need room (delete old files, or run Disk Cleanup)"
	adviceScalePort   = "plug the scale in and check its COM port in Device Manager (Ports (COM & LPT))"
	adviceDialout     = "close the program that holds the COM port (only one program can open it), or run storebox as Administrator"
	adviceClock       = "`w32tm /query /status`"
	adviceNTP         = "turn on automatic time (Settings > Time & language; `w32tm /resync`)"
	adviceDataDirUser = "the service (LocalSystem) and Administrators"
)

func adviceWritable(dir string) string {
	return "run storebox as Administrator (the service runs as LocalSystem), or set data_dir elsewhere than " + dir
}

func advicePortHolder(network, port string) string {
	return fmt.Sprintf("`netstat -ano -p %s | findstr :%s`, then `tasklist /fi \"PID eq <pid>\"`", strings.ToUpper(network), port)
}
