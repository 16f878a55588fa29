// Package simscale drives a simulated scale from typed commands, the
// control language of `storebox sim scale`.
package simscale

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/storebox/storebox/drivers/scale/scalesim"
)

// Control applies commands typed on stdin; EOF leaves the scale as it is.
func Control(in io.Reader, errw io.Writer, sim *scalesim.Sim) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if g, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			sim.SetWeight(g)
			continue
		}
		var err error
		switch f[0] {
		case "motion":
			sim.SetMotion(true)
		case "stable":
			sim.SetMotion(false)
		case "overload":
			sim.SetOverload(true)
		case "underload":
			sim.SetUnderload(true)
		case "normal":
			sim.SetOverload(false)
			sim.SetUnderload(false)
			sim.SetMotion(false)
		case "net":
			sim.SetNet(true)
		case "gross":
			sim.SetNet(false)
		case "silent":
			sim.SetSilent(true)
		case "answer":
			sim.SetSilent(false)
		case "badbcc":
			sim.SetBadBCC(true)
		case "goodbcc":
			sim.SetBadBCC(false)
		case "garbage":
			sim.InjectGarbage([]byte(strings.TrimPrefix(sc.Text(), "garbage ")))
		case "split":
			n := 3
			if len(f) > 1 {
				n, _ = strconv.Atoi(f[1])
			}
			sim.SetSplit(n, 5*time.Millisecond)
		case "unplug":
			err = sim.Unplug()
		case "plug":
			err = sim.Plug()
		default:
			err = fmt.Errorf("unknown command %q", f[0])
		}
		if err != nil {
			fmt.Fprintln(errw, "sim:", err)
		}
	}
}
