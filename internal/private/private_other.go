//go:build !windows

package private

// Restrict does nothing here: the file modes already keep path private.
func Restrict(string) error { return nil }

// Check has nothing to check here (doctor checks the modes).
func Check(string) error { return nil }
