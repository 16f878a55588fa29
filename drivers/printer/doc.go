// Package printer talks ESC/POS to receipt printers: it encodes a receipt
// (text in the printer's code page, a QR code, the cut, the drawer kick),
// reads the printer's status bytes (DLE EOT 1, 2, 4), and reaches the
// printer over TCP (port 9100), a USB printer-class device or a file, a
// serial port, or on Windows a printer installed in the print spooler
// (spooler:NAME, RAW jobs through winspool.drv; our own binding, see
// spooler_windows.go). It knows no prices and no orders: daemon/printing decides
// what to print and when.
//
// The encoder is our own, about a hundred lines. The Go ESC/POS libraries
// we looked at do not fit: github.com/hennedo/escpos (the most used) needs
// cgo iconv for GBK, prints debug output from its QR code function, sends
// the QR size where the error-correction level belongs, and has no status
// parsing or drawer kick; github.com/kenshaw/escpos has been unmaintained
// since 2016 and writes to an io.Writer only. What a receipt needs is a
// handful of fixed commands (Epson's ESC/POS reference):
//
//	ESC @            initialise
//	FS & / FS .      Chinese (double-byte) character mode on / off
//	ESC t n          code table of single-byte pages (0 PC437, 2 PC850, 19 PC858, 17 PC866, 16 WPC1252, 40 ISO8859-15)
//	ESC a n          justification (QR code centred)
//	GS ( k           QR code: model 2, module size, error correction M, store, print
//	ESC d n          feed n lines (clear the cutter)
//	GS V 66 0        feed to the cutter and cut
//	ESC p 0 25 250   drawer kick, pin 2, 50 ms on, 500 ms off
//	DLE EOT n        real-time status (n = 1 printer, 2 offline cause, 4 paper)
//
// Text goes through golang.org/x/text's encoders; a character the code page
// lacks prints as '?'.
package printer
