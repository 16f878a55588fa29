// Package winespool installs, for a test under Wine, a printer in Wine's
// spooler whose RAW jobs are appended to a file, and sets the attributes
// the spooler reports for it (Wine keeps no printer Status). Wine keeps its printers in the registry and sends
// a finished job to the Unix command its port is mapped to
// (HKCU\Software\Wine\Printing\Spooler); Windows itself does neither, so
// on Windows the tests that need it skip. make test-windows sets
// STOREBOX_UNDER_WINE.
package winespool
