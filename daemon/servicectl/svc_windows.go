package servicectl

import (
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

var isService = sync.OnceValue(func() bool {
	if ok, err := svc.IsWindowsService(); err == nil && ok {
		return true
	}
	// Wine's services.exe runs services in session 1, where
	// svc.IsWindowsService (parent services.exe and session 0) says no; the
	// service then never reaches the dispatcher and is killed. A parent
	// named services.exe is the service manager's child all the same.
	return parentImage() == "services.exe"
})

// isWindowsService reports whether the service manager started us.
func isWindowsService() bool { return isService() }

// UnderServiceManager reports whether the Windows service manager started
// this process (for the start log line).
func UnderServiceManager() bool { return isService() }

// ParentImage is the parent process's executable name (for the log).
func ParentImage() string { return parentImage() }

// parentImage is the parent process's executable name, lower case.
func parentImage() string {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(snap)
	me := windows.GetCurrentProcessId()
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	var parent uint32
	names := map[uint32]string{}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		names[e.ProcessID] = windows.UTF16ToString(e.ExeFile[:])
		if e.ProcessID == me {
			parent = e.ParentProcessID
		}
	}
	return strings.ToLower(filepath.Base(names[parent]))
}

// runService hosts p under the service manager: Running once started, a
// stop or shutdown request cancels runFn and waits for it.
func runService(p *program) error {
	return svc.Run(Name, handler{p})
}

type handler struct{ p *program }

func (h handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	if err := h.p.Start(nil); err != nil {
		return true, 1
	}
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for r := range req {
		switch r.Cmd {
		case svc.Interrogate:
			status <- r.CurrentStatus
		case svc.Stop, svc.Shutdown:
			status <- svc.Status{State: svc.StopPending}
			if err := h.p.Stop(nil); err != nil {
				ReportFatal(err)
				return true, 1
			}
			return false, 0
		}
	}
	return false, 0
}
