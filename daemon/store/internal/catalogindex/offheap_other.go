//go:build !unix

package catalogindex

// mapAnon is plain heap memory where anonymous mappings are not used.
func mapAnon(n int) []byte { return make([]byte, n) }

func unmap([]byte) {}
