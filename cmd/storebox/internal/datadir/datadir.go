// Package datadir is what the CLI does straight in the data directory
// while no daemon runs: device records, the queue's figures and catalog
// imports. (With the daemon running the CLI goes through its local API:
// bbolt lets one process at a time open the store.)
package datadir

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/storebox/storebox/cmd/storebox/internal/report"
	"github.com/storebox/storebox/daemon/catalog"
	"github.com/storebox/storebox/daemon/config"
	"github.com/storebox/storebox/daemon/store"
	"github.com/storebox/storebox/daemon/store/admission"
)

func open(cfg *config.Config) (*store.Store, error) {
	return store.Open(cfg.DataDir, store.Options{Warehouse: cfg.Warehouse})
}

// Devices are the device records.
func Devices(cfg *config.Config) ([]admission.Device, error) {
	st, err := open(cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return admission.New(st).Devices()
}

// SetDeviceStatus approves or rejects (verb) device id.
func SetDeviceStatus(cfg *config.Config, id, verb string) (admission.Device, error) {
	st, err := open(cfg)
	if err != nil {
		return admission.Device{}, err
	}
	defer st.Close()
	status := admission.DeviceApproved
	if verb == "reject" {
		status = admission.DeviceRejected
	}
	return admission.New(st).SetDeviceStatus(id, status)
}

// ForgetPending deletes every pending device record.
func ForgetPending(cfg *config.Config) (int, error) {
	st, err := open(cfg)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	return admission.New(st).ForgetPending()
}

// Queue is the upstream queue's figures, those a stopped daemon has.
func Queue(cfg *config.Config) (report.SyncReport, error) {
	var rep report.SyncReport
	st, err := open(cfg)
	if err != nil {
		return rep, fmt.Errorf("daemon not running and the data directory cannot be read: %w", err)
	}
	qs, err := st.Outbox().QueueStats()
	st.Close()
	if err != nil {
		return rep, err
	}
	rep.Depth, rep.DeadLetters, rep.LastSeq = qs.Depth, qs.DeadLetters, qs.LastSeq
	if !qs.Oldest.IsZero() {
		rep.OldestAgeS = time.Since(qs.Oldest).Seconds()
	}
	return rep, nil
}

// ImportCatalog imports file in one transaction, showing progress on
// stderr, and says where it went.
func ImportCatalog(cfg *config.Config, file string, opts store.ImportOptions) (res store.ImportResult, where string, err error) {
	st, err := open(cfg)
	if err != nil {
		return res, "", fmt.Errorf("import %s: %w (nothing was changed)", file, err)
	}
	defer st.Close()
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("importing"), progressbar.OptionShowCount())
		defer bar.Finish()
		opts.Progress = func(n int) { bar.Set(n) }
	} else {
		opts.Progress = func(n int) {
			if n%100000 == 0 {
				fmt.Fprintf(os.Stderr, "imported %d rows\n", n)
			}
		}
	}
	res, err = catalog.ImportFile(st, file, opts)
	if err != nil {
		return res, "", fmt.Errorf("import %s: %w (nothing was changed)", file, err)
	}
	return res, "into " + st.Path(), nil
}
