package e2e

import (
	"context"
	"net"
	"time"
)

func splitHostPort(a string) (string, string, error) { return net.SplitHostPort(a) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
