//go:build windows

package main

import (
	"io"

	"github.com/storebox/storebox/drivers/printer/printersim"
)

// togglePaperOnSignal: Windows has no SIGUSR1; use "paper out" on stdin.
func togglePaperOnSignal(*printersim.Sim, io.Writer) {}
