package main

import (
	"slices"
	"testing"

	"github.com/storebox/storebox/cmd/storebox/internal/runrecord"
	"github.com/storebox/storebox/daemon/backup"
)

// The run record travels in a backup under the name the CLI reads.
func TestBackupCarriesTheRunRecord(t *testing.T) {
	if runrecord.File != backup.RunRecordFile || !slices.Contains(backup.StateFiles, runrecord.File) {
		t.Fatalf("run record %q, backup carries %q", runrecord.File, backup.StateFiles)
	}
}
