package servicectl

import (
	"fmt"
	"os"
	"syscall"
)

// stderrIsJournal applies systemd's documented test: JOURNAL_STREAM holds
// "device:inode" of the journal stream stderr was connected to.
func stderrIsJournal() bool {
	return isJournalStream(os.Getenv("JOURNAL_STREAM"), os.Stderr)
}

func isJournalStream(env string, f *os.File) bool {
	if env == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return env == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
