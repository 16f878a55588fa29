package servicectl

import (
	"errors"

	"github.com/storebox/storebox/daemon/config"
)

// ExitConfig (EX_CONFIG from sysexits.h) is the exit status for a config
// error. The unit's RestartPreventExitStatus=78 keeps systemd from
// restarting a daemon whose config will not load until someone edits it.
const ExitConfig = 78

// ExitCode maps the error that ends `storebox` to its exit status:
// 0 for nil, ExitConfig for a configuration error, 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var es config.Errors
	var e *config.Error
	if errors.As(err, &es) || errors.As(err, &e) {
		return ExitConfig
	}
	return 1
}
