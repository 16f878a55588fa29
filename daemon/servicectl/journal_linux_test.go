package servicectl

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/term"
)

func TestJournalStreamMatch(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if !isJournalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino), f) {
		t.Error("matching JOURNAL_STREAM not recognised")
	}
	if isJournalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), f) {
		t.Error("other inode recognised as the journal")
	}
	if isJournalStream("", f) {
		t.Error("empty JOURNAL_STREAM recognised")
	}
}

func TestInteractiveUnderSystemd(t *testing.T) {
	t.Setenv("INVOCATION_ID", "")
	t.Setenv("JOURNAL_STREAM", "")
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if Interactive() {
		t.Error("Interactive with stderr on the journal stream")
	}
	t.Setenv("JOURNAL_STREAM", "")
	if term.IsTerminal(int(os.Stderr.Fd())) {
		t.Skip("stderr is a terminal here")
	}
	t.Setenv("INVOCATION_ID", "0123456789abcdef")
	if Interactive() {
		t.Error("Interactive with INVOCATION_ID and no terminal")
	}
	t.Setenv("INVOCATION_ID", "")
	if !Interactive() {
		t.Error("not Interactive by hand")
	}
}
