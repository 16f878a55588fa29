//go:build !windows

package servicectl

import (
	"io"
	"os"
)

func serviceLogWriter() io.Writer { return os.Stderr }
