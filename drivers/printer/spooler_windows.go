//go:build windows

package printer

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows print spooler, through winspool.drv. Our own binding of the
// nine calls a RAW job and the status need: github.com/alexbrainman/printer
// has no tagged release and is not served by the Go module proxy, and it
// lacks what we need most (GetPrinter's status, AbortPrinter, partial
// writes); golang.org/x/sys/windows does not wrap winspool.
var (
	winspool             = windows.NewLazySystemDLL("winspool.drv")
	procOpenPrinterW     = winspool.NewProc("OpenPrinterW")
	procClosePrinter     = winspool.NewProc("ClosePrinter")
	procStartDocPrinterW = winspool.NewProc("StartDocPrinterW")
	procStartPagePrinter = winspool.NewProc("StartPagePrinter")
	procWritePrinter     = winspool.NewProc("WritePrinter")
	procEndPagePrinter   = winspool.NewProc("EndPagePrinter")
	procEndDocPrinter    = winspool.NewProc("EndDocPrinter")
	procAbortPrinter     = winspool.NewProc("AbortPrinter")
	procGetPrinterW      = winspool.NewProc("GetPrinterW")
	procEnumPrintersW    = winspool.NewProc("EnumPrintersW")
)

// docInfo1 is DOC_INFO_1.
type docInfo1 struct {
	docName    *uint16
	outputFile *uint16
	datatype   *uint16
}

// printerInfo2 is PRINTER_INFO_2.
type printerInfo2 struct {
	serverName, printerName, shareName, portName, driverName *uint16
	comment, location                                        *uint16
	devMode                                                  uintptr
	sepFile, printProcessor, datatype, parameters            *uint16
	securityDescriptor                                       uintptr
	attributes, priority, defaultPriority                    uint32
	startTime, untilTime, status, jobs, averagePPM           uint32
}

// printerInfo4 is PRINTER_INFO_4.
type printerInfo4 struct {
	printerName, serverName *uint16
	attributes              uint32
}

const (
	enumLocal       = 0x2
	enumConnections = 0x4

	errInvalidPrinterName = windows.Errno(1801) // ERROR_INVALID_PRINTER_NAME
	errInvalidDatatype    = windows.Errno(1804) // ERROR_INVALID_DATATYPE
)

// spoolerLink is a printer installed in the Windows spooler. Each Write is
// one RAW document: the spooler owns the job once EndDocPrinter returns
// (it keeps it on disk and prints it through the printer's port), so a
// successful Write is the acknowledgement. There is no DLE EOT on this
// path: the status is the spooler's view of the printer (GetPrinter level 2).
type spoolerLink struct {
	name string
	h    windows.Handle
}

func openSpooler(name string) (Link, error) {
	if name == "" {
		return nil, errors.New("connect spooler:: name the Windows printer (spooler:NAME)")
	}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("connect spooler:%s: %w", name, err)
	}
	var h windows.Handle
	// pDefault nil: PRINTER_ACCESS_USE, all a job and GetPrinter need.
	if r, _, e := procOpenPrinterW.Call(uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&h)), 0); r == 0 {
		if errors.Is(e, errInvalidPrinterName) {
			return nil, fmt.Errorf("connect spooler:%s: no printer of that name in the Windows spooler (%s)", name, installedPrinters())
		}
		return nil, fmt.Errorf("connect spooler:%s: OpenPrinter: %w", name, e)
	}
	return &spoolerLink{name: name, h: h}, nil
}

// installedPrinters names the spooler's printers, for the error that
// says the configured name is not one of them.
func installedPrinters() string {
	flags := uintptr(enumLocal | enumConnections)
	var needed, n uint32
	procEnumPrintersW.Call(flags, 0, 4, 0, 0, uintptr(unsafe.Pointer(&needed)), uintptr(unsafe.Pointer(&n)))
	if needed == 0 {
		return "no printers are installed"
	}
	buf := make([]byte, needed)
	if r, _, e := procEnumPrintersW.Call(flags, 0, 4, uintptr(unsafe.Pointer(&buf[0])), uintptr(needed),
		uintptr(unsafe.Pointer(&needed)), uintptr(unsafe.Pointer(&n))); r == 0 {
		return fmt.Sprintf("listing the installed printers failed: %v", e)
	}
	infos := unsafe.Slice((*printerInfo4)(unsafe.Pointer(&buf[0])), n)
	names := make([]string, 0, n)
	for _, pi := range infos {
		names = append(names, fmt.Sprintf("%q", windows.UTF16PtrToString(pi.printerName)))
	}
	if len(names) == 0 {
		return "no printers are installed"
	}
	return "installed: " + strings.Join(names, ", ")
}

// Write sends p as one RAW document.
func (l *spoolerLink) Write(p []byte) (int, error) {
	doc := docInfo1{
		docName:  windows.StringToUTF16Ptr("storebox receipt"),
		datatype: windows.StringToUTF16Ptr("RAW"),
	}
	if r, _, e := procStartDocPrinterW.Call(uintptr(l.h), 1, uintptr(unsafe.Pointer(&doc))); r == 0 {
		if errors.Is(e, errInvalidDatatype) {
			return 0, fmt.Errorf("spooler:%s: the printer's driver takes no RAW data; install it with a v3 driver such as \"Generic / Text Only\" or the vendor's: %w", l.name, e)
		}
		return 0, fmt.Errorf("spooler:%s: StartDocPrinter: %w", l.name, e)
	}
	n, err := l.writeDoc(p)
	if err != nil {
		procAbortPrinter.Call(uintptr(l.h)) // a cut-off job is not printed in part
		return n, err
	}
	return n, nil
}

func (l *spoolerLink) writeDoc(p []byte) (int, error) {
	if r, _, e := procStartPagePrinter.Call(uintptr(l.h)); r == 0 {
		return 0, fmt.Errorf("spooler:%s: StartPagePrinter: %w", l.name, e)
	}
	n := 0
	for n < len(p) {
		var written uint32
		chunk := min(len(p)-n, 1<<20)
		r, _, e := procWritePrinter.Call(uintptr(l.h), uintptr(unsafe.Pointer(&p[n])), uintptr(chunk), uintptr(unsafe.Pointer(&written)))
		if r == 0 {
			return n, fmt.Errorf("spooler:%s: WritePrinter: %w", l.name, e)
		}
		if written == 0 {
			return n, fmt.Errorf("spooler:%s: WritePrinter took no bytes", l.name)
		}
		n += int(written)
	}
	if r, _, e := procEndPagePrinter.Call(uintptr(l.h)); r == 0 {
		return n, fmt.Errorf("spooler:%s: EndPagePrinter: %w", l.name, e)
	}
	if r, _, e := procEndDocPrinter.Call(uintptr(l.h)); r == 0 {
		return n, fmt.Errorf("spooler:%s: EndDocPrinter: %w", l.name, e)
	}
	return n, nil
}

// Query: a RAW job's bytes go one way through the spooler.
func (l *spoolerLink) Query(byte) (byte, error) { return 0, ErrNoStatus }

// status is the spooler's view of the printer. ErrNoStatus when the
// spooler will not say (the printer's state is then unknown, not a fault).
func (l *spoolerLink) status() (Status, error) {
	var needed uint32
	procGetPrinterW.Call(uintptr(l.h), 2, 0, 0, uintptr(unsafe.Pointer(&needed)))
	if needed < uint32(unsafe.Sizeof(printerInfo2{})) {
		return Status{}, ErrNoStatus
	}
	buf := make([]byte, needed)
	if r, _, _ := procGetPrinterW.Call(uintptr(l.h), 2, uintptr(unsafe.Pointer(&buf[0])), uintptr(needed), uintptr(unsafe.Pointer(&needed))); r == 0 {
		return Status{}, ErrNoStatus
	}
	pi := (*printerInfo2)(unsafe.Pointer(&buf[0]))
	return spoolerStatus(pi.status, pi.attributes, pi.jobs), nil
}

func (l *spoolerLink) Close() error {
	if r, _, e := procClosePrinter.Call(uintptr(l.h)); r == 0 {
		return fmt.Errorf("spooler:%s: ClosePrinter: %w", l.name, e)
	}
	return nil
}
