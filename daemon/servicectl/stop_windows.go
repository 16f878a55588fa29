package servicectl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// stopBeforeRemove stops the storebox service unless it is stopped (or not
// installed) and waits until the SCM reports it stopped, up to ctx or 30 s.
func stopBeforeRemove(ctx context.Context) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open service %s: %w", Name, err)
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("query service %s: %w", Name, err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if st, err = s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("stop service %s: %w", Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for st.State != svc.Stopped {
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s did not stop within 30s (state %d)", Name, st.State)
		case <-time.After(100 * time.Millisecond):
		}
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("query service %s: %w", Name, err)
		}
	}
	return nil
}
