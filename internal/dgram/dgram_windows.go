package dgram

import (
	"errors"

	"golang.org/x/sys/windows"
)

func tooLong(err error) bool { return errors.Is(err, windows.WSAEMSGSIZE) }
