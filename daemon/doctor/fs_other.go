//go:build !unix

package doctor

import (
	"errors"
	"os"
)

func freeBytes(string) (uint64, error) {
	return 0, errors.ErrUnsupported
}

func canReadWrite(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
