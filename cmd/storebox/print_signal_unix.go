//go:build !windows

package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/storebox/storebox/drivers/printer/printersim"
)

// togglePaperOnSignal runs the simulator out of paper, or loads it, on
// each SIGUSR1.
func togglePaperOnSignal(sim *printersim.Sim, w io.Writer) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		for range ch {
			paper := sim.Status().PaperEnd // toggled: out → in, in → out
			sim.SetPaper(paper)
			fmt.Fprintf(w, "printer: %s\n", sim.Status().State())
		}
	}()
}
