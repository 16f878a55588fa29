//go:build !windows

package servicectl

import "errors"

func isWindowsService() bool { return false }

func runService(*program) error { return errors.New("not a Windows service") }

// UnderServiceManager is Windows'.
func UnderServiceManager() bool { return false }

// ParentImage is Windows'.
func ParentImage() string { return "" }
