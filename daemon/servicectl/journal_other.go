//go:build !linux

package servicectl

func stderrIsJournal() bool { return false }
