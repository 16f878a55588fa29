//go:build !windows

package servicectl

import "context"

// stopBeforeRemove: launchd's unload stops the job itself.
func stopBeforeRemove(context.Context) error { return nil }
