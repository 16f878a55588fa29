package servicectl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/storebox/storebox/daemon/config"
)

func TestExitCode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(p, []byte("[devices]\nlisten = \"nope\"\nbogus = 1\n"), 0o644)
	_, cfgErr := config.Load(p)
	if cfgErr == nil {
		t.Fatal("bad config loaded")
	}
	_, readErr := config.Load(filepath.Join(t.TempDir(), "absent.toml"))
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{cfgErr, ExitConfig},
		{fmt.Errorf("load: %w", cfgErr), ExitConfig},
		{errors.New("bind :8686: address already in use"), 1},
		{readErr, ExitConfig}, // a wrong --config path is fixed by a person, not by restarting
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
