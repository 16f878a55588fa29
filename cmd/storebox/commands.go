package main

import "github.com/spf13/cobra"

// subcommands lists every top-level command; each lives in its own cmd_*.go.
func subcommands(g *globals) []*cobra.Command {
	return []*cobra.Command{
		versionCommand(),
		runCommand(g),
		configCommand(),
		catalogCommand(g),
		devicesCommand(g),
		clientCommand(g),
		discoverCommand(g),
		qpayCommand(g),
		serviceCommand(g),
		doorCommand(g),
		printCommand(g),
		scaleCommand(g),
		simCommand(g),
		syncCommand(g),
		reloadCommand(g),
		dataCommand(g),
		backupCommand(g),
		restoreCommand(g),
		statusCommand(g),
		doctorCommand(g),
		loginLinkCommand(g),
		manCommand(),
	}
}
