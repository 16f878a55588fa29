package printersim

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ControlHelp lists the commands Control reads.
const ControlHelp = "paper out | paper in | cover open | cover closed | silent | answer | cut N (break the link after N bytes) | status"

// Control reads one command per line from r and applies it to s, saying
// what it did on w, until r ends.
func Control(r io.Reader, w io.Writer, s *Sim) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := s.Apply(line); err != nil {
			fmt.Fprintf(w, "%v (commands: %s)\n", err, ControlHelp)
			continue
		}
		st := s.Status()
		fmt.Fprintf(w, "printer: %s\n", st.State())
	}
}

// Apply runs one control command.
func (s *Sim) Apply(cmd string) error {
	f := strings.Fields(strings.ToLower(cmd))
	switch strings.Join(f, " ") {
	case "paper out":
		s.SetPaper(false)
		return nil
	case "paper in":
		s.SetPaper(true)
		return nil
	case "cover open":
		s.SetCoverOpen(true)
		return nil
	case "cover closed", "cover close":
		s.SetCoverOpen(false)
		return nil
	case "silent":
		s.SetSilent(true)
		return nil
	case "answer":
		s.SetSilent(false)
		return nil
	case "status":
		return nil
	}
	if len(f) == 2 && f[0] == "cut" {
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 {
			return fmt.Errorf("cut N: N is a number of bytes")
		}
		s.CutAfter(n)
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}
